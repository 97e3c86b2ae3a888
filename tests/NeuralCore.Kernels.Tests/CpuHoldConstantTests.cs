using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// <see cref="IBackend.HoldConstant"/> on the CPU backend: a matrix product whose B is held reuses one packing of it,
/// and gives the same bits as the product that packs B itself, for both layouts of B, row and column splits over
/// threads, several k blocks and edge panels; a buffer is packed again once its hold ends.
/// </summary>
public class CpuHoldConstantTests
{
    public static TheoryData<int, int, int, int> Cases => new()
    {
        { 21, 400, 784, 1 },    // a shard of a batch through a 784 -> 400 layer: k in four blocks, a 16-column edge
        { 22, 784, 400, 1 },
        { 5, 33, 7, 1 },        // everything smaller than one tile
        { 300, 70, 64, 3 },     // threads, row split
        { 128, 530, 300, 3 },   // threads, column split, n across NC
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void HeldOperandGivesTheSameBits(int m, int n, int k, int threads)
    {
        using var backend = new CpuBackend(threads);
        var random = new Random(m * 31 + n);
        foreach (bool transposeB in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        {
            var a = Upload(backend, random, m * k);
            var b = Upload(backend, random, k * n);
            var c0 = Random(random, m * n);
            var expected = Product(backend, a, b, c0, m, n, k, transposeB, accumulate);
            using (backend.HoldConstant([b]))
            {
                // twice: the first product packs B, the second reuses the packing
                Assert.Equal(expected, Product(backend, a, b, c0, m, n, k, transposeB, accumulate));
                Assert.Equal(expected, Product(backend, a, b, c0, m, n, k, transposeB, accumulate));
            }
        }
    }

    [Fact]
    public void ABufferIsPackedAgainAfterItsHoldEnds()
    {
        using var backend = new CpuBackend(1);
        var random = new Random(5);
        int m = 9, n = 40, k = 30;
        var a = Upload(backend, random, m * k);
        var b = Upload(backend, random, k * n);
        var c0 = new float[m * n];
        using (backend.HoldConstant([b])) Product(backend, a, b, c0, m, n, k, true, false);
        backend.Upload(Random(random, k * n), b);   // the weights change between two holds (an optimizer step)
        var expected = Product(backend, a, b, c0, m, n, k, true, false);   // no hold: packs B itself
        using (backend.HoldConstant([b]))
            Assert.Equal(expected, Product(backend, a, b, c0, m, n, k, true, false));
        // nested holds of the same buffer keep its packing until the outer one ends
        var outer = backend.HoldConstant([b]);
        using (backend.HoldConstant([b])) Product(backend, a, b, c0, m, n, k, true, false);
        Assert.Equal(expected, Product(backend, a, b, c0, m, n, k, true, false));
        outer.Dispose();
    }

    private static float[] Product(IBackend backend, DeviceBuffer a, DeviceBuffer b, float[] c0, int m, int n, int k, bool transposeB, bool accumulate)
    {
        var c = backend.Allocate(m * n);
        backend.Upload(c0, c);
        backend.MatMul(a, b, c, m, n, k, false, transposeB, accumulate);
        var result = new float[m * n];
        backend.Download(c, result);
        return result;
    }

    private static DeviceBuffer Upload(IBackend backend, Random random, int length)
    {
        var buffer = backend.Allocate(length);
        backend.Upload(Random(random, length), buffer);
        return buffer;
    }

    private static float[] Random(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
