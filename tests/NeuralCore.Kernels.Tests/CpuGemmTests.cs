using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// CpuGemm against a naive triple loop accumulated in double.
/// Tolerance: |ours - ref| &lt;= 1e-5 * sqrt(k) * (1 + |c0| + sum_p |alpha a_ip b_pj|), i.e. float rounding that grows
/// like sqrt(k) relative to the magnitude of the terms being summed (|ref| alone can cancel to ~0).
/// </summary>
public class CpuGemmTests
{
    private const int Guard = 37; // sentinel floats before and after every operand, to catch stray reads/writes

    public static TheoryData<int, int, int> Sizes => new()
    {
        { 1, 1, 1 }, { 1, 7, 3 }, { 7, 1, 5 }, { 7, 7, 7 }, { 3, 5, 1 },
        { 33, 33, 33 }, { 8, 32, 16 }, { 9, 33, 17 }, { 31, 65, 2 },
        { 65, 97, 257 },      // m crosses MC=64, k crosses KC=256
        { 40, 530, 300 },     // n crosses NC=512
        { 257, 257, 257 },    // big enough to run multi-threaded, nothing divides the tiles
        { 128, 400, 100 },    // multi-threaded, column split (m < n)
        { 300, 70, 64 },      // multi-threaded, row split (m >= n)
        { 13, 48, 20 },       // 16-column edge panel with a row edge (half-width kernel into the scratch tile)
        { 16, 16, 9 },        // exactly one half-width panel
        { 24, 400, 40 },      // 400 = 12 * 32 + 16: half-width kernel straight into C
        { 2, 1000, 3 },       // very wide
        { 1000, 3, 2 },       // very tall
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AllVariantsMatchNaive(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (bool acc in new[] { false, true })
        {
            float alpha = acc ? -0.75f : 1f;
            Check(m, n, k, ta, tb, acc, alpha, threads: 3, seed: m * 7919 + n * 31 + k);
        }
    }

    [Theory]
    [InlineData(257, 129, 300)]
    [InlineData(128, 784, 400)]
    public void SingleThreadedPathMatches(int m, int n, int k)
    {
        Check(m, n, k, false, true, false, 1f, threads: 1, seed: 5);
        Check(m, n, k, true, false, true, 2f, threads: null, seed: 6);
    }

    [Theory]
    [InlineData(4000, 40, 64, true)]     // many row strips per thread (B packed, but cheaply)
    [InlineData(32, 64, 1000, false)]    // B read in place and small enough: a strip per 8 rows
    public void FinerRowStrips_GiveTheSameBits(int m, int n, int k, bool transposeB)
    {
        var rng = new Random(m + n + k);
        float[] a = Random(rng, m * k), b = Random(rng, k * n);
        float[] Run(int threads)
        {
            using var parallel = new CpuParallel(threads);
            float[] c = new float[m * n];
            CpuGemm.Multiply(a, 0, b, 0, c, 0, m, n, k, transposeA: true, transposeB, accumulate: false, 1f, parallel);
            return c;
        }
        float[] one = Run(1);
        foreach (int threads in new[] { 2, 3 }) Assert.Equal(one, Run(threads));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void BiasAndReluOnEachTile_GiveTheBitsOfSeparatePasses(int m, int n, int k)
    {
        // the epilogue must be the product, then a row-broadcast add, then a ReLU, bit for bit: edge values included
        // (NaN stays NaN through the ReLU, -0 and tiny values, infinities) and for every strip split of the threads
        var rng = new Random(m * 11 + n * 13 + k);
        float[] special = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -1e30f, 1e30f];
        float[] Values(int count) => Enumerable.Range(0, count)
            .Select(_ => rng.Next(10) == 0 ? special[rng.Next(special.Length)] : rng.NextSingle() - 0.5f).ToArray();
        float[] a = Values(m * k), b = Values(k * n), bias = Values(n);
        foreach (int threads in new[] { 1, 3 })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (bool relu in new[] { false, true })
        {
            using var backend = new CpuBackend(threads);
            DeviceBuffer Upload(float[] values)
            {
                var buffer = backend.Allocate(values.Length);
                backend.Upload(values, buffer);
                return buffer;
            }
            DeviceBuffer da = Upload(a), db = Upload(b), dBias = Upload(bias), fused = backend.Allocate(m * n), separate = backend.Allocate(m * n);
            backend.MatMulBias(da, db, dBias, fused, m, n, k, ta, tb, relu);
            backend.MatMul(da, db, separate, m, n, k, ta, tb, accumulate: false);
            backend.Binary(BinaryOp.Add, separate, [m, n], dBias, [n], separate, [m, n]);
            if (relu) backend.Unary(UnaryOp.Relu, separate, separate, m * n);
            float[] x = new float[m * n], y = new float[m * n];
            backend.Download(fused, x);
            backend.Download(separate, y);
            Assert.Equal(y.Select(BitConverter.SingleToInt32Bits), x.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void OperandsReadInPlace_GiveThePackedBits(int m, int n, int k)
    {
        // A at scale 1 and a row-major B (when C has at most 64 rows) are read in place; 2A at scale 1/2 (exactly the
        // same values) and a transposed B go through the packed panels. The products and their order are the same,
        // so every bit must be
        var rng = new Random(m * 3 + n * 5 + k);
        float[] a = Enumerable.Range(0, m * k).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] b = Enumerable.Range(0, k * n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] start = Enumerable.Range(0, m * n).Select(_ => rng.NextSingle()).ToArray();
        float[] aT = Transpose(a, m, k), a2 = a.Select(v => 2 * v).ToArray(), a2T = Transpose(a2, m, k), bT = Transpose(b, k, n);
        foreach (bool ta in new[] { false, true })
        foreach (bool acc in new[] { false, true })
        {
            float[] inPlace = (float[])start.Clone(), packed = (float[])start.Clone();
            CpuGemm.Multiply(ta ? aT : a, 0, b, 0, inPlace, 0, m, n, k, ta, false, acc);
            CpuGemm.Multiply(ta ? a2T : a2, 0, bT, 0, packed, 0, m, n, k, ta, true, acc, 0.5f);
            Assert.True(inPlace.AsSpan().SequenceEqual(packed), $"{m}x{n}x{k} transposeA={ta} accumulate={acc}: in place differs from packed");
        }

        static float[] Transpose(float[] x, int rows, int cols)
        {
            var t = new float[x.Length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
            return t;
        }
    }

    [Theory]
    [InlineData(300, 70, 64)]     // row split
    [InlineData(128, 400, 100)]   // column split
    [InlineData(257, 257, 257)]
    public void AnyThreadCount_GivesTheSameBits(int m, int n, int k)
    {
        // every element of C sums its products in the same order however C is cut into strips (also on one core:
        // a pool of n threads runs n strips whatever the machine has)
        var rng = new Random(m + n + k);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
        float[] Run(int threads)
        {
            using var parallel = new CpuParallel(threads);
            float[] c = (float[])c0.Clone();
            CpuGemm.Multiply(a, 0, b, 0, c, 0, m, n, k, false, true, true, 0.5f, parallel);
            return c;
        }
        float[] one = Run(1);
        foreach (int threads in new[] { 2, 3, 5 }) Assert.Equal(one, Run(threads));
    }

    [Theory]
    [InlineData(128, 400, 784, false, true)]   // Linear forward x W^T
    [InlineData(128, 784, 400, false, false)]  // input gradient dy W
    [InlineData(400, 784, 128, true, false)]   // weight gradient dy^T x
    [InlineData(784, 400, 128, true, false)]
    public void AutoencoderShapes(int m, int n, int k, bool ta, bool tb)
    {
        Check(m, n, k, ta, tb, false, 1f, 2, 11);
        Check(m, n, k, ta, tb, true, 0.5f, 2, 12);
    }

    [Fact]
    public void ZeroDepthOverwritesOrKeeps()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        CpuGemm.Multiply(Array.Empty<float>(), 0, Array.Empty<float>(), 0, c, 0, 2, 2, 0, false, false, accumulate: true);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, c);
        CpuGemm.Multiply(Array.Empty<float>(), 0, Array.Empty<float>(), 0, c, 0, 2, 2, 0, false, false, accumulate: false);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, c);
    }

    [Fact]
    public void RejectsShortOperands()
    {
        Assert.Throws<ArgumentException>(() =>
            CpuGemm.Multiply(new float[5], 0, new float[6], 0, new float[4], 0, 2, 2, 3, false, false, false));
    }

    /// <summary>Checks one product on a pool of <paramref name="threads"/> threads, or with the public overload (the
    /// calling thread) when null.</summary>
    private static void Check(int m, int n, int k, bool ta, bool tb, bool acc, float alpha, int? threads, int seed)
    {
        var rng = new Random(seed);
        float[] a = Random(rng, Guard + m * k + Guard);
        float[] b = Random(rng, Guard + k * n + Guard);
        float[] c = Random(rng, Guard + m * n + Guard);
        float[] c0 = (float[])c.Clone();

        if (threads is int t)
        {
            using var parallel = new CpuParallel(t);
            CpuGemm.Multiply(a, Guard, b, Guard, c, Guard, m, n, k, ta, tb, acc, alpha, parallel);
        }
        else
            CpuGemm.Multiply(a, Guard, b, Guard, c, Guard, m, n, k, ta, tb, acc, alpha);

        for (int i = 0; i < Guard; i++)
        {
            Assert.Equal(c0[i], c[i]);
            Assert.Equal(c0[Guard + m * n + i], c[Guard + m * n + i]);
        }
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0, mag = 0;
            for (int p = 0; p < k; p++)
            {
                double av = ta ? a[Guard + p * m + i] : a[Guard + i * k + p];
                double bv = tb ? b[Guard + j * k + p] : b[Guard + p * n + j];
                sum += av * bv;
                mag += Math.Abs(av * bv);
            }
            double start = acc ? c0[Guard + i * n + j] : 0.0;
            double expected = start + alpha * sum;
            double tol = 1e-5 * Math.Sqrt(k) * (1 + Math.Abs(start) + Math.Abs(alpha) * mag);
            double got = c[Guard + i * n + j];
            if (!(Math.Abs(got - expected) <= tol))
                Assert.Fail($"m={m} n={n} k={k} ta={ta} tb={tb} acc={acc} alpha={alpha}: C[{i},{j}] = {got}, expected {expected} (tol {tol})");
        }
    }

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
