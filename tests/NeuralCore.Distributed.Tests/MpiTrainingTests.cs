using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Distributed.Tests;

/// <summary>
/// `neuralcore train` under `mpirun --oversubscribe -np N` on this machine (loopback): the same bits as one process with
/// the same gradient shards, each rank computing only its shards, a killed or hung rank stopping the job, and a resume
/// under MPI continuing to the same bits.
/// </summary>
public partial class MpiTrainingTests
{
    private const int Shards = 6;

    private static List<string> Args(string model, string data, string outDir, int epochs, int batch = 64) =>
        ["train", "--model", model, "--data", data, "--epochs", epochs.ToString(), "--batch", batch.ToString(), "--threads", "1", "--out", outDir];

    [Theory]
    [InlineData("vae")]
    [InlineData("conv-ae")]
    public void TwoAndThreeProcesses_EndBitIdenticalToOneWithTheSameShards_EachComputingItsShare(string model)
    {
        if (MpiRunner.Skip()) return;
        string data = MpiRunner.Small;
        string alone = MpiRunner.TempDir();
        var single = MpiRunner.Run(0, [.. Args(model, data, alone, 2), "--grad-shards", Shards.ToString()]);
        Assert.True(single.ExitCode == 0, single.Output);
        Assert.Equal(1, Metrics(alone).GetProperty("world_size").GetInt32());

        foreach (int processes in (int[])[2, 3])
        {
            string dir = MpiRunner.TempDir();
            var run = MpiRunner.Run(processes, Args(model, data, dir, 2));   // 6 shards is the default under mpirun
            Assert.True(run.ExitCode == 0, run.Output);
            Assert.Contains($"world_size {processes} (gradient in {Shards} shards)", run.Output);
            AssertSameWeights(alone, dir, $"{model} on {processes} processes");
            var metrics = Metrics(dir);
            Assert.Equal(processes, metrics.GetProperty("world_size").GetInt32());
            Assert.Equal(Shards, metrics.GetProperty("grad_shards").GetInt32());
            Assert.Equal(Metrics(alone).GetProperty("test_loss_per_sample").GetDouble(), metrics.GetProperty("test_loss_per_sample").GetDouble());

            // each rank computed exactly the rows of its shards of every batch (500 rows: 7 batches of 64 and one of 52)
            var computed = RankLine().Matches(run.Output).ToDictionary(m => int.Parse(m.Groups[1].Value), m => (Rows: long.Parse(m.Groups[3].Value), Of: long.Parse(m.Groups[4].Value)));
            Assert.Equal(Enumerable.Range(0, processes), computed.Keys.Order());
            for (int rank = 0; rank < processes; rank++)
            {
                Assert.Equal(2 * 500, computed[rank].Of);
                Assert.Equal(2 * ExpectedRows(500, 64, rank, processes), computed[rank].Rows);
            }
            Assert.Equal(2 * 500, computed.Values.Sum(c => c.Rows));
        }
    }

    [Fact]
    public void KilledRank_StopsTheJobWithinAMinute_KeepsTheCheckpoint_AndAResumeUnderMpiEndsWithTheSameBits()
    {
        if (MpiRunner.Skip()) return;
        string data = MpiRunner.Medium;
        string reference = MpiRunner.TempDir(), dir = MpiRunner.TempDir();
        var uninterrupted = MpiRunner.Run(0, [.. Args("vae", data, reference, 3), "--grad-shards", Shards.ToString()]);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Output);

