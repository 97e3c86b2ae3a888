using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

// Forward and backward data image by image: one image's patches (or output gradient) in an L1-resident buffer, multiplied
// by a register-blocked kernel that reads it in place and writes the result straight to its destination.
internal static partial class CpuConvolution
{
    /// <summary>
    /// The depth block of <see cref="CpuGemm"/> (its KC). The blocked GEMM cuts a product's depth (C*R*S for forward, K for
    /// backward data) into equal blocks of at most this many, sums each block in one FMA chain from zero in index order
    /// and adds the blocks' sums to the output in turn; the per-image kernel does the same, so both paths give the same
    /// bits and the choice between them never changes a result.
    /// </summary>
    private const int GemmDepthBlock = 256;

    [ThreadStatic] private static float[]? t_direct;
    [ThreadStatic] private static float[]? t_directOut;

    /// <summary>
    /// Whether images [n0, n1) run through the per-image kernel: AVX-512 present, and either this thread already owns a batch chunk or there are at least as many images as threads
    /// (with fewer, the GEMM path parallelises inside one product instead). The MNIST layers' products are too thin for
    /// the GEMM (conv1: 16 x 25088 x 9 after im2col of a group), which loses its time in packing and in scattering the
    /// [K, nb*P] result back to [nb, K, P].
    /// </summary>
    private static bool UseDirect(int images, CpuParallel? gemm) =>
        Avx512F.IsSupported && (gemm is null || images >= gemm.Threads);

    /// <summary>y[n] = W[K, CRS] · col(x[n]) for images [n0, n1), col unrolled one image at a time.</summary>
    private static unsafe void ForwardDirect(float[] x, float[] w, float[] y, in ConvGeometry g, int crs, int plane, int n0, int n1)
    {
        // col rows start on whole 16-float vectors, so that the product's loads do not straddle cache lines
        int k = g.OutChannels, ld = (plane + 15) & ~15;
        float[] col = Scratch(ref t_direct, crs * ld), wt = Scratch(ref t_directOut, crs * k);
        for (int i = 0; i < k; i++)
        for (int q = 0; q < crs; q++)
            wt[q * k + i] = w[i * crs + q];
        fixed (float* pw = w, pwt = wt, pcol = col, py = y)
        {
            for (int n = n0; n < n1; n++)
            {
                Im2Col(x, n, 1, col, ld, g);
                Product(pw, crs, 1, pwt, k, k, crs, pcol, ld, py + (long)n * k * plane, plane, plane);
            }
        }
    }

    /// <summary>dx[n] += col2im(Wᵀ[CRS, K] · dy[n]) for images [n0, n1).</summary>
    private static unsafe void BackwardDataDirect(float[] dy, float[] w, float[] dx, in ConvGeometry g, int crs, int plane, int n0, int n1)
    {
        int k = g.OutChannels;
        float[] col = Scratch(ref t_directOut, crs * plane);
        fixed (float* pw = w, pdy = dy, pcol = col)
        {
            for (int n = n0; n < n1; n++)
            {
                // dy[n] is [K, P], read in place: the product's loads stay inside each row
                Product(pw, 1, crs, pw, crs, crs, k, pdy + (long)n * k * plane, plane, pcol, plane, plane);
                Col2ImAdd(col, plane, dx, n, g);
            }
        }
    }

    /// <summary>
    /// c[i, p] = Σ_q a[i*ars + q*acs] · b[q*ldb + p] for i &lt; m, p &lt; cols, each element one FMA chain from zero in q
    /// order. <paramref name="aT"/> holds the same matrix with rows in the lanes (aT[q*ldaT + i] = a[i*ars + q*acs]),
    /// for the last cols mod 16 columns, which are summed 16 rows at a time instead of wasting most of a vector each.
    /// Nothing past column cols of b or c is read or written, so b and c may be the tensors themselves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Product(float* a, int ars, int acs, float* aT, int ldaT, int m, int depth, float* b, int ldb, float* c, int ldc, int cols)
    {
        // the GEMM's depth blocks: equal, at most GemmDepthBlock; the first overwrites c, the others add to it
        int blocks = (depth + GemmDepthBlock - 1) / GemmDepthBlock, step = (depth + blocks - 1) / blocks;
        for (int q0 = 0; q0 < depth; q0 += step)
            ProductBlock(a + (long)q0 * acs, ars, acs, aT + (long)q0 * ldaT, ldaT, m, Math.Min(step, depth - q0), b + (long)q0 * ldb, ldb, c, ldc, cols, q0 > 0);
    }

    /// <summary>One depth block of <see cref="Product"/>: c = the block's sums, or c += them when <paramref name="add"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ProductBlock(float* a, int ars, int acs, float* aT, int ldaT, int m, int depth, float* b, int ldb, float* c, int ldc, int cols, bool add)
    {
        int p = 0;
        for (; p + 48 <= cols; p += 48)
        {
            int i = 0;
            for (; i + 8 <= m; i += 8) Kernel8x48(a + (long)i * ars, ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, ldc, add);
            for (; i < m; i++) Kernel1x48(a + (long)i * ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, add);
        }
        for (; cols - p >= 16;)
        {
            int width = cols - p >= 32 ? 32 : 16;
            int i = 0;
            for (; i + 8 <= m; i += 8) CpuGemm.Kernel8Rows(a + (long)i * ars, ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, ldc, width, add);
            for (; i < m; i++) Kernel1(a + (long)i * ars, acs, depth, b + p, ldb, c + (long)i * ldc + p, width, add);
            p += width;
        }
        for (; p < cols; p += 4)
        for (int i = 0; i < m; i += 32)
            ColumnKernel(aT + i, ldaT, Math.Min(32, m - i), depth, b + p, ldb, c + (long)i * ldc + p, ldc, Math.Min(4, cols - p), add);
    }

