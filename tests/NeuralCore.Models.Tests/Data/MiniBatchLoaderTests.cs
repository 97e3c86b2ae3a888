using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class MiniBatchLoaderTests
{
    // [10, 3]: row r holds r*10, r*10+1, r*10+2.
    private static readonly float[] Data = Enumerable.Range(0, 30).Select(i => (float)((i / 3) * 10 + i % 3)).ToArray();

    private static List<int[]> Epoch(MiniBatchLoader loader, float[] buffer, List<int>? sizes = null)
    {
        var batches = new List<int[]>();
        loader.StartEpoch();
        while (loader.TryNextBatch(buffer, out int rows))
        {
            sizes?.Add(rows);
            int[] indices = loader.CurrentIndices.ToArray();
            Assert.Equal(rows, indices.Length);
            for (int r = 0; r < rows; r++)
                for (int f = 0; f < 3; f++)
                    Assert.Equal(Data[indices[r] * 3 + f], buffer[r * 3 + f]);
            batches.Add(indices);
        }
        return batches;
    }

    [Fact]
    public void EveryRowAppearsOncePerEpochAndTheLastBatchIsSmaller()
    {
        var loader = new MiniBatchLoader(Data, 10, 3, batchSize: 4, seed: 7);
        var buffer = new float[4 * 3];
        Assert.Equal(3, loader.BatchesPerEpoch);
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var sizes = new List<int>();
            int[] seen = Epoch(loader, buffer, sizes).SelectMany(b => b).ToArray();
            Assert.Equal(new[] { 4, 4, 2 }, sizes);
            Assert.Equal(Enumerable.Range(0, 10), seen.Order());
            orders.Add(seen);
        }
        Assert.Equal(3, loader.Epoch);
        Assert.NotEqual(orders[0], orders[1]);
        Assert.False(loader.TryNextBatch(buffer, out int none));
        Assert.Equal(0, none);
    }

    [Fact]
    public void SameSeedGivesSameBatchesAndDifferentSeedDiffers()
    {
        var buffer = new float[12];
        var a = Epoch(new MiniBatchLoader(Data, 10, 3, 4, seed: 123), buffer).SelectMany(b => b).ToArray();
        var b = Epoch(new MiniBatchLoader(Data, 10, 3, 4, seed: 123), buffer).SelectMany(b => b).ToArray();
        var c = Epoch(new MiniBatchLoader(Data, 10, 3, 4, seed: 124), buffer).SelectMany(b => b).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void RestoringTheGeneratorStateResumesTheSameEpochOrder()
    {
        var buffer = new float[12];
        var loader = new MiniBatchLoader(Data, 10, 3, 4, seed: 99);
        Epoch(loader, buffer);
        uint[] state = loader.Random.GetState();
        var second = Epoch(loader, buffer).SelectMany(b => b).ToArray();

        var resumedRandom = new SeededRandom(0);
        resumedRandom.SetState(state);
        var resumed = new MiniBatchLoader(Data, 10, 3, 4, resumedRandom);
        Assert.Equal(second, Epoch(resumed, buffer).SelectMany(b => b).ToArray());
    }

    [Fact]
    public void WithoutShuffleRowsComeInOrderAndGatherPairsLabels()
    {
        var loader = new MiniBatchLoader(Data, 10, 3, 3, seed: 1, shuffle: false);
        var buffer = new float[9];
        Assert.Equal(Enumerable.Range(0, 10), Epoch(loader, buffer).SelectMany(b => b));

        byte[] labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        var shuffled = new MiniBatchLoader(Data, 10, 3, 3, seed: 5);
        shuffled.StartEpoch();
        Assert.True(shuffled.TryNextBatch(buffer, out int rows));
        var batchLabels = new byte[3];
        MiniBatchLoader.Gather<byte>(labels, 1, shuffled.CurrentIndices, batchLabels);
        for (int r = 0; r < rows; r++) Assert.Equal(buffer[r * 3] / 10f, batchLabels[r]);
    }

    [Fact]
    public void MisuseIsReported()
    {
        var loader = new MiniBatchLoader(Data, 10, 3, 4, seed: 1);
        Assert.Throws<InvalidOperationException>(() => loader.TryNextBatch(new float[12], out _));
        loader.StartEpoch();
        Assert.Throws<ArgumentException>(() => loader.TryNextBatch(new float[11], out _));
        Assert.Throws<ArgumentException>(() => new MiniBatchLoader(Data, 11, 3, 4, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MiniBatchLoader(Data, 10, 3, 0, seed: 1));
    }
}
