using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>Commands stop with one line when weights, losses or filled cells are not finite numbers; nothing is written.</summary>
public class NonFiniteCommandTests
{
    /// <summary>A table model in DIR/m trained on DIR/t.csv, with <paramref name="value"/> put into one weight.</summary>
    private static (string Model, string Csv) PoisonedModel(string dir, float value)
    {
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,5,2\n");
        string model = Path.Combine(dir, "m");
        var r = CliRunner.Run("train", "--model", "ae", "--data", csv, "--hidden", "4", "--latent", "3", "--epochs", "1", "--out", model, "--quiet");
        Assert.True(r.ExitCode == 0, r.Error);
        string weights = Path.Combine(model, ModelStore.WeightsFile);
        var file = SafeTensors.Read(weights);
        file.Tensors["decoder.0.weight"].Data[2] = value;
        SafeTensors.Write(weights, file.Names.Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data)).ToList(), file.Metadata);
        return (model, csv);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("detect")]
    [InlineData("encode")]
    [InlineData("eval-inf")]
    public void AModelWithANonFiniteWeight_IsRefusedByEveryCommandThatLoadsIt(string command)
    {
        string dir = CliRunner.TempDir();
        bool inf = command.EndsWith("-inf", StringComparison.Ordinal);
        var (model, csv) = PoisonedModel(dir, inf ? float.NegativeInfinity : float.NaN);
        string output = Path.Combine(dir, "out.csv");
        string[] args = command.Split('-')[0] == "eval" ? ["eval", "--model", model, "--data", csv] : [command, "--model", model, "--data", csv, "--out", output];
        var r = CliRunner.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: {Path.Combine(model, ModelStore.WeightsFile)}: tensor 'decoder.0.weight' holds {(inf ? "-Infinity" : "NaN")} at index 2; " +
                     "the weights are damaged or come from a run that diverged; train the model again", r.Error.Trim());
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("sgd", "100")]
    [InlineData("sgd", "30")]
    public void ATrainingRunWhoseLossExplodes_StopsWithTheHint_AndSavesNoModel(string optimizer, string lr)
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n" + string.Join("\n", Enumerable.Range(0, 40).Select(i => $"{i % 7},{(i * 13) % 11}")) + "\n");
        string outDir = Path.Combine(dir, "out");
        var r = CliRunner.Run("train", "--model", "ae", "--data", csv, "--optimizer", optimizer, "--lr", lr, "--hidden", "256,256", "--epochs", "5", "--batch", "4", "--out", outDir, "--quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"lower the learning rate (--lr, now {lr})", r.Error);
        Assert.DoesNotContain('\n', r.Error.Trim());
        Assert.False(File.Exists(Path.Combine(outDir, ModelStore.WeightsFile)));
        Assert.False(File.Exists(Path.Combine(outDir, ModelStore.SpecFile)));
    }

    [Fact]
    public void SgdWithAHugeRate_AlwaysDiverges()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,1\n2,2\n4,4\n");
        var r = CliRunner.Run("train", "--model", "ae", "--data", csv, "--optimizer", "sgd", "--lr", "100", "--epochs", "3", "--out", Path.Combine(dir, "out"), "--quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Matches("^error: (test )?loss became ([-+0-9.E]+|NaN|-?Infinity) ", r.Error);
        Assert.False(File.Exists(Path.Combine(dir, "out", ModelStore.WeightsFile)));
    }

    [Theory]
    [InlineData("a,b,c\n-3e38,2,3\n4,,6\n3e38,8,9\n1,5,2\n", new string[0], "column 0 spans -3E+38 to 3E+38")]
    [InlineData("a,b,c\n1,2,3\n4,,6\n7,8,9\n1,5,2\n", new[] { "--lr", "100" }, "lower the learning rate (--lr, now 100)")]
    public void ImputeNeverWritesANonFiniteValue(string table, string[] options, string expected)
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, table);
        string output = Path.Combine(dir, "o.csv");
        var r = CliRunner.Run(["impute", "--data", csv, "--out", output, .. options]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Error);
        Assert.Contains(expected, r.Error);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ImputedCells_AreFiniteNumbers()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b,c\n1,2,3\n4,,6\n7,8,nan\n1,5,2\n");
        string output = Path.Combine(dir, "o.csv");
        var r = CliRunner.Run("impute", "--data", csv, "--out", output, "--epochs", "5");
        Assert.True(r.ExitCode == 0, r.Error);
        var filled = CsvTable.Read(output);
        Assert.Equal(0, filled.MissingCount);
        Assert.All(filled.Values, v => Assert.True(float.IsFinite(v)));
    }
}
