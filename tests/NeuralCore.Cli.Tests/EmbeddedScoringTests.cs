using System.Globalization;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Training;
using NeuralCore.Samples.EmbeddedScoring;

namespace NeuralCore.CliTests;

/// <summary>The embedded sample (samples/EmbeddedScoring) run in-process: same scores as `neuralcore detect`, one-line errors.</summary>
public class EmbeddedScoringTests
{
    private static (int Code, string Out, string Error) RunSample(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = ScoringApp.Run(args, new StringReader(stdin), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static double[] Scores(string csv) =>
        csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Scores_MatchDetect_FromCsvAndFromStdin()
    {
        string dir = CliRunner.TempDir();
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        var train = CliRunner.Run("train", "--model", "ae", "--data", wine, "--drop", "class", "--epochs", "5", "--batch", "16", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        string detectCsv = Path.Combine(dir, "detect.csv");
        var detect = CliRunner.Run("detect", "--model", dir, "--data", wine, "--drop", "class", "--out", detectCsv);
        Assert.True(detect.ExitCode == 0, detect.Error);
        double[] expected = Scores(File.ReadAllText(detectCsv));
        Assert.Equal(178, expected.Length);

        var fromCsv = RunSample("", "--model", dir, "--csv", wine, "--drop", "class", "--embed");
        Assert.True(fromCsv.Code == 0, fromCsv.Error);
        Assert.StartsWith("row,score,z0,z1,z2\n", fromCsv.Out);
        double[] actual = Scores(fromCsv.Out);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6 + 1e-5 * expected[i]);

        string rows = string.Join("\n", File.ReadAllLines(wine).Skip(1).Take(10).Select(l => string.Join(",", l.Split(',').Take(13))));
        var fromStdin = RunSample(rows, "--model", dir);
        Assert.True(fromStdin.Code == 0, fromStdin.Error);
        Assert.Equal(actual.Take(10), Scores(fromStdin.Out));
        // rows from stdin go through the one-row span path: scores and embeddings print the same digits as the batch
        var stdinEmbed = RunSample(rows, "--model", dir, "--embed");
        Assert.True(stdinEmbed.Code == 0, stdinEmbed.Error);
        Assert.Equal(fromCsv.Out.Split('\n').Take(11), stdinEmbed.Out.Split('\n').Take(11));
    }

    [Fact]
    public void Bench_TimesTheModelOnMnist_AndPrintsOneJsonLine()
    {
        string dir = CliRunner.TempDir();
        var train = CliRunner.Run("train", "--model", "ae", "--hidden", "32", "--latent", "4", "--epochs", "1", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        string mnist = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "mnist-10k");
        var bench = RunSample("", "--bench", "--model", dir, "--mnist", mnist, "--threads", "2");
        Assert.True(bench.Code == 0, bench.Error);
        using var json = System.Text.Json.JsonDocument.Parse(bench.Out);
        var r = json.RootElement;
        Assert.Equal(("neuralcore", 2, 2000), (r.GetProperty("engine").GetString(), r.GetProperty("threads").GetInt32(), r.GetProperty("rows").GetInt32()));
        double p50 = r.GetProperty("batch1_p50_us").GetDouble(), p99 = r.GetProperty("batch1_p99_us").GetDouble();
        Assert.True(p50 > 0 && p99 >= p50, bench.Out);
        Assert.True(r.GetProperty("batch64_rows_per_s").GetDouble() > 0 && r.GetProperty("batch1024_rows_per_s").GetDouble() > 0, bench.Out);
        Assert.True(r.GetProperty("first_row_mse").GetDouble() is > 0 and < 1, bench.Out);

        Assert.Equal(2, RunSample("", "--bench", "--model", dir).Code);                        // no rows to time
        Assert.Equal(2, RunSample("", "--model", dir, "--threads", "2").Code);                 // threads only for the bench
    }

    [Fact]
    public void EmbeddedModel_IsTheCommittedFile_AndScoresLikeDetect()
    {
        string root = TrainEvalTests.FindRepoRoot();
        byte[] committed = File.ReadAllBytes(Path.Combine(root, "samples", "EmbeddedScoring", "wine-ae.safetensors"));
        using (var resource = typeof(ScoringApp).Assembly.GetManifestResourceStream(ScoringApp.EmbeddedModelName))
        {
            Assert.NotNull(resource);
            var copy = new MemoryStream();
            resource.CopyTo(copy);
            Assert.Equal(committed, copy.ToArray());
        }

        // A model directory with the same weights for `neuralcore detect`: saving the model loaded from the bytes writes
        // the same bytes back, so detect and the sample score with bit-identical parameters.
        string dir = CliRunner.TempDir();
        ModelStore.Save(ModelStore.Load(committed, new CpuBackend()), dir);
        Assert.Equal(committed, File.ReadAllBytes(Path.Combine(dir, ModelStore.WeightsFile)));
        string wine = Path.Combine(root, "data", "wine.csv");
        string detectCsv = Path.Combine(dir, "detect.csv");
        var detect = CliRunner.Run("detect", "--model", dir, "--data", wine, "--drop", "class", "--out", detectCsv);
        Assert.True(detect.ExitCode == 0, detect.Error);
        double[] expected = Scores(File.ReadAllText(detectCsv));

        var embedded = RunSample("", "--embedded", "--csv", wine, "--drop", "class", "--embed");
        Assert.True(embedded.Code == 0, embedded.Error);
        Assert.StartsWith("row,score,z0,z1,z2\n", embedded.Out);
        Assert.Equal(RunSample("", "--model", dir, "--csv", wine, "--drop", "class", "--embed").Out, embedded.Out);
        double[] actual = Scores(embedded.Out);
        Assert.Equal(178, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6 + 1e-5 * expected[i]);

        Assert.Contains("--embedded", RunSample("", "--help").Out);
    }

    [Theory]
    [InlineData(1, "model directory not found", "--model", "/no/such/model")]
    [InlineData(2, "--model DIR is required")]
    [InlineData(2, "either --model DIR or --embedded, not both", "--model", "x", "--embedded")]
    [InlineData(2, "unknown argument '--bogus'", "--model", "x", "--bogus")]
    [InlineData(2, "--limit expects a positive integer", "--model", "x", "--mnist", "y", "--limit", "0")]
    public void BadInput_IsOneLineError(int exitCode, string message, params string[] args)
    {
        var run = RunSample("", args);
        Assert.Equal(exitCode, run.Code);
        Assert.Contains(message, run.Error);
        Assert.Single(run.Error.TrimEnd().Split('\n'));
        Assert.Equal("", run.Out);
    }
}
