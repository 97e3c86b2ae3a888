using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

// Backward weight with AVX-512: dW[K, CRS] += dY[K, P] · col[CRS, P]ᵀ as blocks of dot products whose vector lanes run
// along the long summed dimension (images x output positions), so that a layer with few output channels or taps (conv1
// of the MNIST autoencoder: 16 x 9) keeps every lane busy, where a GEMM would pad its 9 columns to a 32-wide panel.
internal static partial class CpuConvolution
{
    /// <summary>Whether backward weight runs through <see cref="AccumulateWeightDirect"/>: AVX-512 present. The choice
    /// depends on the hardware only, never on the thread count.</summary>
    private static bool UseDirectWeight => Avx512F.IsSupported;

    /// <summary>Images per part of a direct weight gradient: as many as keep a part's col[CRS, nb*P] near 64K floats
    /// (256 KiB, inside L2), at most 8 so that a batch of 128 gives 16 parts to share among the threads.</summary>
    private static int DirectWeightImages(int crs, int plane) => Math.Clamp((1 << 16) / Math.Max(1, crs * plane), 1, 8);

    /// <summary>
    /// target[K, CRS] += Σ over images [n0, n1) of dY[n][K, P] · col(x[n])[CRS, P]ᵀ. With a small plane (under 128
    /// positions: 7 x 7) dY is first gathered to [K, nb*P] so that the dot products run over one contiguous row; otherwise
    /// they run image by image straight from dy, the last vector of every image masked.
    /// </summary>
    private static unsafe void AccumulateWeightDirect(float[] x, float[] dy, float[] target, in ConvGeometry g, int crs, int plane, int n0, int n1)
    {
        int k = g.OutChannels;
        bool gather = plane < 128;
        int nb = n1 - n0, cols = nb * plane;
        float[] col = Scratch(ref t_col, crs * cols);
        Im2Col(x, n0, nb, col, g);
        float[] a = dy;
        int aOffset = n0 * k * plane, lda = plane, length = plane, segments = nb;
        long aStep = (long)k * plane, bStep = plane;
        if (gather)
        {
            (a, aOffset) = GradientByChannel(dy, n0, nb, k, plane);
            lda = cols; length = cols; segments = 1; aStep = 0; bStep = 0;
        }
        fixed (float* pa = a, pb = col, pt = target)
        {
            float* dyRows = pa + aOffset;
            if (k >= 8)
            {
                for (int i = 0; i < k; i += 8)
                for (int j = 0; j < crs; j += 3)
                    WeightBlock(dyRows + (long)i * lda, lda, aStep, Math.Min(8, k - i), pb + (long)j * cols, cols, bStep,
                        Math.Min(3, crs - j), segments, length, pt + (long)i * crs + j, crs, 1);
            }
            else
            {
                // few output channels (the last layer of a decoder has one): taps in the block's eight rows instead
                for (int j = 0; j < crs; j += 8)
                for (int i = 0; i < k; i += 3)
                    WeightBlock(pb + (long)j * cols, cols, bStep, Math.Min(8, crs - j), dyRows + (long)i * lda, lda, aStep,
                        Math.Min(3, k - i), segments, length, pt + (long)i * crs + j, 1, crs);
            }
        }
    }

