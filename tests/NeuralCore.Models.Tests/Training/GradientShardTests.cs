using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Training;

/// <summary>
/// Batches computed in gradient shards (TrainingOptions.GradientShards) and summed through the IGradientReducer seam:
/// the same noise as an unsharded batch, the same gradient up to rounding, and the same bits on any number of
/// simulated processes (threads here; MPI processes in NeuralCore.Distributed.Tests).
/// </summary>
public class GradientShardTests
{
    // 45 rows of 6 features; batches of 8 leave a last batch of 5, smaller than the shard count
    private static readonly float[] Data = Enumerable.Range(0, 45 * 6).Select(i => (i * 7 % 13) / 13f).ToArray();

    private static ModelSpec Spec(string kind, string noise = "gaussian") =>
        new() { Kind = kind, InputFeatures = 6, Hidden = [5], Latent = 2, Loss = "bce", Noise = noise };

    [Theory]
    [InlineData("vae", "gaussian")]
    [InlineData("dae", "gaussian")]
    [InlineData("dae", "masking")]
    [InlineData("ae", "gaussian")]
    public void LossWithGivenNoise_IsTheLossWithDrawnNoise_BitForBit(string kind, string noise)
    {
        var backend = new CpuBackend();
        var model = ModelFactory.Create(Spec(kind, noise), backend, new SeededRandom(1));
        model.Train();
        var x = Tensor.FromArray(backend, Data.AsSpan(0, 5 * 6), new Shape(5, 6));
        SeededRandom drawing = SeededRandom.PyTorch(9), given = SeededRandom.PyTorch(9);
        float expected = model.ComputeLoss(x, drawing).Total.Item();
        var values = new float[5 * model.TrainingNoisePerRow];
        model.DrawTrainingNoise(given, values);
        float actual = model.ComputeLoss(x, values).Total.Item();
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));
        Assert.Equal(drawing.GetState(), given.GetState());   // the generator advanced alike
        if (kind == "ae") Assert.Equal(0, model.TrainingNoisePerRow);
    }

    [Theory]
    [InlineData("vae")]
    [InlineData("dae")]
    public void ShardedEpoch_IsTheUnshardedOneUpToRounding_AndDrawsTheSameRandoms(string kind)
    {
        var options = new TrainingOptions { BatchSize = 8, Seed = 3 };
        var whole = Trainer.ForNewModel(Spec(kind), new CpuBackend(), options);
        var sharded = Trainer.ForNewModel(Spec(kind), new CpuBackend(), options with { GradientShards = 6 });
        var a = whole.RunEpoch(Data, 45, Data, 45);
        var b = sharded.RunEpoch(Data, 45, Data, 45);
        Assert.Equal(whole.NoiseRandom.GetState(), sharded.NoiseRandom.GetState());
        Assert.Equal(a.TrainLoss, b.TrainLoss, 1e-3);
        Assert.Equal(45, sharded.RowsComputed);
        foreach (var ((name, p), (_, q)) in whole.Model.NamedParameters().Zip(sharded.Model.NamedParameters()))
        {
            float[] u = p.ToArray(), v = q.ToArray();
            for (int i = 0; i < u.Length; i++) Assert.True(Math.Abs(u[i] - v[i]) <= 1e-4f * (1 + Math.Abs(u[i])), $"{name}[{i}]: {u[i]} vs {v[i]}");
        }
    }

    [Theory]
    [InlineData("vae", 2)]
    [InlineData("vae", 3)]
    [InlineData("dae", 4)]
    public void ThreadsAsProcesses_EndBitIdenticalToOneProcess_EachComputingItsShards(string kind, int processes)
    {
        var options = new TrainingOptions { BatchSize = 8, Seed = 5, GradientShards = 6 };
        var alone = Trainer.ForNewModel(Spec(kind), new CpuBackend(), options);
        EpochMetrics? aloneLast = null;
        for (int e = 0; e < 2; e++) aloneLast = alone.RunEpoch(Data, 45, Data, 45);

        var world = new ThreadWorld(processes);
        var trainers = new Trainer[processes];
        var last = new EpochMetrics?[processes];
        var threads = Enumerable.Range(0, processes).Select(rank => new Thread(() =>
        {
            var trainer = Trainer.ForNewModel(Spec(kind), new CpuBackend(), options);
            trainer.GradientReducer = world.Reducer(rank);
            for (int e = 0; e < 2; e++) last[rank] = trainer.RunEpoch(Data, 45, Data, 45);   // the test rows are shared out too
            trainers[rank] = trainer;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        foreach (var trainer in trainers)
            foreach (var ((name, p), (_, q)) in alone.Model.NamedParameters().Zip(trainer.Model.NamedParameters()))
                Assert.True(p.ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(q.ToArray().Select(BitConverter.SingleToInt32Bits)), $"{name} differs on {processes} processes");
        Assert.Equal(2 * 45, trainers.Sum(t => t.RowsComputed));
        foreach (var m in last)
        {
            Assert.Equal(aloneLast!.TrainLoss, m!.TrainLoss);
            Assert.Equal(aloneLast.TestLoss, m.TestLoss);
            Assert.Equal(aloneLast.TestKl, m.TestKl);
        }
        for (int rank = 0; rank < processes; rank++)
            Assert.Equal(GradientShards.Owned(6, rank, processes).Count > 0, trainers[rank].RowsComputed > 0);
    }

    [Fact]
    public void Shards_CoverTheBatchAndTheProcesses_InContiguousRanges()
    {
        foreach (int rows in (int[])[1, 5, 6, 64, 129])
            Assert.Equal(Enumerable.Range(0, rows), Enumerable.Range(0, 6).SelectMany(s => Enumerable.Range(GradientShards.Rows(rows, 6, s).Start, GradientShards.Rows(rows, 6, s).Count)));
        foreach (int processes in (int[])[1, 2, 3, 4, 6])
            Assert.Equal(Enumerable.Range(0, 6), Enumerable.Range(0, processes).SelectMany(r => Enumerable.Range(GradientShards.Owned(6, r, processes).First, GradientShards.Owned(6, r, processes).Count)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { GradientShards = 0 }.Validate());
    }

    /// <summary>
    /// Processes simulated by threads, passing the partial sum down a chain as the MPI reducer does: each waits for
    /// the one before it, takes its partial sum, folds its own shards onto it, and passes it on; once the last is
    /// done, every process takes the last one's sum.
    /// </summary>
    private sealed class ThreadWorld(int size)
    {
        private readonly SemaphoreSlim[] _passed = Enumerable.Range(0, size).Select(_ => new SemaphoreSlim(0)).ToArray();
        private readonly Barrier _done = new(size), _read = new(size);
        private readonly Memory<float>[][] _sums = new Memory<float>[size][];

        public IGradientReducer Reducer(int rank) => new RankReducer(this, rank);

        private sealed class RankReducer(ThreadWorld world, int rank) : IGradientReducer
        {
            public int Rank => rank;
            public int WorldSize => world._sums.Length;

            public void Reduce(Memory<float>[] sum, LocalFold fold, long step)
            {
                if (rank > 0)
                {
                    world._passed[rank - 1].Wait();
                    for (int s = 0; s < sum.Length; s++) world._sums[rank - 1][s].CopyTo(sum[s]);
                }
                for (int s = 0; s < sum.Length; s++) fold(s, accumulate: rank > 0);
                world._sums[rank] = sum;
                world._passed[rank].Release();
                world._done.SignalAndWait();
                var last = world._sums[^1];
                if (rank != WorldSize - 1)
                    for (int s = 0; s < sum.Length; s++) last[s].CopyTo(sum[s]);
                world._read.SignalAndWait();
                if (rank == WorldSize - 1) world._passed[rank].Wait();   // nobody waits on the last one's token
            }
        }
    }
}
