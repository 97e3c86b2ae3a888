using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// CpuConvolution against direct nested loops accumulated in double.
/// Tolerance: |ours - ref| &lt;= 1e-5 * sqrt(terms) * (1 + |start| + sum |products|), where terms is the number of products
/// summed into that element and start is the value an accumulating kernel starts from.
/// </summary>
public class CpuConvolutionTests
{
    // (N, C, H, W, K, R, S, strideH, strideW, padH, padW)
    public static IEnumerable<object[]> Geometries => new[]
    {
        new object[] { 2, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1 },   // conv AE layer 1 (small batch)
        new object[] { 3, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1 },  // conv AE layer 2
        new object[] { 16, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1 }, // enough work for the batch-parallel path
        new object[] { 9, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1 },   // batch-parallel, odd batch split
        new object[] { 2, 3, 7, 5, 4, 3, 3, 1, 1, 0, 0 },      // stride 1, pad 0, non-square input
        new object[] { 2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1 },      // stride 1, pad 1
        new object[] { 1, 2, 9, 6, 3, 3, 2, 2, 1, 1, 0 },      // non-square kernel, mixed strides and pads
        new object[] { 2, 4, 8, 11, 5, 2, 3, 1, 2, 0, 1 },
        new object[] { 3, 5, 6, 6, 7, 1, 1, 1, 1, 0, 0 },      // pointwise (no im2col)
        new object[] { 2, 3, 5, 5, 2, 5, 5, 1, 1, 2, 2 },      // kernel as large as the image
        new object[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 },      // trivial
        new object[] { 2, 2, 6, 6, 3, 3, 3, 3, 3, 1, 1 },      // stride 3
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ForwardMatchesNaive(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(n, c, h, w, k, r, s, sh, sw, ph, pw);
        var rng = new Random(1);
        float[] x = Random(rng, g.InputSize), wt = Random(rng, g.WeightSize);
        float[] y = Random(rng, g.OutputSize); // garbage: forward must overwrite
        using var parallel = new CpuParallel(3);   // the batch-parallel and parallel-GEMM paths, even on one core
        CpuConvolution.Forward(x, wt, y, g, parallel);

        var (expected, mag, terms) = Naive(g, x, wt);
        for (int i = 0; i < y.Length; i++)
            AssertClose(expected[i], y[i], 1e-5 * Math.Sqrt(terms) * (1 + mag[i]), $"y[{i}] {g}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void BackwardDataMatchesNaive(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(n, c, h, w, k, r, s, sh, sw, ph, pw);
        var rng = new Random(2);
        float[] dy = Random(rng, g.OutputSize), wt = Random(rng, g.WeightSize);
        float[] dx = Random(rng, g.InputSize);
        float[] dx0 = (float[])dx.Clone();
        using var parallel = new CpuParallel(3);   // the batch-parallel and parallel-GEMM paths, even on one core
        CpuConvolution.BackwardData(dy, wt, dx, g, parallel);

        var expected = new double[g.InputSize];
        var mag = new double[g.InputSize];
        ForEachTap(g, (xi, wi, yi) =>
        {
            expected[xi] += (double)dy[yi] * wt[wi];
            mag[xi] += Math.Abs((double)dy[yi] * wt[wi]);
        });
        int terms = k * r * s;
        for (int i = 0; i < dx.Length; i++)
            AssertClose(dx0[i] + expected[i], dx[i], 1e-5 * Math.Sqrt(terms) * (1 + Math.Abs(dx0[i]) + mag[i]), $"dx[{i}] {g}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void BackwardWeightMatchesNaive(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(n, c, h, w, k, r, s, sh, sw, ph, pw);
        var rng = new Random(3);
        float[] x = Random(rng, g.InputSize), dy = Random(rng, g.OutputSize);
        float[] dw = Random(rng, g.WeightSize);
        float[] dw0 = (float[])dw.Clone();
        using var parallel = new CpuParallel(3);   // the batch-parallel and parallel-GEMM paths, even on one core
        CpuConvolution.BackwardWeight(x, dy, dw, g, parallel);

        var expected = new double[g.WeightSize];
        var mag = new double[g.WeightSize];
        ForEachTap(g, (xi, wi, yi) =>
        {
            expected[wi] += (double)x[xi] * dy[yi];
            mag[wi] += Math.Abs((double)x[xi] * dy[yi]);
        });
        int terms = n * g.OutHeight * g.OutWidth;
        for (int i = 0; i < dw.Length; i++)
            AssertClose(dw0[i] + expected[i], dw[i], 1e-5 * Math.Sqrt(terms) * (1 + Math.Abs(dw0[i]) + mag[i]), $"dw[{i}] {g}");
    }

    [Theory]
    [InlineData(128, 1, 28, 28, 16)]    // conv AE layer 1: many groups of images
    [InlineData(128, 16, 14, 14, 32)]   // conv AE layer 2
    [InlineData(37, 16, 14, 14, 32)]    // a batch that splits unevenly
    public void AllThreeKernels_GiveTheSameBits_WithOneThreadOrEvery(int n, int c, int h, int w, int k)
    {
        // A backend with one thread and one with several must train the same model: the weight gradient's partial sums
        // over the batch may not depend on how many threads share the work. (A pool of n threads cuts the work n ways
        // whatever the machine has, so this compares real splits on one core too.)
        var g = new ConvGeometry(n, c, h, w, k, 3, 3, 2, 2, 1, 1);
        var rng = new Random(5);
        float[] x = Random(rng, g.InputSize), dy = Random(rng, g.OutputSize), wt = Random(rng, g.WeightSize);
        (float[] Y, float[] Dx, float[] Dw) Run(int threads)
        {
            using var parallel = new CpuParallel(threads);
            float[] y = new float[g.OutputSize], dx = new float[g.InputSize], dw = new float[g.WeightSize];
            CpuConvolution.Forward(x, wt, y, g, parallel);
            CpuConvolution.BackwardData(dy, wt, dx, g, parallel);
            CpuConvolution.BackwardWeight(x, dy, dw, g, parallel);
            return (y, dx, dw);
        }
        var one = Run(1);
        foreach (int threads in new[] { 2, 3, Math.Max(4, Environment.ProcessorCount) })
        {
            var many = Run(threads);
            Assert.Equal(one.Y, many.Y);
            Assert.Equal(one.Dx, many.Dx);
            Assert.Equal(one.Dw, many.Dw);
        }
    }

    [Theory]
    [InlineData(2, 1, 28, 28, 16, 2, 1)]    // conv AE layer 1: narrow rows (permute im2col/col2im)
    [InlineData(3, 16, 14, 14, 32, 2, 1)]   // conv AE layer 2
    [InlineData(2, 3, 40, 36, 8, 1, 1)]     // rows too wide for the permutes: the gather path
    [InlineData(2, 2, 9, 7, 5, 3, 2)]       // stride 3, pad 2
    public void ForwardAndBackwardData_SumInOneFmaChainInTapOrder_OnEveryPath(int n, int c, int h, int w, int k, int stride, int pad)
    {
        // Up to a depth of 256 the im2col GEMM sums each output in one FMA chain from zero (in c, r, s order forward, in
        // output-channel order for backward data) and col2im adds each pixel's terms in tap order; the per-image kernels
        // must give exactly these bits, so that choosing between the paths never changes a trained model.
        var g = new ConvGeometry(n, c, h, w, k, 3, 3, stride, stride, pad, pad);
        var rng = new Random(7);
        float[] x = Random(rng, g.InputSize), dy = Random(rng, g.OutputSize), wt = Random(rng, g.WeightSize), dx0 = Random(rng, g.InputSize);
        int oh = g.OutHeight, ow = g.OutWidth, plane = oh * ow;

        var y = new float[g.OutputSize];
        var dx = (float[])dx0.Clone();
        for (int b = 0; b < n; b++)
        for (int kk = 0; kk < k; kk++)
        for (int p = 0; p < plane; p++)
        {
            float acc = 0f;
            for (int cc = 0; cc < c; cc++)
            for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++)
            {
                int ih = p / ow * stride - pad + r, iw = p % ow * stride - pad + s;
                float v = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[((b * c + cc) * h + ih) * w + iw] : 0f;
                acc = MathF.FusedMultiplyAdd(wt[((kk * c + cc) * 3 + r) * 3 + s], v, acc);
            }
            y[(b * k + kk) * plane + p] = acc;
        }
        for (int b = 0; b < n; b++)
        for (int cc = 0; cc < c; cc++)
        for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
        for (int p = 0; p < plane; p++)
        {
            int ih = p / ow * stride - pad + r, iw = p % ow * stride - pad + s;
            float acc = 0f;
            for (int kk = 0; kk < k; kk++)
                acc = MathF.FusedMultiplyAdd(wt[((kk * c + cc) * 3 + r) * 3 + s], dy[(b * k + kk) * plane + p], acc);
            if (ih >= 0 && ih < h && iw >= 0 && iw < w) dx[((b * c + cc) * h + ih) * w + iw] += acc;
        }

        // one thread: the per-image kernels; more threads than images: the im2col GEMM parallelised inside
        foreach (int threads in new[] { 1, n + 1 })
        {
            using var parallel = new CpuParallel(threads);
            float[] gotY = Random(rng, g.OutputSize), gotDx = (float[])dx0.Clone();
            CpuConvolution.Forward(x, wt, gotY, g, parallel);
            CpuConvolution.BackwardData(dy, wt, gotDx, g, parallel);
            Assert.Equal(y.Select(BitConverter.SingleToInt32Bits), gotY.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(dx.Select(BitConverter.SingleToInt32Bits), gotDx.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void TransposedConvolutionShapesOfTheAutoencoder()
    {
        // ConvTranspose2d(32->16, 3, s2, p1, output_padding 1) 7->14 is BackwardData of Conv(16->32) 14->7.
        var g = new ConvGeometry(128, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1);
        Assert.Equal(7, g.OutHeight);
        var rng = new Random(4);
        float[] dy = Random(rng, g.OutputSize), wt = Random(rng, g.WeightSize);
        float[] dx = new float[g.InputSize];
        CpuConvolution.BackwardData(dy, wt, dx, g);
        var expected = new double[g.InputSize];
        ForEachTap(g, (xi, wi, yi) => expected[xi] += (double)dy[yi] * wt[wi]);
        for (int i = 0; i < dx.Length; i++) AssertClose(expected[i], dx[i], 1e-3, $"dx[{i}]");
    }

    [Fact]
    public void RejectsShortBuffers()
    {
        var g = new ConvGeometry(2, 1, 5, 5, 2, 3, 3, 1, 1, 0, 0);
        Assert.Throws<ArgumentException>(() => CpuConvolution.Forward(new float[10], new float[g.WeightSize], new float[g.OutputSize], g));
    }

    /// <summary>Calls tap(xIndex, wIndex, yIndex) for every (input, weight, output) triple that interact.</summary>
    private static void ForEachTap(ConvGeometry g, Action<int, int, int> tap)
    {
        int OH = g.OutHeight, OW = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
        for (int k = 0; k < g.OutChannels; k++)
        for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
        for (int c = 0; c < g.InChannels; c++)
        for (int r = 0; r < g.KernelHeight; r++)
        for (int s = 0; s < g.KernelWidth; s++)
        {
            int ih = oh * g.StrideH - g.PadH + r, iw = ow * g.StrideW - g.PadW + s;
            if (ih < 0 || ih >= g.InHeight || iw < 0 || iw >= g.InWidth) continue;
            int xi = ((n * g.InChannels + c) * g.InHeight + ih) * g.InWidth + iw;
            int wi = ((k * g.InChannels + c) * g.KernelHeight + r) * g.KernelWidth + s;
            int yi = ((n * g.OutChannels + k) * OH + oh) * OW + ow;
            tap(xi, wi, yi);
        }
    }

    private static (double[] y, double[] mag, int terms) Naive(ConvGeometry g, float[] x, float[] w)
    {
        var y = new double[g.OutputSize];
        var mag = new double[g.OutputSize];
        ForEachTap(g, (xi, wi, yi) =>
        {
            y[yi] += (double)x[xi] * w[wi];
            mag[yi] += Math.Abs((double)x[xi] * w[wi]);
        });
        return (y, mag, g.InChannels * g.KernelHeight * g.KernelWidth);
    }

    private static void AssertClose(double expected, double actual, double tol, string what)
    {
        if (!(Math.Abs(expected - actual) <= tol))
            Assert.Fail($"{what}: got {actual}, expected {expected} (tol {tol})");
    }

    private static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