    /// <summary>
    /// t[r*tr + c*tc] += Σ_s Σ_p a[s*aStep + r*lda + p] · b[s*bStep + c*ldb + p] for r &lt; rows (≤ 8), c &lt; cols (≤ 3),
    /// over segments s of <paramref name="length"/> positions p: 24 accumulators, each summed lane by lane in (s, p)
    /// order and then across its lanes. Rows and columns beyond rows and cols repeat row or column 0 and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightBlock(float* a, int lda, long aStep, int rows, float* b, int ldb, long bStep, int cols,
        int segments, int length, float* t, int tr, int tc)
    {
        long r1 = rows > 1 ? lda : 0, r2 = rows > 2 ? 2L * lda : 0, r3 = rows > 3 ? 3L * lda : 0, r4 = rows > 4 ? 4L * lda : 0;
        long r5 = rows > 5 ? 5L * lda : 0, r6 = rows > 6 ? 6L * lda : 0, r7 = rows > 7 ? 7L * lda : 0;
        long o1 = cols > 1 ? ldb : 0, o2 = cols > 2 ? 2L * ldb : 0;
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        int full = length & ~15;
        var tail = Mask(length - full);
        var z = Vector512<float>.Zero;
        for (int s = 0; s < segments; s++)
        {
            for (int p = 0; p < length; p += 16)
            {
                Vector512<float> y0, y1, y2, x;
                float* ap = a + p, bp = b + p;
                if (p < full)
                {
                    y0 = Vector512.Load(bp); y1 = Vector512.Load(bp + o1); y2 = Vector512.Load(bp + o2);
                    x = Vector512.Load(ap);
                    c00 = Vector512.FusedMultiplyAdd(x, y0, c00); c01 = Vector512.FusedMultiplyAdd(x, y1, c01); c02 = Vector512.FusedMultiplyAdd(x, y2, c02);
                    x = Vector512.Load(ap + r1);
                    c10 = Vector512.FusedMultiplyAdd(x, y0, c10); c11 = Vector512.FusedMultiplyAdd(x, y1, c11); c12 = Vector512.FusedMultiplyAdd(x, y2, c12);
                    x = Vector512.Load(ap + r2);
                    c20 = Vector512.FusedMultiplyAdd(x, y0, c20); c21 = Vector512.FusedMultiplyAdd(x, y1, c21); c22 = Vector512.FusedMultiplyAdd(x, y2, c22);
                    x = Vector512.Load(ap + r3);
                    c30 = Vector512.FusedMultiplyAdd(x, y0, c30); c31 = Vector512.FusedMultiplyAdd(x, y1, c31); c32 = Vector512.FusedMultiplyAdd(x, y2, c32);
                    x = Vector512.Load(ap + r4);
                    c40 = Vector512.FusedMultiplyAdd(x, y0, c40); c41 = Vector512.FusedMultiplyAdd(x, y1, c41); c42 = Vector512.FusedMultiplyAdd(x, y2, c42);
                    x = Vector512.Load(ap + r5);
                    c50 = Vector512.FusedMultiplyAdd(x, y0, c50); c51 = Vector512.FusedMultiplyAdd(x, y1, c51); c52 = Vector512.FusedMultiplyAdd(x, y2, c52);
                    x = Vector512.Load(ap + r6);
                    c60 = Vector512.FusedMultiplyAdd(x, y0, c60); c61 = Vector512.FusedMultiplyAdd(x, y1, c61); c62 = Vector512.FusedMultiplyAdd(x, y2, c62);
                    x = Vector512.Load(ap + r7);
                    c70 = Vector512.FusedMultiplyAdd(x, y0, c70); c71 = Vector512.FusedMultiplyAdd(x, y1, c71); c72 = Vector512.FusedMultiplyAdd(x, y2, c72);
                }
                else
                {
                    // the last, partial vector of a segment: lanes past it read as 0 in both factors
                    y0 = Avx512F.MaskLoad(bp, tail, z); y1 = Avx512F.MaskLoad(bp + o1, tail, z); y2 = Avx512F.MaskLoad(bp + o2, tail, z);
                    x = Avx512F.MaskLoad(ap, tail, z);
                    c00 = Vector512.FusedMultiplyAdd(x, y0, c00); c01 = Vector512.FusedMultiplyAdd(x, y1, c01); c02 = Vector512.FusedMultiplyAdd(x, y2, c02);
                    x = Avx512F.MaskLoad(ap + r1, tail, z);
                    c10 = Vector512.FusedMultiplyAdd(x, y0, c10); c11 = Vector512.FusedMultiplyAdd(x, y1, c11); c12 = Vector512.FusedMultiplyAdd(x, y2, c12);
                    x = Avx512F.MaskLoad(ap + r2, tail, z);
                    c20 = Vector512.FusedMultiplyAdd(x, y0, c20); c21 = Vector512.FusedMultiplyAdd(x, y1, c21); c22 = Vector512.FusedMultiplyAdd(x, y2, c22);
                    x = Avx512F.MaskLoad(ap + r3, tail, z);
                    c30 = Vector512.FusedMultiplyAdd(x, y0, c30); c31 = Vector512.FusedMultiplyAdd(x, y1, c31); c32 = Vector512.FusedMultiplyAdd(x, y2, c32);
                    x = Avx512F.MaskLoad(ap + r4, tail, z);
                    c40 = Vector512.FusedMultiplyAdd(x, y0, c40); c41 = Vector512.FusedMultiplyAdd(x, y1, c41); c42 = Vector512.FusedMultiplyAdd(x, y2, c42);
                    x = Avx512F.MaskLoad(ap + r5, tail, z);
                    c50 = Vector512.FusedMultiplyAdd(x, y0, c50); c51 = Vector512.FusedMultiplyAdd(x, y1, c51); c52 = Vector512.FusedMultiplyAdd(x, y2, c52);
                    x = Avx512F.MaskLoad(ap + r6, tail, z);
                    c60 = Vector512.FusedMultiplyAdd(x, y0, c60); c61 = Vector512.FusedMultiplyAdd(x, y1, c61); c62 = Vector512.FusedMultiplyAdd(x, y2, c62);
                    x = Avx512F.MaskLoad(ap + r7, tail, z);
                    c70 = Vector512.FusedMultiplyAdd(x, y0, c70); c71 = Vector512.FusedMultiplyAdd(x, y1, c71); c72 = Vector512.FusedMultiplyAdd(x, y2, c72);
                }
            }
            a += aStep; b += bStep;
        }
        AddRow(t, tc, c00, c01, c02, cols);
        if (rows > 1) AddRow(t + tr, tc, c10, c11, c12, cols);
        if (rows > 2) AddRow(t + 2L * tr, tc, c20, c21, c22, cols);
        if (rows > 3) AddRow(t + 3L * tr, tc, c30, c31, c32, cols);
        if (rows > 4) AddRow(t + 4L * tr, tc, c40, c41, c42, cols);
        if (rows > 5) AddRow(t + 5L * tr, tc, c50, c51, c52, cols);
        if (rows > 6) AddRow(t + 6L * tr, tc, c60, c61, c62, cols);
        if (rows > 7) AddRow(t + 7L * tr, tc, c70, c71, c72, cols);
    }

    /// <summary>t[c*tc] += the lane sum of the c-th vector, for c &lt; cols.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddRow(float* t, int tc, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, int cols)
    {
        t[0] += Vector512.Sum(v0);
        if (cols > 1) t[tc] += Vector512.Sum(v1);
        if (cols > 2) t[2L * tc] += Vector512.Sum(v2);
    }
}
