using Xunit;

namespace NeuralCore.TensorTests;

public class SeededRandomTests
{
    private static uint[] First(SeededRandom r, int n)
    {
        var values = new uint[n];
        for (int i = 0; i < n; i++) values[i] = r.NextUInt();
        return values;
    }

    [Fact]
    public void ForStream_IsDeterministic()
    {
        Assert.Equal(First(SeededRandom.ForStream(5, RandomStream.Shuffle), 16), First(SeededRandom.ForStream(5, RandomStream.Shuffle), 16));
    }

    [Fact]
    public void InitStream_IsTheSeedItself()
    {
        Assert.Equal(First(new SeededRandom(3), 16), First(SeededRandom.ForStream(3, RandomStream.Init), 16));
    }

    [Fact]
    public void NoStreamOfAnySmallSeed_SharesItsStartWithAnother()
    {
        // The defect this replaces: with seed + k offsets, seed 1's weights were seed 0's shuffling.
        // Any shared 64-bit start (two words), even shifted by a few draws, would show up here.
        var seen = new Dictionary<ulong, (ulong Seed, RandomStream Stream, int Offset)>();
        foreach (ulong seed in Enumerable.Range(0, 64).Select(i => (ulong)i))
            foreach (var stream in Enum.GetValues<RandomStream>())
            {
                uint[] words = First(SeededRandom.ForStream(seed, stream), 9);
                for (int offset = 0; offset < 8; offset++)
                {
                    ulong key = ((ulong)words[offset] << 32) | words[offset + 1];
                    Assert.False(seen.TryGetValue(key, out var other) && (other.Seed, other.Stream) != (seed, stream),
                        $"seed {seed} {stream} (draw {offset}) repeats seed {other.Seed} {other.Stream} (draw {other.Offset})");
                    seen[key] = (seed, stream, offset);
                }
            }
    }

    [Fact]
    public void Streams_AreUncorrelated()
    {
        // Uniforms of two streams of one seed: sample correlation near 0 (|r| < 4 / sqrt(n)).
        const int n = 20000;
        var a = SeededRandom.ForStream(0, RandomStream.Shuffle);
        var b = SeededRandom.ForStream(0, RandomStream.Noise);
        double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++)
        {
            double x = a.NextFloat(), y = b.NextFloat();
            sa += x; sb += y; sab += x * y; saa += x * x; sbb += y * y;
        }
        double cov = sab / n - sa / n * (sb / n);
        double r = cov / Math.Sqrt((saa / n - sa * sa / n / n) * (sbb / n - sb * sb / n / n));
        Assert.InRange(r, -4 / Math.Sqrt(n), 4 / Math.Sqrt(n));
    }
}
