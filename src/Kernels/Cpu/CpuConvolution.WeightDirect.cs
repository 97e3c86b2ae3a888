using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

// Backward weight with AVX-512 without the GEMM: dW[K, CRS] += dY[K, cols] · col[CRS, cols]ᵀ with the output channels in
// the vector lanes, so that a layer with few taps (conv1 of the MNIST autoencoder: 9) wastes no lanes, where the GEMM pads
// 9 columns to a 32-wide panel. It sums in the GEMM's order, so the result has the GEMM's bits.
internal static partial class CpuConvolution
{
    [ThreadStatic] private static float[]? t_dyT;
    [ThreadStatic] private static float[]? t_weightT;

    /// <summary>Whether backward weight runs through <see cref="AccumulateWeightDirect"/>: AVX-512 present, the output
    /// channels fill whole vectors, and fewer taps (C*R*S) than one 32-wide GEMM panel, which the GEMM would mostly pad
    /// (with more, the GEMM measured faster). Depends on the hardware and the geometry only, never on the thread count.</summary>
    private static bool UseDirectWeight(int outChannels, int crs) => Avx512F.IsSupported && outChannels % 16 == 0 && crs < 32;

    /// <summary>
    /// target[K, CRS] += Σ over images [n0, n1) of dY[n][K, P] · col(x[n])[CRS, P]ᵀ, by groups of
    /// <paramref name="group"/> images, each group summed like one <see cref="CpuGemm"/> product dY[K, nb*P] ·
    /// col[CRS, nb*P]ᵀ accumulated into target: the nb*P positions cut into equal blocks of at most
    /// <see cref="GemmDepthBlock"/>, every block one FMA chain from zero in position order, its sums added to target in
    /// turn. dY is transposed to [nb*P, K] (a position's K gradients in whole vectors) and target to [CRS, K] for the sums.
    /// </summary>
    private static unsafe void AccumulateWeightDirect(float[] x, float[] dy, float[] target, in ConvGeometry g, int crs, int plane, int n0, int n1, int group)
    {
        int k = g.OutChannels;
        float[] tT = Scratch(ref t_weightT, crs * k);
        for (int i = 0; i < k; i++)
        for (int t = 0; t < crs; t++)
            tT[t * k + i] = target[i * crs + t];
        for (int n = n0; n < n1; n += group)
        {
            int nb = Math.Min(group, n1 - n), cols = nb * plane;
            float[] col = Scratch(ref t_col, crs * cols), dyT = Scratch(ref t_dyT, cols * k + 16 * k);
            Im2Col(x, n, nb, col, g);
            fixed (float* pdy = dy, pdyT = dyT, pcol = col, ptT = tT)
            {
                for (int j = 0; j < nb; j++) TransposeGradient(pdy + (long)(n + j) * k * plane, k, plane, pdyT + (long)j * plane * k);
                int blocks = (cols + GemmDepthBlock - 1) / GemmDepthBlock, step = (cols + blocks - 1) / blocks;
                for (int q0 = 0; q0 < cols; q0 += step)
                {
                    int length = Math.Min(step, cols - q0);
                    for (int i = 0; i < k; i += 32)
                    {
                        bool two = k - i >= 32;
                        for (int t = 0; t < crs; t += 12)
                            WeightColumns(pdyT + (long)q0 * k + i, k, two, pcol + (long)t * cols + q0, cols, Math.Min(12, crs - t), length, ptT + (long)t * k + i, k);
                    }
                }
            }
        }
        for (int i = 0; i < k; i++)
        for (int t = 0; t < crs; t++)
            target[i * crs + t] = tT[t * k + i];
    }

    /// <summary>dyT[p*K + kk] = dy[kk*P + p] for one image (K a multiple of 16), by 16 x 16 blocks in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TransposeGradient(float* dy, int k, int plane, float* dyT)
    {
        for (int p = 0; p < plane; p += 16)
        {
            int valid = Math.Min(16, plane - p);
            var m = Mask(valid);
            for (int kb = 0; kb < k; kb += 16)
            {
                float* s = dy + (long)kb * plane + p;
                // steps 1 and 2 for each group of four rows: within each 128-bit lane L, gRc = column 4L + c of the group
                RowGroup(s, plane, m, out var g00, out var g01, out var g02, out var g03);
                RowGroup(s + 4 * plane, plane, m, out var g10, out var g11, out var g12, out var g13);
                RowGroup(s + 8 * plane, plane, m, out var g20, out var g21, out var g22, out var g23);
                RowGroup(s + 12 * plane, plane, m, out var g30, out var g31, out var g32, out var g33);
                float* d = dyT + (long)p * k + kb;
                StoreColumns(g00, g10, g20, g30, d, k, valid, 0);
                StoreColumns(g01, g11, g21, g31, d, k, valid, 1);
                StoreColumns(g02, g12, g22, g32, d, k, valid, 2);
                StoreColumns(g03, g13, g23, g33, d, k, valid, 3);
            }
        }
    }

