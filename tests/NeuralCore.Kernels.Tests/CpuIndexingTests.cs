using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Kernels.Tests;

/// <summary>The CPU's indexing and cross-entropy kernels give the same bits on 1 and 2 threads (a real 2-way split
/// even on a one-core machine), at the PixelCNN prior's size.</summary>
public class CpuIndexingTests
{
    private static float[] Random(int n, int seed, float scale = 4f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    private static float[] Classes(int n, int classes, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.Next(classes);
        return a;
    }

    /// <summary>Every kernel of the family on <paramref name="backend"/>; each output's bits, in a fixed order.</summary>
    private static List<int[]> RunAll(CpuBackend backend)
    {
        const int batch = 128, classes = 64, plane = 49, width = 16;
        int positions = batch * plane, logits = positions * classes;
        DeviceBuffer Upload(float[] data)
        {
            var b = backend.Allocate(data.Length);
            backend.Upload(data, b);
            return b;
        }
        int[] Bits(DeviceBuffer b, int n)
        {
            var a = new float[n];
            backend.Download(b, a);
            return a.Select(BitConverter.SingleToInt32Bits).ToArray();
        }
        var results = new List<int[]>();
        var x = Upload(Random(logits, 1));
        var t = Upload(Classes(positions, classes, 2));
        foreach (int inner in new[] { plane, 1 })   // [B, K, 7, 7] and [B*49, K]
        {
            int outer = positions / inner;
            var losses = backend.Allocate(positions);
            backend.SoftmaxCrossEntropy(x, t, losses, outer, classes, inner);
            results.Add(Bits(losses, positions));
            var dl = Upload(Random(positions, 3, 1f));
            var dx = Upload(Random(logits, 4, 1f));
            backend.SoftmaxCrossEntropyBackward(x, t, dl, dx, outer, classes, inner);
            results.Add(Bits(dx, logits));
        }
        var table = Upload(Random(classes * width, 5));
        var y = backend.Allocate(positions * width);
        backend.GatherRows(table, t, y, positions, classes, width);
        results.Add(Bits(y, positions * width));
        var dTable = Upload(Random(classes * width, 6));
        backend.ScatterAddRows(y, t, dTable, positions, classes, width);
        results.Add(Bits(dTable, classes * width));
        // the prior's first layer: 24 taps of a [49·64 + 1, 64] table per cell
        const int taps = 24, tableRows = 49 * 64 + 1, channels = 64;
        var firstTable = Upload(Random(tableRows * channels, 7));
        var tapIndices = Upload(Classes(positions * taps, tableRows, 8));
        var summed = backend.Allocate(positions * channels);
        backend.GatherSumRows(firstTable, tapIndices, summed, positions, taps, tableRows, channels);
        results.Add(Bits(summed, positions * channels));
        var dFirst = Upload(Random(tableRows * channels, 9));
        backend.ScatterAddSumRows(Upload(Random(positions * channels, 10, 1f)), tapIndices, dFirst, positions, taps, tableRows, channels);
        results.Add(Bits(dFirst, tableRows * channels));
        var permuted = backend.Allocate(logits);
        backend.Permute(x, [batch, classes, 7, 7], [0, 2, 3, 1], permuted, accumulate: false);
        results.Add(Bits(permuted, logits));
        var codes = backend.Allocate(positions);
        backend.ArgReduce(permuted, codes, positions, classes, 1, max: false);
        results.Add(Bits(codes, positions));
        return results;
    }

    [Fact]
    public void OneAndTwoThreads_GiveTheSameBits()
    {
        using var one = new CpuBackend(threads: 1);
        using var two = new CpuBackend(threads: 2);
        var a = RunAll(one);
        var b = RunAll(two);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++) Assert.True(a[i].SequenceEqual(b[i]), $"output {i} differs between 1 and 2 threads");
    }
}