        string checkpoint = Path.Combine(dir, Checkpoint.FileName);
        using (var job = MpiRunner.Start(2, Args("vae", data, dir, 3)))
        {
            var output = MpiRunner.Collect(job);
            try
            {
                var clock = Stopwatch.StartNew();
                while (!File.Exists(checkpoint) && !job.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
                Assert.True(File.Exists(checkpoint), "no checkpoint appeared: " + output);
                Thread.Sleep(150);   // into the second epoch
                var ranks = MpiRunner.Ranks(job);
                Assert.True(ranks.ContainsKey(1), $"rank 1 not found among mpirun's children ({string.Join(", ", ranks)})");
                Process.GetProcessById(ranks[1]).Kill();   // SIGKILL
                var killed = Stopwatch.StartNew();
                Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not stop within 60 s of a rank's death: " + output);
                job.WaitForExit();
                Assert.NotEqual(0, job.ExitCode);
                Assert.True(killed.Elapsed < TimeSpan.FromSeconds(60));
                // Open MPI's mpirun names the rank that died, in one line
                Assert.Matches(@"process rank 1 with PID \d+ on node \S+ exited on signal 9", output.ToString());
            }
            finally { if (!job.HasExited) job.Kill(entireProcessTree: true); }
        }
        Assert.False(File.Exists(Path.Combine(dir, ModelStore.WeightsFile)), "the killed run wrote its final model");
        int epochAtKill = Checkpoint.Load(checkpoint).Epoch;   // intact: it loads and validates
        Assert.InRange(epochAtKill, 1, 2);

        // resumed on three processes: the bits do not depend on the number
        var resumed = MpiRunner.Run(3, ["train", "--resume", dir, "--threads", "1"]);
        Assert.True(resumed.ExitCode == 0, resumed.Output);
        AssertSameWeights(reference, dir, $"resumed from epoch {epochAtKill} on 3 processes");
        Assert.Equal(3, Metrics(dir).GetProperty("history").GetArrayLength());
    }

    [Fact]
    public void HungRank_StopsTheJob_WithOneLineNamingIt()
    {
        if (MpiRunner.Skip()) return;
        string dir = MpiRunner.TempDir();
        using var job = MpiRunner.Start(2, Args("vae", MpiRunner.Small, dir, 200), new Dictionary<string, string> { [MpiWorld.TimeoutVariable] = "5" });
        var output = MpiRunner.Collect(job);
        int? stopped = null;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(dir, Checkpoint.FileName)) && !job.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
            var ranks = MpiRunner.Ranks(job);
            Assert.True(ranks.ContainsKey(1), "rank 1 not found: " + output);
            stopped = ranks[1];
            Signal(ranks[1], "STOP");   // a peer that hangs: alive, but never answers
            Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "the job did not stop within 60 s of a hung rank: " + output);
            job.WaitForExit();
            Assert.NotEqual(0, job.ExitCode);
            string[] errors = [.. output.ToString().Split('\n').Where(line => line.StartsWith("error: ", StringComparison.Ordinal))];
            var error = Assert.Single(errors);
            Assert.Matches(@"^error: MPI rank 0 of 2: rank 1 (stopped answering|did not reach) .*; stopping the job", error.TrimEnd());
        }
        finally
        {
            if (!job.HasExited) job.Kill(entireProcessTree: true);
            if (stopped is { } pid) { try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } }   // gone already
        }
    }

    /// <summary>Rows rank <paramref name="rank"/> of <paramref name="processes"/> computes in one epoch: its shards of every batch.</summary>
    private static long ExpectedRows(int count, int batch, int rank, int processes)
    {
        var (first, owned) = GradientShards.Owned(Shards, rank, processes);
        long rows = 0;
        for (int start = 0; start < count; start += batch)
            for (int shard = first; shard < first + owned; shard++) rows += GradientShards.Rows(Math.Min(batch, count - start), Shards, shard).Count;
        return rows;
    }

    private static void AssertSameWeights(string expectedDir, string actualDir, string what)
    {
        var expected = SafeTensors.Read(Path.Combine(expectedDir, ModelStore.WeightsFile));
        var actual = SafeTensors.Read(Path.Combine(actualDir, ModelStore.WeightsFile));
        Assert.Equal(expected.Names, actual.Names);
        foreach (string name in expected.Names)
        {
            var a = expected.Tensors[name].Data;
            var b = actual.Tensors[name].Data;
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++)
                if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                    Assert.Fail($"{what}: {name}[{i}] is {b[i]:R}, one process gives {a[i]:R}");
        }
    }

    private static JsonElement Metrics(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json"))).RootElement.Clone();

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString()]);
        kill.WaitForExit();
    }

    [GeneratedRegex(@"rank (\d+) of (\d+): computed (\d+) of (\d+) training rows")]
    private static partial Regex RankLine();
}
