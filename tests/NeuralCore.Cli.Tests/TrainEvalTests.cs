using NeuralCore.Cli.Imaging;

namespace NeuralCore.CliTests;

public class TrainEvalTests
{
    [Fact]
    public void TrainVae_WritesEverything_AndEvalReloadsTheIdenticalLoss()
    {
        string dir = CliRunner.TempDir();
        var train = CliRunner.Run("train", "--model", "vae", "--epochs", "2", "--hidden", "64", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        foreach (var f in new[] { "model.safetensors", "model.json", "metrics.json", "loss.png", "reconstructions.png", "samples.png" })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} missing");
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        foreach (var png in Directory.GetFiles(dir, "*.png"))
            Assert.Equal(PngWriter.Signature.ToArray(), File.ReadAllBytes(png).Take(8).ToArray());

        double trained = CliRunner.NumberAfter(train.Out, "test loss per sample:");
        Assert.InRange(trained, 100, 250);   // two epochs of a small VAE on MNIST: well below the ~540 of an untrained one

        var eval = CliRunner.Run("eval", "--model", dir);
        Assert.True(eval.ExitCode == 0, eval.Error);
        Assert.Equal(trained, CliRunner.NumberAfter(eval.Out, "test loss per sample:"), 3);
    }

    [Fact]
    public void TrainingLossFalls_ForAConvAutoencoder()
    {
        string dir = CliRunner.TempDir();
        var train = CliRunner.Run("train", "--model", "conv-ae", "--epochs", "2", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        var history = metrics.RootElement.GetProperty("history").EnumerateArray().Select(e => e.GetProperty("test_loss").GetDouble()).ToArray();
        Assert.Equal(2, history.Length);
        Assert.True(history[1] < history[0], $"test loss did not fall: {string.Join(", ", history)}");
    }

    [Fact]
    public void Dae_EvalPrintsDenoisingImprovement()
    {
        string dir = CliRunner.TempDir();
        var train = CliRunner.Run("train", "--model", "dae", "--epochs", "5", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        var eval = CliRunner.Run("eval", "--model", dir);
        Assert.True(eval.ExitCode == 0, eval.Error);
        double noisy = CliRunner.NumberAfter(eval.Out, "noisy input MSE");
        double denoised = CliRunner.NumberAfter(eval.Out, "denoised MSE");
        Assert.True(denoised < noisy, eval.Out);
    }

    [Fact]
    public void TableTraining_OnWineCsv()
    {
        string dir = CliRunner.TempDir();
        string wine = Path.Combine(FindRepoRoot(), "data", "wine.csv");
        var train = CliRunner.Run("train", "--model", "ae", "--data", wine, "--drop", "class", "--epochs", "30", "--batch", "16", "--quiet", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        var eval = CliRunner.Run("eval", "--model", dir, "--data", wine, "--drop", "class");
        Assert.True(eval.ExitCode == 0, eval.Error);
        Assert.InRange(CliRunner.NumberAfter(eval.Out, "test loss per sample:"), 0, 1.0);   // summed squared error over 13 scaled columns
    }

    public static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NeuralCore.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root not found");
    }
}

public class BadInputTests
{
    [Theory]
    [InlineData(new[] { "train", "--model", "nope" }, "unknown model")]
    [InlineData(new[] { "train", "--data", "/no/such/file.csv" }, "not found")]
    [InlineData(new[] { "train", "--epochs", "ten" }, "--epochs expects an integer")]
    [InlineData(new[] { "train", "--bogus", "1" }, "unknown option --bogus")]
    [InlineData(new[] { "train", "--rng", "mt" }, "--rng must be pytorch or xoshiro, got 'mt'")]
    [InlineData(new[] { "eval", "--model", "/no/such/dir" }, "model directory not found")]
    [InlineData(new[] { "frobnicate" }, "unknown command")]
    [InlineData(new[] { "train", "--device", "cuda" }, "--device cuda")]
    [InlineData(new[] { "train", "--epochs", "1", "--out", "/proc/neuralcore-run" }, "cannot write in /proc")]
    [InlineData(new[] { "train", "--threads", "0" }, "--threads must be between 1 and 1024")]
    [InlineData(new[] { "train", "--device", "reference", "--threads", "2" }, "--threads sets the CPU threads of --device cpu")]
    public void OneLineError_NonZeroExit(string[] args, string expected)
    {
        var r = CliRunner.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(expected, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.Error);
    }

    [Fact]
    public void OneThread_TrainsTheSameModelAsEveryCore()
    {
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        string one = CliRunner.TempDir(), all = CliRunner.TempDir();
        var a = CliRunner.Run("train", "--model", "vae", "--data", wine, "--drop", "class", "--epochs", "2", "--batch", "16", "--quiet", "--threads", "1", "--out", one);
        Assert.True(a.ExitCode == 0, a.Error);
        var b = CliRunner.Run("train", "--model", "vae", "--data", wine, "--drop", "class", "--epochs", "2", "--batch", "16", "--quiet", "--out", all);
        Assert.True(b.ExitCode == 0, b.Error);
        Assert.Equal(File.ReadAllBytes(Path.Combine(all, "model.safetensors")), File.ReadAllBytes(Path.Combine(one, "model.safetensors")));
    }

    [Fact]
    public void OneThread_TrainsTheSameConvolutionalModelAsEveryCore()
    {
        // conv weight gradients sum the batch in parts fixed by the batch size, not by the thread count
        string one = CliRunner.TempDir(), all = CliRunner.TempDir();
        var a = CliRunner.Run("train", "--model", "conv-ae", "--epochs", "1", "--quiet", "--threads", "1", "--out", one);
        Assert.True(a.ExitCode == 0, a.Error);
        var b = CliRunner.Run("train", "--model", "conv-ae", "--epochs", "1", "--quiet", "--out", all);
        Assert.True(b.ExitCode == 0, b.Error);
        Assert.Equal(File.ReadAllBytes(Path.Combine(all, "model.safetensors")), File.ReadAllBytes(Path.Combine(one, "model.safetensors")));
    }

    [Fact]
    public void Bench_PrintsTheKernelTable_AndTheEndToEndWorkloads()
    {
        var r = CliRunner.Run("bench", "--quick", "--epochs", "1");
        Assert.True(r.ExitCode == 0, r.Error);
        foreach (string row in new[] { "| sgemm_256x256x256 |", "| conv2_bwd_weight |", "| adam_128x784 |", "| vae: MLP VAE 784-400-20 |", "| convae: conv AE" })
            Assert.Contains(row, r.Out);
        // one epoch of the VAE from seed 0: the same test loss as `neuralcore train --model vae --epochs 1`
        var train = CliRunner.Run("train", "--model", "vae", "--epochs", "1", "--quiet", "--out", CliRunner.TempDir());
        string loss = CliRunner.NumberAfter(train.Out, "test loss per sample:").ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($@"\| vae: MLP VAE 784-400-20 \| [0-9.]+ \| [0-9.]+ \| {System.Text.RegularExpressions.Regex.Escape(loss)} \|", r.Out);
        // the VAE's matrix-product rate: 784-400-(20, 20)-400-784 over 8,000 rows, forward and backward, no input gradient
        Assert.Matches(@"\| vae: MLP VAE 784-400-20 \|.*\| [0-9]+ \([0-9]+%\) of 26\.24 GFLOP/epoch \|", r.Out);
    }

    [Fact]
    public void BenchBatch1_TimesTheRowPath_WhichAllocatesNothing()
    {
        var r = CliRunner.Run("bench", "--batch1", "--quick", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"\| RowInference\.Reconstruct \(span in, span out\) \| [0-9.]+ \| [0-9.]+ \| 0 \|", r.Out);
        Assert.Matches(@"\| Autoencoder\.Forward, batch of 1 \(tensors\) \| [0-9.]+ \| [0-9.]+ \| [0-9,]+ \|", r.Out);
    }

    [Fact]
    public void OutUnderAFile_FailsBeforeTraining()
    {
        string file = Path.Combine(CliRunner.TempDir(), "not-a-dir");
        File.WriteAllText(file, "x");
        var r = CliRunner.Run("train", "--epochs", "1", "--out", Path.Combine(file, "run"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: --out {Path.Combine(file, "run")}: {file} is a file, not a directory; choose another --out", r.Error.Trim());
        Assert.Equal("x", File.ReadAllText(file));
    }

    [Fact]
    public void NotAnIdxOrCsvFile_IsRejected()
    {
        string dir = CliRunner.TempDir();
        string file = Path.Combine(dir, "notes.txt");
        File.WriteAllText(file, "hello");
        var r = CliRunner.Run("train", "--data", file, "--out", dir);
        Assert.NotEqual(0, r.ExitCode);
        Assert.StartsWith("error:", r.Error);

        string badDir = Path.Combine(dir, "idx");
        Directory.CreateDirectory(badDir);
        File.WriteAllText(Path.Combine(badDir, "train-images-idx3-ubyte"), "not idx at all");
        r = CliRunner.Run("train", "--data", badDir, "--out", dir);
        Assert.NotEqual(0, r.ExitCode);
        Assert.StartsWith("error:", r.Error);
    }

    [Fact]
    public void CsvWithTextInANumericColumn_IsRejected()
    {
        string dir = CliRunner.TempDir();
        string file = Path.Combine(dir, "t.csv");
        File.WriteAllText(file, "a,b\n1,2\n3,hello\n");
        var r = CliRunner.Run("train", "--model", "ae", "--data", file, "--out", dir);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("hello", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Fact]
    public void HelpOnEveryCommand()
    {
        foreach (var command in new[] { "train", "eval", "graph", "gradcheck", "impute", "encode", "detect", "sample", "interpolate", "bench", "ptx" })
        {
            var r = CliRunner.Run(command, "--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("usage: neuralcore " + command, r.Out);
        }
    }
}

public class ModelStoreConsistencyTests
{
    [Fact]
    public void WeightsFromAnotherRun_NextToThisModelJson_AreRefused()
    {
        string a = CliRunner.TempDir(), b = CliRunner.TempDir();
        Assert.Equal(0, CliRunner.Run("train", "--model", "ae", "--epochs", "0", "--latent", "8", "--hidden", "32", "--quiet", "--out", a).ExitCode);
        Assert.Equal(0, CliRunner.Run("train", "--model", "ae", "--epochs", "0", "--latent", "8", "--hidden", "32", "--beta", "2", "--quiet", "--out", b).ExitCode);
        // same shapes, different spec: a crash between the two writes of a save would leave exactly this
        File.Copy(Path.Combine(b, "model.safetensors"), Path.Combine(a, "model.safetensors"), overwrite: true);
        var r = CliRunner.Run("eval", "--model", a);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("does not describe the weights", r.Error);
    }
}
