using NeuralCore.Kernels.Reference;
using static NeuralCore.Kernels.Gpu.Kernels.GemmKernels;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>What the conformance suite does not reach, on one ILGPU accelerator: every GEMM kernel, split-K, views
/// at unaligned offsets, and memory reuse.</summary>
public abstract class IlgpuKernelTests
{
    /// <summary>The accelerator under test (see <see cref="Accelerators"/>).</summary>
    protected abstract string Device { get; }

    private IlgpuBackend Backend => Accelerators.Shared(Device);

    [Theory]
    [InlineData(IlgpuBackend.Tiled64, 0)]
    [InlineData(IlgpuBackend.Tiled128, 0)]
    [InlineData(IlgpuBackend.Vector128, 0)]
    [InlineData(IlgpuBackend.Tiled64, 3)]
    [InlineData(IlgpuBackend.Tiled128, 2)]
    [InlineData(IlgpuBackend.Vector128, 2)]
    public void MatMul_EachKernelAndSplitK_MatchesReference(string kernel, int splits)
    {
        // odd sizes exercise every edge; the multiples of 4 (not of the tile) are the ones the vector kernel takes
        (int m, int n, int k)[] shapes = kernel == IlgpuBackend.Vector128
            ? [(132, 68, 44), (8, 260, 200), (4, 4, 4)]
            : [(130, 67, 45), (5, 129, 200)];
        CheckGemm(kernel, splits, shapes, offset: 0);
    }

    [Fact]
    public void VectorKernel_FallsBack_OnShapesAndOffsetsItCannotTake()
    {
        CheckGemm(IlgpuBackend.Vector128, 0, [(130, 67, 45), (5, 129, 200), (6, 8, 12)], offset: 0);
        CheckGemm(IlgpuBackend.Vector128, 0, [(132, 68, 44)], offset: 2);   // views starting at float 2: not 16-byte aligned
    }

    [Fact]
    public void UnknownGemmKernel_IsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentException>(() => Backend.ForcedGemmKernel = "fast");
        Assert.Contains("tiled64, tiled128, vector128", e.Message);
    }

    private void CheckGemm(string kernel, int splits, (int m, int n, int k)[] shapes, int offset)
    {
        var reference = new ReferenceBackend();
        var backend = Backend;
        var random = new Random(7);
        try
        {
            backend.ForcedGemmKernel = kernel;
            backend.ForceSplitK = splits;
            foreach (var (m, n, k) in shapes)
            foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                bool acc = ta ^ tb;
                float[] a = Random(random, m * k), b = Random(random, k * n), c = Random(random, m * n);
                float[] expected = Run(reference, a, b, c, m, n, k, ta, tb, acc);
                float[] actual = offset == 0 ? Run(backend, a, b, c, m, n, k, ta, tb, acc)
                    : RunAtOffset(backend, offset, a, b, c, m, n, k, ta, tb, acc);
                AssertClose($"{kernel} splits {splits} offset {offset} m={m} n={n} k={k} ta={ta} tb={tb}",
                    expected, actual, 1e-4 * Math.Sqrt(k), 1e-4);
            }
        }
        finally
        {
            backend.ForcedGemmKernel = null;
            backend.ForceSplitK = 0;
        }
    }

    internal static void AssertClose(string what, float[] expected, float[] actual, double absolute, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        var bad = new List<string>();
        for (int i = 0; i < expected.Length && bad.Count < 5; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= absolute + relative * Math.Abs(expected[i])))
                bad.Add($"[{i}] expected {expected[i]:G9} got {actual[i]:G9}");
        Assert.True(bad.Count == 0, $"{what}: first mismatches: {string.Join("; ", bad)}");
    }

    private static float[] Random(Random random, int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();

    private static float[] Run(IBackend backend, float[] a, float[] b, float[] c, int m, int n, int k, bool ta, bool tb, bool acc)
    {
        using var da = backend.Allocate(a.Length);
        using var db = backend.Allocate(b.Length);
        using var dc = backend.Allocate(c.Length);
        backend.Upload(a, da);
        backend.Upload(b, db);
        backend.Upload(c, dc);
        backend.MatMul(da, db, dc, m, n, k, ta, tb, acc, acc ? 0.5f : 1f);
        var result = new float[c.Length];
        backend.Download(dc, result);
        return result;
    }

    private static float[] RunAtOffset(IlgpuBackend backend, int offset, float[] a, float[] b, float[] c, int m, int n, int k, bool ta, bool tb, bool acc)
    {
        float[] Pad(float[] x) => [.. new float[offset], .. x];
        using var da = backend.Allocate(offset + a.Length);
        using var db = backend.Allocate(offset + b.Length);
        using var dc = backend.Allocate(offset + c.Length);
        backend.Upload(Pad(a), da);
        backend.Upload(Pad(b), db);
        backend.Upload(Pad(c), dc);
        backend.MatMulAtOffset(offset, da, db, dc, m, n, k, ta, tb, acc, acc ? 0.5f : 1f);
        var result = new float[offset + c.Length];
        backend.Download(dc, result);
        return result[offset..];
    }

    [Fact]
    public void ReleasedBuffers_AreReusedAndComeBackZeroed()
    {
        var backend = Backend;
        var first = (GpuBuffer)backend.Allocate(1000);
        backend.Fill(first, 3f, 0, 1000);
        var memory = first.Memory;
        first.Dispose();
        var second = (GpuBuffer)backend.Allocate(1000);
        Assert.Same(memory, second.Memory);
        var values = new float[1000];
        backend.Download(second, values);
        Assert.All(values, v => Assert.Equal(0f, v));
        second.Dispose();
        using var empty = backend.Allocate(0);
        Assert.Equal(0, empty.Length);
    }

    [Fact]
    public void BuffersOfAnotherBackend_AreRejected()
    {
        var cpu = new Cpu.CpuBackend();
        using var foreign = cpu.Allocate(4);
        var e = Assert.Throws<ArgumentException>(() => Backend.Fill(foreign, 1f, 0, 4));
        Assert.Contains("belongs to backend 'cpu'", e.Message);
    }
}

[Collection(Accelerators.Cpu)]
public sealed class IlgpuCpuKernelTests : IlgpuKernelTests
{
    protected override string Device => Accelerators.Cpu;
}

[Collection(Accelerators.Cuda), RequiresAccelerator(Accelerators.Cuda)]
public sealed class CudaKernelTests : IlgpuKernelTests
{
    protected override string Device => Accelerators.Cuda;
}

[Collection(Accelerators.OpenCl), RequiresAccelerator(Accelerators.OpenCl)]
public sealed class OpenClKernelTests : IlgpuKernelTests
{
    protected override string Device => Accelerators.OpenCl;
}