/// <summary>The cross-entropy of rows of whole vectors (one pass per step, no library call per step) gives the bits of
/// the library formulation it replaces, edge values included.</summary>
public class CpuCrossEntropyRowTests
{
    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]   // past the register path: the library's own
    public void RowsOfWholeVectors_GiveTheLibraryBits(int classes)
    {
        const int rows = 300;
        var r = new Random(classes);
        float[] special = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 88.7f, -104f, float.Epsilon];
        var x = new float[rows * classes];
        for (int i = 0; i < x.Length; i++)
            x[i] = r.Next(400) == 0 ? special[r.Next(special.Length)] : (float)(r.NextDouble() * 40 - 20);
        var targets = Enumerable.Range(0, rows).Select(i => i == 7 ? -1f : i == 8 ? classes + 3f : (float)r.Next(classes)).ToArray();
        var dLosses = Enumerable.Range(0, rows).Select(_ => (float)r.NextDouble()).ToArray();
        var dxStart = Enumerable.Range(0, rows * classes).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();

        var expectedLoss = new float[rows];
        var expectedDx = (float[])dxStart.Clone();
        var e = new float[classes];
        for (int o = 0; o < rows; o++)
        {
            var row = x.AsSpan(o * classes, classes);
            float m = System.Numerics.Tensors.TensorPrimitives.Max(row);
            System.Numerics.Tensors.TensorPrimitives.Subtract(row, m, e);
            System.Numerics.Tensors.TensorPrimitives.Exp(e, e);
            float s = System.Numerics.Tensors.TensorPrimitives.Sum<float>(e);
            int t = Indexing.Resolve(targets[o], classes);
            expectedLoss[o] = t < 0 ? float.NaN : MathF.Log(s) - (row[t] - m);
            float g = t < 0 ? float.NaN : dLosses[o];
            System.Numerics.Tensors.TensorPrimitives.Multiply(e, g / s, e);
            var dx = expectedDx.AsSpan(o * classes, classes);
            System.Numerics.Tensors.TensorPrimitives.Add(dx, e, dx);
            if (t >= 0) dx[t] -= g;
        }

        using var backend = new CpuBackend(2);
        DeviceBuffer Upload(float[] data)
        {
            var b = backend.Allocate(data.Length);
            backend.Upload(data, b);
            return b;
        }
        var bx = Upload(x);
        var bt = Upload(targets);
        var losses = backend.Allocate(rows);
        backend.SoftmaxCrossEntropy(bx, bt, losses, rows, classes, 1);
        var bdx = Upload(dxStart);
        backend.SoftmaxCrossEntropyBackward(bx, bt, Upload(dLosses), bdx, rows, classes, 1);
        var loss = new float[rows];
        var dxOut = new float[rows * classes];
        backend.Download(losses, loss);
        backend.Download(bdx, dxOut);
        Assert.Equal(expectedLoss.Select(BitConverter.SingleToInt32Bits), loss.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expectedDx.Select(BitConverter.SingleToInt32Bits), dxOut.Select(BitConverter.SingleToInt32Bits));
    }
}

/// <summary>A bias's gradient (a sum over many rows) gives the same bits on one thread and on several, which share its columns.</summary>
public class CpuBiasGradientTests
{
    [Theory]
    [InlineData(6272, 64)]
    [InlineData(5000, 40)]   // a last slice with a tail of columns
    [InlineData(3000, 160)]
    public void BiasGradient_IsTheSameOnOneThreadAndOnSeveral(int rows, int columns)
    {
        var r = new Random(rows + columns);
        var dc = Enumerable.Range(0, rows * columns).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
        var start = Enumerable.Range(0, columns).Select(_ => (float)r.NextDouble()).ToArray();
        int[] Run(int threads)
        {
            using var backend = new CpuBackend(threads);
            var a = backend.Allocate(rows * columns);
            var bias = backend.Allocate(columns);
            var grad = backend.Allocate(rows * columns);
            backend.Upload(dc, grad);
            var db = backend.Allocate(columns);
            backend.Upload(start, db);
            backend.BinaryBackward(BinaryOp.Add, a, [rows, columns], bias, [columns], grad, [rows, columns], null, db);
            var result = new float[columns];
            backend.Download(db, result);
            return result.Select(BitConverter.SingleToInt32Bits).ToArray();
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
        // and the row-order sum it stands for
        var expected = (float[])start.Clone();
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < columns; c++) expected[c] += dc[i * columns + c];
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), one);
    }
}