    /// <summary>Steps 1 and 2 of <see cref="TransposeGradient"/> for rows s, s + plane, s + 2 plane, s + 3 plane: interleave
    /// pairs of rows, then pairs of pairs, so that within each 128-bit lane L, gc holds column 4L + c of the four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowGroup(float* s, int plane, Vector512<float> m,
        out Vector512<float> g0, out Vector512<float> g1, out Vector512<float> g2, out Vector512<float> g3)
    {
        var z = Vector512<float>.Zero;
        var t0 = Avx512F.MaskLoad(s, m, z); var t1 = Avx512F.MaskLoad(s + plane, m, z);
        var t2 = Avx512F.MaskLoad(s + 2 * plane, m, z); var t3 = Avx512F.MaskLoad(s + 3 * plane, m, z);
        var u0 = Avx512F.UnpackLow(t0, t1); var u1 = Avx512F.UnpackHigh(t0, t1);
        var u2 = Avx512F.UnpackLow(t2, t3); var u3 = Avx512F.UnpackHigh(t2, t3);
        g0 = Avx512F.Shuffle(u0, u2, 0x44); g1 = Avx512F.Shuffle(u0, u2, 0xEE);
        g2 = Avx512F.Shuffle(u1, u3, 0x44); g3 = Avx512F.Shuffle(u1, u3, 0xEE);
    }

    /// <summary>Step 3 of <see cref="TransposeGradient"/>: from the four row groups' column-c vectors, the full columns
    /// 4L + c (L = 0..3, 128-bit lanes), each stored as row 4L + c of the transposed block if that column is valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreColumns(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3,
        float* d, int ld, int valid, int c)
    {
        var lo01 = Avx512F.Shuffle4x128(g0, g1, 0x88);   // g0.L0 g0.L2 g1.L0 g1.L2
        var hi01 = Avx512F.Shuffle4x128(g0, g1, 0xDD);   // g0.L1 g0.L3 g1.L1 g1.L3
        var lo23 = Avx512F.Shuffle4x128(g2, g3, 0x88);
        var hi23 = Avx512F.Shuffle4x128(g2, g3, 0xDD);
        if (c < valid) Avx512F.Shuffle4x128(lo01, lo23, 0x88).Store(d + (long)c * ld);              // lane 0: column c
        if (4 + c < valid) Avx512F.Shuffle4x128(hi01, hi23, 0x88).Store(d + (long)(4 + c) * ld);    // lane 1
        if (8 + c < valid) Avx512F.Shuffle4x128(lo01, lo23, 0xDD).Store(d + (long)(8 + c) * ld);    // lane 2
        if (12 + c < valid) Avx512F.Shuffle4x128(hi01, hi23, 0xDD).Store(d + (long)(12 + c) * ld); // lane 3
    }

    /// <summary>
    /// tT[c*ldt + 0..16 (or 32 when <paramref name="two"/>)] += Σ_p dyT[p*ldd + lanes] · col[c*ldc + p] for c &lt; taps
    /// (≤ 12), p &lt; length: every accumulator one FMA chain from zero in p order, added to tT at the end.
    /// Taps past <paramref name="taps"/> repeat tap 0 and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightColumns(float* dyT, int ldd, bool two, float* col, int ldc, int taps, int length, float* tT, int ldt)
    {
        long o1 = taps > 1 ? ldc : 0, o2 = taps > 2 ? 2L * ldc : 0, o3 = taps > 3 ? 3L * ldc : 0, o4 = taps > 4 ? 4L * ldc : 0;
        long o5 = taps > 5 ? 5L * ldc : 0, o6 = taps > 6 ? 6L * ldc : 0, o7 = taps > 7 ? 7L * ldc : 0, o8 = taps > 8 ? 8L * ldc : 0;
        long o9 = taps > 9 ? 9L * ldc : 0, o10 = taps > 10 ? 10L * ldc : 0, o11 = taps > 11 ? 11L * ldc : 0;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
        Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default;
        Vector512<float> b6 = default, b7 = default, b8 = default, b9 = default, b10 = default, b11 = default;
        if (two)
        {
            for (int p = 0; p < length; p++)
            {
                var x = Vector512.Load(dyT);
                var y = Vector512.Load(dyT + 16);
                float* c = col + p;
                var v = Vector512.Create(c[0]); a0 = Vector512.FusedMultiplyAdd(x, v, a0); b0 = Vector512.FusedMultiplyAdd(y, v, b0);
                v = Vector512.Create(c[o1]); a1 = Vector512.FusedMultiplyAdd(x, v, a1); b1 = Vector512.FusedMultiplyAdd(y, v, b1);
                v = Vector512.Create(c[o2]); a2 = Vector512.FusedMultiplyAdd(x, v, a2); b2 = Vector512.FusedMultiplyAdd(y, v, b2);
                v = Vector512.Create(c[o3]); a3 = Vector512.FusedMultiplyAdd(x, v, a3); b3 = Vector512.FusedMultiplyAdd(y, v, b3);
                v = Vector512.Create(c[o4]); a4 = Vector512.FusedMultiplyAdd(x, v, a4); b4 = Vector512.FusedMultiplyAdd(y, v, b4);
                v = Vector512.Create(c[o5]); a5 = Vector512.FusedMultiplyAdd(x, v, a5); b5 = Vector512.FusedMultiplyAdd(y, v, b5);
                v = Vector512.Create(c[o6]); a6 = Vector512.FusedMultiplyAdd(x, v, a6); b6 = Vector512.FusedMultiplyAdd(y, v, b6);
                v = Vector512.Create(c[o7]); a7 = Vector512.FusedMultiplyAdd(x, v, a7); b7 = Vector512.FusedMultiplyAdd(y, v, b7);
                v = Vector512.Create(c[o8]); a8 = Vector512.FusedMultiplyAdd(x, v, a8); b8 = Vector512.FusedMultiplyAdd(y, v, b8);
                v = Vector512.Create(c[o9]); a9 = Vector512.FusedMultiplyAdd(x, v, a9); b9 = Vector512.FusedMultiplyAdd(y, v, b9);
                v = Vector512.Create(c[o10]); a10 = Vector512.FusedMultiplyAdd(x, v, a10); b10 = Vector512.FusedMultiplyAdd(y, v, b10);
                v = Vector512.Create(c[o11]); a11 = Vector512.FusedMultiplyAdd(x, v, a11); b11 = Vector512.FusedMultiplyAdd(y, v, b11);
                dyT += ldd;
            }
        }
        else if (taps <= 9)
        {
            // the conv1 case, 9 taps: no work on the three unused accumulators
            for (int p = 0; p < length; p++)
            {
                var x = Vector512.Load(dyT);
                float* c = col + p;
                a0 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[0]), a0);
                a1 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o1]), a1);
                a2 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o2]), a2);
                a3 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o3]), a3);
                a4 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o4]), a4);
                a5 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o5]), a5);
                a6 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o6]), a6);
                a7 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o7]), a7);
                a8 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o8]), a8);
                dyT += ldd;
            }
        }
        else
        {
            for (int p = 0; p < length; p++)
            {
                var x = Vector512.Load(dyT);
                float* c = col + p;
                a0 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[0]), a0);
                a1 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o1]), a1);
                a2 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o2]), a2);
                a3 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o3]), a3);
                a4 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o4]), a4);
                a5 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o5]), a5);
                a6 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o6]), a6);
                a7 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o7]), a7);
                a8 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o8]), a8);
                a9 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o9]), a9);
                a10 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o10]), a10);
                a11 = Vector512.FusedMultiplyAdd(x, Vector512.Create(c[o11]), a11);
                dyT += ldd;
            }
        }
        Vector512<float>* sums = stackalloc Vector512<float>[24];
        sums[0] = a0; sums[1] = a1; sums[2] = a2; sums[3] = a3; sums[4] = a4; sums[5] = a5;
        sums[6] = a6; sums[7] = a7; sums[8] = a8; sums[9] = a9; sums[10] = a10; sums[11] = a11;
        sums[12] = b0; sums[13] = b1; sums[14] = b2; sums[15] = b3; sums[16] = b4; sums[17] = b5;
        sums[18] = b6; sums[19] = b7; sums[20] = b8; sums[21] = b9; sums[22] = b10; sums[23] = b11;
        for (int c = 0; c < taps; c++)
        {
            float* d = tT + (long)c * ldt;
            (Vector512.Load(d) + sums[c]).Store(d);
            if (two) (Vector512.Load(d + 16) + sums[12 + c]).Store(d + 16);
        }
    }
}
