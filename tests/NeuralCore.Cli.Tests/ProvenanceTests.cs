using System.Diagnostics;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>A model remembers which data it was trained on (absolute path and SHA-256) and refuses to pass other data off as it.</summary>
public class ProvenanceTests
{
    private const string Table = "a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,5,2\n2,2,2\n";

    /// <summary>Runs `neuralcore` in its own process with <paramref name="workingDirectory"/> as the current directory.</summary>
    private static (int ExitCode, string Error) RunIn(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. args]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        _ = stdout.Result;
        return (process.ExitCode, error);
    }

    private static string Train(string dir, string csv, params string[] extra)
    {
        string model = Path.Combine(dir, "m");
        var r = CliRunner.Run(["train", "--model", "ae", "--data", csv, "--hidden", "4", "--latent", "2", "--epochs", "2", "--out", model, "--quiet", .. extra]);
        Assert.True(r.ExitCode == 0, r.Error);
        return model;
    }

    [Fact]
    public void ARelativeDataPath_IsStoredAbsolute_WithTheDataHash_SoEvalFromAnotherDirectoryScoresTheSameFile()
    {
        string dir = CliRunner.TempDir(), elsewhere = CliRunner.TempDir();
        File.WriteAllText(Path.Combine(dir, "t.csv"), Table);
        File.WriteAllText(Path.Combine(elsewhere, "t.csv"), "a,b,c\n9,9,9\n0,0,0\n");   // a decoy with the same name
        var trained = RunIn(dir, "train", "--model", "ae", "--data", "t.csv", "--hidden", "4", "--latent", "2", "--epochs", "1", "--out", "m", "--quiet");
        Assert.True(trained.ExitCode == 0, trained.Error);
        var spec = ModelStore.LoadSpec(Path.Combine(dir, "m"));
        Assert.Equal(Path.Combine(dir, "t.csv"), spec.Data);
        Assert.Equal(DataFingerprint.Sha256(Path.Combine(dir, "t.csv")), spec.DataSha256);
        Assert.Matches("^[0-9a-f]{64}$", spec.DataSha256);

        var eval = RunIn(elsewhere, "eval", "--model", Path.Combine(dir, "m"));
        Assert.True(eval.ExitCode == 0, eval.Error);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("detect")]
    [InlineData("encode")]
    public void CommandsThatDefaultToTheTrainingData_RefuseItWhenItChanged(string command)
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, Table);
        string model = Train(dir, csv);
        string[] output = command == "eval" ? [] : ["--out", Path.Combine(dir, "o.csv")];
        Assert.Equal(0, CliRunner.Run([command, "--model", model, .. output]).ExitCode);

        File.WriteAllText(csv, Table.Replace("4,5,6", "4,5,7"));   // same columns and ranges, other values
        var r = CliRunner.Run([command, "--model", model, .. output]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: --data not given, so the model's training data is used, but {csv} has changed since training (SHA-256 ", r.Error);
        Assert.Contains("pass --data explicitly", r.Error);
        Assert.Equal(0, CliRunner.Run([command, "--model", model, "--data", csv, .. output]).ExitCode);   // asked for by name: used as it is
    }

    [Fact]
    public void ResumingAfterTheDataChangedWithinTheSameRanges_IsRefused()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, Table);
        string run = Path.Combine(dir, "run");
        var first = CliRunner.Run("train", "--model", "ae", "--data", csv, "--hidden", "4", "--latent", "2", "--epochs", "1", "--out", run, "--quiet");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal(DataFingerprint.Sha256(csv), Checkpoint.Load(Path.Combine(run, Checkpoint.FileName)).Extra["data_sha256"]);

        File.WriteAllText(csv, Table.Replace("1,5,2", "2,5,1"));
        var r = CliRunner.Run("train", "--resume", run, "--epochs", "2", "--quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{Path.Combine(run, Checkpoint.FileName)}: the data of the run, {csv} has changed since training", r.Error);
        Assert.Contains("start a new run without --resume", r.Error);

        File.WriteAllText(csv, Table);   // the same bytes again: the run goes on
        var resumed = CliRunner.Run("train", "--resume", run, "--epochs", "2", "--quiet");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
    }

    [Theory]
    [InlineData("0.5")]
    [InlineData("2.25")]
    [InlineData("1e20")]
    [InlineData("-3.5")]
    public void ALabelThatIsNotAWholeNumber_IsRefusedInsteadOfTruncated(string label)
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, $"a,b,y\n1,2,0\n3,4,{label}\n5,6,1\n2,2,1\n");
        var r = CliRunner.Run("train", "--model", "ae", "--data", csv, "--label-column", "y", "--epochs", "1", "--out", Path.Combine(dir, "m"), "--quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{csv}: label column 'y' holds ", r.Error);
        Assert.Contains("in data row 2; labels are classes and must be whole numbers", r.Error);
    }

    [Fact]
    public void WholeNumberLabels_WrittenAsDecimals_AreKept()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b,y\n1,2,3.0\n3,4,7\n5,6,7.00\n2,2,-2\n4,1,3\n");
        string model = Train(dir, csv, "--label-column", "y");
        string scores = Path.Combine(dir, "s.csv");
        var r = CliRunner.Run("detect", "--model", model, "--data", csv, "--label-column", "y", "--normal-value", "7", "--out", scores);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal([3f, 7f, 7f, -2f, 3f], CsvTable.Read(scores, labelColumn: "label").Labels!);
    }
}
