using System.Diagnostics;
using System.Text.Json;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>Checkpoints, hard kills, Ctrl-C, resume, and guarded numerics of `neuralcore train` (the run itself is TrainingRun's, tested in NeuralCore.Models.Tests).</summary>
public class ResumeTests
{
    private static readonly string[] SmallRun = ["train", "--model", "ae", "--hidden", "32", "--latent", "8", "--epochs", "3", "--batch", "2", "--quiet"];

    [Fact]
    public void KilledMidEpoch_ResumeEndsWithTheSameModelAsAnUninterruptedRun()
    {
        string reference = CliRunner.TempDir(), killed = CliRunner.TempDir();
        var uninterrupted = CliRunner.Run([.. SmallRun, "--out", reference]);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Error);

        // The same run in its own process, killed hard a little into the epoch after its first checkpoint.
        string checkpoint = Path.Combine(killed, Checkpoint.FileName);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. SmallRun, "--out", killed]) start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
            Assert.True(File.Exists(checkpoint), "no checkpoint appeared: " + (process.HasExited ? process.StandardError.ReadToEnd() : "timeout"));
            Thread.Sleep(100);
            Assert.False(process.HasExited, "the run finished before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Assert.False(File.Exists(Path.Combine(killed, ModelStore.WeightsFile)), "the killed run wrote its final model");
        int epochAtKill = Checkpoint.Load(checkpoint).Epoch;
        Assert.InRange(epochAtKill, 1, 2);

        var resumed = CliRunner.Run("train", "--resume", killed, "--quiet");
        Assert.True(resumed.ExitCode == 0, resumed.Error);

        var expected = SafeTensors.Read(Path.Combine(reference, ModelStore.WeightsFile));
        var actual = SafeTensors.Read(Path.Combine(killed, ModelStore.WeightsFile));
        Assert.Equal(expected.Names, actual.Names);
        foreach (string name in expected.Names)
        {
            Assert.Equal(expected.Tensors[name].Shape, actual.Tensors[name].Shape);
            Assert.True(Bits(expected.Tensors[name].Data).SequenceEqual(Bits(actual.Tensors[name].Data)), $"{name} differs after resuming from epoch {epochAtKill}");
        }
        Assert.Equal(TrainLosses(reference), TrainLosses(killed));   // metrics.json covers every epoch, before and after the kill
        Assert.Equal(3, TrainLosses(killed).Length);
        Assert.Empty(Directory.GetFiles(killed, "*.tmp"));
    }

    [Fact]
    public async Task CtrlC_SaysWhichEpochIsSaved_AndHowToResume()
    {
        if (!OperatingSystem.IsLinux()) return;   // SIGINT is sent with kill(1)
        string dir = CliRunner.TempDir();
        string checkpoint = Path.Combine(dir, Checkpoint.FileName);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. SmallRun, "--out", dir]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
        Assert.True(File.Exists(checkpoint), "no checkpoint appeared");
        Assert.False(process.HasExited, "the run finished before it could be interrupted");
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) kill.WaitForExit();
        Assert.True(process.WaitForExit(30_000), "the run did not stop on SIGINT");
        string error = await stderr;
        Assert.Equal(130, process.ExitCode);   // 128 + SIGINT, as a shell reports a process ended by Ctrl-C
        var interrupted = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Matches(@"^interrupted in epoch [23]; epoch [12] is saved in .*checkpoint\.safetensors: continue with `neuralcore train --resume ", interrupted);
        int saved = Checkpoint.Load(checkpoint).Epoch;
        Assert.InRange(saved, 1, 2);
        Assert.Contains($"epoch {saved} is saved", interrupted);   // the line names the epoch the checkpoint holds
        Assert.False(File.Exists(Path.Combine(dir, ModelStore.WeightsFile)), "an interrupted run wrote its final model");
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var resumed = CliRunner.Run("train", "--resume", dir, "--quiet");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal(3, TrainLosses(dir).Length);
    }

    [Fact]
    public void ResumeWithMoreEpochs_ContinuesTheHistory()
    {
        string dir = CliRunner.TempDir();
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        var first = CliRunner.Run("train", "--model", "vae", "--data", wine, "--drop", "class", "--epochs", "2", "--batch", "16", "--quiet", "--out", dir);
        Assert.True(first.ExitCode == 0, first.Error);
        var more = CliRunner.Run("train", "--resume", dir, "--epochs", "5", "--quiet");
        Assert.True(more.ExitCode == 0, more.Error);
        Assert.Equal(5, TrainLosses(dir).Length);
        Assert.Equal(5, Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName)).Epoch);

        var fixedOption = CliRunner.Run("train", "--resume", dir, "--lr", "0.1");
        Assert.Equal(2, fixedOption.ExitCode);
        Assert.Contains("--lr cannot be combined with --resume", fixedOption.Error);

        // fewer epochs than already trained: refused, nothing changes
        byte[] weights = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        var fewer = CliRunner.Run("train", "--resume", dir, "--epochs", "3");
        Assert.Equal(2, fewer.ExitCode);
        Assert.Contains("--epochs 3 is fewer than the 5 epochs", fewer.Error);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));

        // a finished run: says so, trains nothing, writes the same model again
        var done = CliRunner.Run("train", "--resume", dir);
        Assert.True(done.ExitCode == 0, done.Error);
        Assert.Contains("all 5 epochs", done.Out);
        Assert.Equal(5, TrainLosses(dir).Length);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
    }

    [Fact]
    public void DivergingFromTheStart_FailsWithOneLine_AndWritesNothing()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "run");
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        var r = CliRunner.Run("train", "--model", "ae", "--data", wine, "--drop", "class", "--optimizer", "sgd", "--lr", "100", "--epochs", "3", "--quiet", "--out", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Matches(@"^error: (test )?loss became (NaN|-?∞|-?Infinity|[0-9.]+E\+[0-9]+) ", r.Error);
        Assert.Contains("epoch 1", r.Error);
        Assert.Contains("lower the learning rate", r.Error);
        Assert.False(Directory.Exists(dir), "a diverged first epoch left files behind");
    }

    [Fact]
    public void DivergingLater_KeepsTheLastGoodCheckpoint_AndTheOldModel()
    {
        string dir = CliRunner.TempDir();
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        var good = CliRunner.Run("train", "--model", "ae", "--data", wine, "--drop", "class", "--optimizer", "sgd", "--lr", "0.01", "--epochs", "1", "--quiet", "--out", dir);
        Assert.True(good.ExitCode == 0, good.Error);

        // Raise the checkpoint's learning rate to 1e6 so that the next epoch of the same run blows up.
        string path = Path.Combine(dir, Checkpoint.FileName);
        var file = SafeTensors.Read(path);
        var metadata = file.Metadata.ToDictionary();
        metadata["training_options"] = metadata["training_options"].Replace("\"lr\":0.01", "\"lr\":1000000");
        SafeTensors.Write(path, file.Names.Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data)).ToList(), metadata);
        var before = Snapshot(dir);

        var r = CliRunner.Run("train", "--resume", dir, "--epochs", "3", "--quiet");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Contains("epoch 2", r.Error);
        Assert.Contains($"the checkpoint of epoch 1 is kept in {path}", r.Error);
        Assert.Equal(before, Snapshot(dir));   // checkpoint, model, metrics and pictures untouched; no temp files
        Assert.Equal(1, Checkpoint.Load(path).Epoch);
    }

    private static Dictionary<string, string> Snapshot(string dir) =>
        Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static double[] TrainLosses(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        return doc.RootElement.GetProperty("history").EnumerateArray().Select(e => e.GetProperty("train_loss").GetDouble()).ToArray();
    }
}