    /// <summary>Eight rows of c by 48 columns: 24 accumulators, three loads of b and eight broadcasts of a per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel8x48(float* a, int ars, int acs, int depth, float* b, int ldb, float* c, int ldc, bool add)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        long r1 = ars, r2 = 2L * ars, r3 = 3L * ars, r4 = 4L * ars, r5 = 5L * ars, r6 = 6L * ars, r7 = 7L * ars;
        for (int q = 0; q < depth; q++)
        {
            float* aq = a + (long)q * acs;
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var ai = Vector512.Create(aq[0]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01); c02 = Vector512.FusedMultiplyAdd(ai, b2, c02);
            ai = Vector512.Create(aq[r1]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11); c12 = Vector512.FusedMultiplyAdd(ai, b2, c12);
            ai = Vector512.Create(aq[r2]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21); c22 = Vector512.FusedMultiplyAdd(ai, b2, c22);
            ai = Vector512.Create(aq[r3]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31); c32 = Vector512.FusedMultiplyAdd(ai, b2, c32);
            ai = Vector512.Create(aq[r4]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41); c42 = Vector512.FusedMultiplyAdd(ai, b2, c42);
            ai = Vector512.Create(aq[r5]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51); c52 = Vector512.FusedMultiplyAdd(ai, b2, c52);
            ai = Vector512.Create(aq[r6]);
            c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61); c62 = Vector512.FusedMultiplyAdd(ai, b2, c62);
            ai = Vector512.Create(aq[r7]);
            c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71); c72 = Vector512.FusedMultiplyAdd(ai, b2, c72);
            b += ldb;
        }
        Store48(c, c00, c01, c02, add); c += ldc;
        Store48(c, c10, c11, c12, add); c += ldc;
        Store48(c, c20, c21, c22, add); c += ldc;
        Store48(c, c30, c31, c32, add); c += ldc;
        Store48(c, c40, c41, c42, add); c += ldc;
        Store48(c, c50, c51, c52, add); c += ldc;
        Store48(c, c60, c61, c62, add); c += ldc;
        Store48(c, c70, c71, c72, add);
    }

    /// <summary>
    /// Up to 32 rows (two vectors of lanes, from aT) by up to 4 columns of c: eight accumulators, each still one FMA chain
    /// from zero in q order, so the result has the bits of the row-wise kernels. Unused columns repeat column 0 and
    /// are not stored; rows past m are loaded as 0 and not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ColumnKernel(float* aT, int ldaT, int rows, int depth, float* b, int ldb, float* c, int ldc, int cols, bool add)
    {
        var mask0 = Mask(Math.Min(rows, 16));
        var mask1 = Mask(Math.Max(rows - 16, 0));
        long o1 = cols > 1 ? 1 : 0, o2 = cols > 2 ? 2 : 0, o3 = cols > 3 ? 3 : 0;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        var z = Vector512<float>.Zero;
        for (int q = 0; q < depth; q++)
        {
            float* aq = aT + (long)q * ldaT;
            var x0 = Avx512F.MaskLoad(aq, mask0, z);
            var x1 = Avx512F.MaskLoad(aq + 16, mask1, z);
            var y = Vector512.Create(b[0]);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            y = Vector512.Create(b[o1]);
            c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
            y = Vector512.Create(b[o2]);
            c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
            y = Vector512.Create(b[o3]);
            c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
            b += ldb;
        }
        float* lanes = stackalloc float[128];
        c00.Store(lanes); c10.Store(lanes + 16); c01.Store(lanes + 32); c11.Store(lanes + 48);
        c02.Store(lanes + 64); c12.Store(lanes + 80); c03.Store(lanes + 96); c13.Store(lanes + 112);
        for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++)
        {
            float* d = c + (long)i * ldc + j;
            *d = add ? *d + lanes[j * 32 + i] : lanes[j * 32 + i];
        }
    }

    /// <summary>One row of c by 48 columns (the rows left over below a multiple of eight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel1x48(float* a, int acs, int depth, float* b, int ldb, float* c, bool add)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default;
        for (int q = 0; q < depth; q++)
        {
            var ai = Vector512.Create(a[(long)q * acs]);
            c0 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b), c0);
            c1 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b + 16), c1);
            c2 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b + 32), c2);
            b += ldb;
        }
        Store48(c, c0, c1, c2, add);
    }

    /// <summary>One row of c by up to 32 columns (the rows left over below a multiple of eight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel1(float* a, int acs, int depth, float* b, int ldb, float* c, int width, bool add)
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
        CpuGemm.StoreRow(c, c0, c1, width, add);
    }

    /// <summary>Stores (or with <paramref name="add"/> adds) 48 floats at c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store48(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool add)
    {
        if (add)
        {
            v0 = Vector512.Load(c) + v0; v1 = Vector512.Load(c + 16) + v1; v2 = Vector512.Load(c + 32) + v2;
        }
        v0.Store(c); v1.Store(c + 16); v2.Store(c + 32);
    }

    /// <summary>All bits set in the first <paramref name="count"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask(int count) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
}
