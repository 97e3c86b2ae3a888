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

    [Theory]
    [InlineData("vae", "gaussian", 8, 1, 4)]
    [InlineData("vae", "gaussian", 8, 1, 2)]   // a shard of one row is computed alone (2 latent values are fewer than a vector)
    [InlineData("dae", "gaussian", 8, 1, 4)]
    [InlineData("dae", "masking", 8, 2, 4)]
    [InlineData("ae", "gaussian", 8, 1, 4)]
    [InlineData("vae", "gaussian", 1700, 1, 4)]   // shards of 283 rows: more than one depth block of the GEMM each
    public void ShardsComputedAtOnce_AreTheShardsComputedOneByOne_BitForBit(string kind, string noise, int batch, int threads, int latent)
    {
        // 1701 rows: with batch 8 the last batch has 5 rows (an empty shard); with 1700 the last has 1 (five empty ones)
        var data = Enumerable.Range(0, 1701 * 6).Select(i => (i * 7 % 13) / 13f).ToArray();
        var options = new TrainingOptions { BatchSize = batch, Seed = 7, GradientShards = 6 };
        var rows = batch == 8 ? 45 : 1701;
        Trainer Train(bool atOnce)
        {
            var trainer = Trainer.ForNewModel(new ModelSpec { Kind = kind, InputFeatures = 6, Hidden = [5], Latent = latent, Loss = "bce", Noise = noise }, new CpuBackend(threads), options);
            trainer.ShardsAtOnce = atOnce;
            for (int e = 0; e < 2; e++) trainer.RunEpoch(data, rows, data, 45);
            return trainer;
        }
        var oneByOne = Train(false);
        var atOnce = Train(true);
        foreach (var ((name, p), (_, q)) in oneByOne.Model.NamedParameters().Zip(atOnce.Model.NamedParameters()))
            Assert.True(p.ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(q.ToArray().Select(BitConverter.SingleToInt32Bits)), $"{name} differs");
        Assert.Equal(oneByOne.RowsComputed, atOnce.RowsComputed);
        Assert.Equal(0, oneByOne.StepsAtOnce);
        Assert.Equal(latent >= 4 ? 2 * ((rows + batch - 1) / batch) : 0, atOnce.StepsAtOnce);
        Assert.Equal(oneByOne.NoiseRandom.GetState(), atOnce.NoiseRandom.GetState());
    }

    [Fact]
    public void RowGroups_FoldOntoAPartialSum_AsTheShardsGradientsAddedOneByOne()
    {
        var backend = new CpuBackend();
        var model = ModelFactory.Create(Spec("vae"), backend, new SeededRandom(2));
        model.Train();
        int[] starts = [0, 3, 3, 8, 13];   // an empty group among them
        var noise = new float[13 * model.TrainingNoisePerRow];
        model.DrawTrainingNoise(SeededRandom.PyTorch(4), noise);
        var parameters = model.Parameters();
        var partial = parameters.Select((p, i) => Enumerable.Range(0, p.Count).Select(j => (j % 5 - 2) * 0.37f + i).ToArray()).ToList();

        // one by one: each group's gradient alone, added in order onto the partial sum
        var expected = partial.Select(a => (float[])a.Clone()).ToList();
        var losses = new List<float>();
        for (int g = 0; g + 1 < starts.Length; g++)
        {
            int start = starts[g], n = starts[g + 1] - start;
            float[][] grads = parameters.Select(p => new float[p.Count]).ToArray();
            float loss = 0f;
            if (n > 0)
            {
                using var scope = TensorScope.Begin();
                model.ZeroGrad();
                var x = Tensor.FromArray(backend, Data.AsSpan(start * 6, n * 6), new Shape(n, 6));
                var parts = model.ComputeLoss(x, noise.AsSpan(start * 2, n * 2));
                parts.Total.Backward();
                loss = parts.Total.Item();
                grads = parameters.Select(p => p.Grad!.ToArray()).ToArray();
            }
            losses.Add(loss);
            for (int i = 0; i < parameters.Count; i++)
                for (int j = 0; j < grads[i].Length; j++) expected[i][j] += grads[i][j];
        }

        using (TensorScope.Begin())
        using (var groups = RowGroups.Begin(starts))
        {
            foreach (var p in parameters) p.Grad = null;
            var x = Tensor.FromArray(backend, Data.AsSpan(0, 13 * 6), new Shape(13, 6));
            var total = model.ComputeLoss(x, noise.AsSpan()).Total;
            Assert.Equal(new Shape(4), total.Shape);
            total.Backward(Tensor.Ones(backend, 4));
            Assert.Equal(losses.Select(BitConverter.SingleToInt32Bits), total.ToArray().Select(BitConverter.SingleToInt32Bits));
            for (int i = 0; i < parameters.Count; i++)
            {
                Assert.Null(parameters[i].Grad);
                var target = Tensor.FromArray(backend, partial[i], parameters[i].Shape);
                groups.ApplyGradient(parameters[i], target, accumulate: true);
                Assert.Equal(expected[i].Select(BitConverter.SingleToInt32Bits), target.ToArray().Select(BitConverter.SingleToInt32Bits));
            }
        }
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
