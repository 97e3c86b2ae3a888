using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

// Forward and backward data image by image: one image's patches (or output gradient) in an L1-resident buffer, multiplied
// by a register-blocked kernel that reads it in place and writes the result straight to its destination.
internal static partial class CpuConvolution
{
    /// <summary>
    /// The deepest product (C*R*S for forward, K for backward data) the per-image path takes. Up to this depth the blocked
    /// GEMM sums every element in one FMA chain from zero in index order (its depth block, KC, is 256), and so does the
    /// per-image kernel: both paths give the same bits, so the choice between them never changes a result.
    /// </summary>
    private const int DirectMaxDepth = 256;

    [ThreadStatic] private static float[]? t_direct;
    [ThreadStatic] private static float[]? t_directOut;

    /// <summary>
    /// Whether images [n0, n1) run through the per-image kernel: AVX-512 present, a product shallow enough to keep the
    /// GEMM's bits, and either this thread already owns a batch chunk or there are at least as many images as threads
    /// (with fewer, the GEMM path parallelises inside one product instead). The MNIST layers' products are too thin for
    /// the GEMM (conv1: 16 x 25088 x 9 after im2col of a group), which loses its time in packing and in scattering the
    /// [K, nb*P] result back to [nb, K, P].
    /// </summary>
    private static bool UseDirect(int depth, int images, CpuParallel? gemm) =>
        Avx512F.IsSupported && depth <= DirectMaxDepth && (gemm is null || images >= gemm.Threads);

    /// <summary>Row stride of the per-image buffers: the plane rounded up to whole 16-float vectors.</summary>
    private static int PaddedPlane(int plane) => (plane + 15) & ~15;

    /// <summary>y[n] = W[K, CRS] · col(x[n]) for images [n0, n1), col unrolled one image at a time.</summary>
    private static unsafe void ForwardDirect(float[] x, float[] w, float[] y, in ConvGeometry g, int crs, int plane, int n0, int n1)
    {
        int k = g.OutChannels, ld = PaddedPlane(plane);
        float[] col = Scratch(ref t_direct, crs * ld);
        // the padding columns are read by the full-width loads but never stored: keep them finite
        for (int r = 0; r < crs; r++) col.AsSpan(r * ld + plane, ld - plane).Clear();
        fixed (float* pw = w, pcol = col, py = y)
        {
            for (int n = n0; n < n1; n++)
            {
                Im2Col(x, n, 1, col, ld, g);
                Product(pw, crs, 1, k, crs, pcol, ld, py + (long)n * k * plane, plane, plane);
            }
        }
    }

    /// <summary>dx[n] += col2im(Wᵀ[CRS, K] · dy[n]) for images [n0, n1).</summary>
    private static unsafe void BackwardDataDirect(float[] dy, float[] w, float[] dx, in ConvGeometry g, int crs, int plane, int n0, int n1)
    {
        int k = g.OutChannels, ld = PaddedPlane(plane);
        float[] grad = Scratch(ref t_direct, k * ld), col = Scratch(ref t_directOut, crs * ld);
        for (int r = 0; r < k; r++) grad.AsSpan(r * ld + plane, ld - plane).Clear();
        fixed (float* pw = w, pg = grad, pcol = col)
        {
            for (int n = n0; n < n1; n++)
            {
                // dy[n] is [K, P]; copied to a padded buffer so that full-width loads stay inside it
                for (int r = 0; r < k; r++) dy.AsSpan((n * k + r) * plane, plane).CopyTo(grad.AsSpan(r * ld, plane));
                Product(pw, 1, crs, crs, k, pg, ld, pcol, ld, plane);
                Col2ImAdd(col, ld, dx, n, g);
            }
        }
    }

    /// <summary>
    /// c[i, p] = Σ_q a[i*ars + q*acs] · b[q*ldb + p] for i &lt; m, p &lt; cols, each element one FMA chain from zero in q
    /// order. b has whole 16-float vectors readable up to <see cref="PaddedPlane"/>(cols) in every row; c rows are written
    /// only up to cols (masked stores), so c may be the destination tensor itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Product(float* a, int ars, int acs, int m, int depth, float* b, int ldb, float* c, int ldc, int cols)
    {
        for (int p = 0; p < cols; p += 32)
        {
            int width = Math.Min(32, cols - p);
            int i = 0;
            for (; i + 8 <= m; i += 8) Kernel8(a + (long)i * ars, ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, ldc, width);
            for (; i < m; i++) Kernel1(a + (long)i * ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, width);
        }
    }

    /// <summary>Eight rows of c by up to 32 columns: 16 accumulators, two loads of b and eight broadcasts of a per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel8(float* a, int ars, int acs, int depth, float* b, int ldb, float* c, int ldc, int width)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        bool two = width > 16;
        float* a1 = a + ars, a2 = a + 2 * ars, a3 = a + 3 * ars, a4 = a + 4 * ars, a5 = a + 5 * ars, a6 = a + 6 * ars, a7 = a + 7 * ars;
        for (int q = 0; q < depth; q++)
        {
            long qa = (long)q * acs;
            var b0 = Vector512.Load(b);
            var b1 = two ? Vector512.Load(b + 16) : default;
            var ai = Vector512.Create(a[qa]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a1[qa]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a2[qa]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a3[qa]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a4[qa]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a5[qa]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
            ai = Vector512.Create(a6[qa]);
            c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61);
            ai = Vector512.Create(a7[qa]);
            c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71);
            b += ldb;
        }
        StoreRow(c, c00, c01, width); c += ldc;
        StoreRow(c, c10, c11, width); c += ldc;
        StoreRow(c, c20, c21, width); c += ldc;
        StoreRow(c, c30, c31, width); c += ldc;
        StoreRow(c, c40, c41, width); c += ldc;
        StoreRow(c, c50, c51, width); c += ldc;
        StoreRow(c, c60, c61, width); c += ldc;
        StoreRow(c, c70, c71, width);
    }

    /// <summary>One row of c by up to 32 columns (the rows left over below a multiple of eight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel1(float* a, int acs, int depth, float* b, int ldb, float* c, int width)
    {
        Vector512<float> c0 = default, c1 = default;
        bool two = width > 16;
        for (int q = 0; q < depth; q++)
        {
            var ai = Vector512.Create(a[(long)q * acs]);
            c0 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b), c0);
            if (two) c1 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b + 16), c1);
            b += ldb;
        }
        StoreRow(c, c0, c1, width);
    }

    /// <summary>Stores the first <paramref name="width"/> (1..32) floats of [lo, hi] at c, nothing beyond.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, int width)
    {
        if (width >= 16)
        {
            lo.Store(c);
            if (width == 32) hi.Store(c + 16);
            else if (width > 16) Avx512F.MaskStore(c + 16, Mask(width - 16), hi);
        }
        else Avx512F.MaskStore(c, Mask(width), lo);
    }

    /// <summary>All bits set in the first <paramref name="count"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask(int count) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
}
