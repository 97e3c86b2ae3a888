using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// The row-group kernels a trainer uses to compute gradient shards at once: each must give the bits of every group
/// computed alone by the plain kernel and the groups' results added in order (what a fold of shard gradients does).
/// </summary>
public class CpuRowGroupTests
{
    public static TheoryData<int[], bool, int> Groups() => new()
    {
        { [0, 21, 42, 64, 85, 106, 128], false, 1 },   // 128 rows in 6 groups: one depth block
        { [0, 21, 42, 64, 85, 106, 128], true, 2 },
        { [0, 0, 1, 2, 3, 4, 5], false, 1 },           // an empty first group
        { [0, 3, 3, 9], true, 1 },                     // an empty group in the middle
        { [0, 0, 0], true, 1 },                        // all empty
        { [0, 300, 301, 700], false, 2 },              // more than a depth block in all, and in a group
    };

    private static float[] Values(int count, int seed) =>
        Enumerable.Range(0, count).Select(i => ((i * 7919 + seed * 104729) % 2001 - 1000) / 997f).ToArray();

    private static DeviceBuffer Buffer(CpuBackend backend, float[] values)
    {
        var buffer = backend.Allocate(Math.Max(1, values.Length));
        backend.Upload(values, buffer);
        return buffer;
    }

    private static float[] Read(CpuBackend backend, DeviceBuffer buffer, int count)
    {
        var values = new float[count];
        backend.Download(buffer, values);
        return values;
    }

    // the fold of per-group results computed alone: target = target + g0 + g1 ... (or g0 + g1 ... without accumulate)
    private static float[] Fold(float[] start, bool accumulate, IEnumerable<float[]> parts)
    {
        var sum = accumulate ? (float[])start.Clone() : null;
        foreach (var part in parts)
        {
            if (sum == null) { sum = (float[])part.Clone(); continue; }
            for (int i = 0; i < sum.Length; i++) sum[i] += part[i];
        }
        return sum ?? new float[start.Length];
    }

    private static void AssertBits(float[] expected, float[] actual) =>
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));

    [Theory]
    [MemberData(nameof(Groups))]
    public void MatMulByRowGroups_IsTheFoldOfEachGroupsProduct(int[] starts, bool accumulate, int threads)
    {
        var backend = new CpuBackend(threads);
        int rows = starts[^1], m = 37, n = 45;
        float[] a = Values(rows * m, 1), b = Values(rows * n, 2), c = Values(m * n, 3);
        var parts = Enumerable.Range(0, starts.Length - 1).Select(g =>
        {
            int start = starts[g], count = starts[g + 1] - start;
            var part = backend.Allocate(m * n);   // zeros: an empty group's product
            if (count > 0)
                backend.MatMul(Buffer(backend, a[(start * m)..((start + count) * m)]), Buffer(backend, b[(start * n)..((start + count) * n)]), part,
                    m, n, count, transposeA: true, transposeB: false, accumulate: false);
            return Read(backend, part, m * n);
        }).ToList();
        var target = Buffer(backend, c);
        backend.MatMulByRowGroups(Buffer(backend, a), Buffer(backend, b), target, m, n, starts, accumulate);
        AssertBits(Fold(c, accumulate, parts), Read(backend, target, m * n));
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void SumRowsByGroups_IsTheFoldOfEachGroupsColumnSums(int[] starts, bool accumulate, int threads)
    {
        var backend = new CpuBackend(threads);
        int columns = 19;
        float[] x = Values(starts[^1] * columns, 4), y = Values(columns, 5);
        var parts = Enumerable.Range(0, starts.Length - 1).Select(g =>
        {
            var sum = new float[columns];
            for (int r = starts[g]; r < starts[g + 1]; r++)
                for (int j = 0; j < columns; j++) sum[j] += x[r * columns + j];
            return sum;
        });
        var target = Buffer(backend, y);
        backend.SumRowsByGroups(Buffer(backend, x), target, columns, starts, accumulate);
        AssertBits(Fold(y, accumulate, parts), Read(backend, target, columns));
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void LossByRowGroups_IsEachGroupsLoss(int[] starts, bool accumulate, int threads)
    {
        _ = accumulate;
        var backend = new CpuBackend(threads);
        int width = 7, rows = starts[^1];
        float[] p = Values(rows * width, 6).Select(v => 0.5f + v / 3f).ToArray(), t = Values(rows * width, 7).Select(v => Math.Abs(v) / 2f).ToArray();
        var result = backend.Allocate(starts.Length - 1);
        backend.LossByRowGroups(LossKind.BinaryCrossEntropy, Buffer(backend, p), Buffer(backend, t), result, width, starts);
        var expected = Enumerable.Range(0, starts.Length - 1).Select(g =>
        {
            int start = starts[g] * width, count = (starts[g + 1] - starts[g]) * width;
            var loss = backend.Allocate(1);
            backend.Loss(LossKind.BinaryCrossEntropy, Buffer(backend, p[start..(start + count)]), Buffer(backend, t[start..(start + count)]), loss, count);
            return Read(backend, loss, 1)[0];
        }).ToArray();
        AssertBits(expected, Read(backend, result, starts.Length - 1));
    }
}
