using ILGPU;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// C[m, n] (+)= alpha op(A) op(B) with shared-memory tiles and register blocking, all four transpose
/// variants in one kernel (the flags only change how a tile is loaded; the inner loop is the same).
/// Threads are 16x16 per group. Thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j of the block
/// tile, so a warp's shared-memory reads are broadcasts (A) or consecutive (B), and its stores to C are
/// coalesced. Tiles are stored k-major ([k][m] and [k][n]) with a small pad that keeps the transposing
/// stores free of bank conflicts. Accumulators are structs of scalars, which ILGPU keeps in registers.
/// Two sizes: 128x128 (8x8 per thread, k-step 8) for large products, 64x64 (4x4 per thread, k-step 16)
/// when the large tile would leave multiprocessors idle. A grid z-dimension splits k (split-K): each slice
/// writes its own partial product at <see cref="GemmArgs.SliceStride"/> and a reduction adds them up.
/// </summary>
internal static class GemmKernels
{
    public struct GemmArgs
    {
        public int M, N, K, TransposeA, TransposeB, Accumulate;
        public float Alpha;
        /// <summary>k-range of one grid z-slice, and the distance between slices' outputs in C.</summary>
        public int KSlice, SliceStride;
    }

    public const int Threads = 16;

    // ---- 64x64 tile, 4x4 per thread -----------------------------------------------------------------

    public const int SmallTile = 64;
    private const int SmallK = 16;
    private const int SmallPitch = SmallTile + 2;

    public static void Gemm64(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g)
    {
        var tileA = SharedMemory.Allocate<float>(SmallK * SmallPitch);
        var tileB = SharedMemory.Allocate<float>(SmallK * SmallPitch);
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * Threads + tx;
        int row0 = Grid.IdxY * SmallTile, col0 = Grid.IdxX * SmallTile;
        int kBegin = Grid.IdxZ * g.KSlice;
        int kEnd = kBegin + g.KSlice < g.K ? kBegin + g.KSlice : g.K;
        Vec4 c0 = default, c1 = default, c2 = default, c3 = default;

        for (int k0 = kBegin; k0 < kEnd; k0 += SmallK)
        {
            for (int l = 0; l < SmallTile * SmallK / (Threads * Threads); l++)
            {
                int e = tid + l * Threads * Threads;
                int i, p;
                if (g.TransposeA != 0) { i = e & (SmallTile - 1); p = e / SmallTile; }
                else { p = e & (SmallK - 1); i = e / SmallK; }
                int gi = row0 + i, gp = k0 + p;
                float v = 0f;
                if (gi < g.M && gp < kEnd) v = g.TransposeA != 0 ? a[gp * g.M + gi] : a[gi * g.K + gp];
                tileA[p * SmallPitch + i] = v;

                int j;
                if (g.TransposeB != 0) { p = e & (SmallK - 1); j = e / SmallK; }
                else { j = e & (SmallTile - 1); p = e / SmallTile; }
                int gj = col0 + j;
                gp = k0 + p;
                v = 0f;
                if (gj < g.N && gp < kEnd) v = g.TransposeB != 0 ? b[gj * g.K + gp] : b[gp * g.N + gj];
                tileB[p * SmallPitch + j] = v;
            }
            Group.Barrier();
            for (int p = 0; p < SmallK; p++)
            {
                int ra = p * SmallPitch + ty, rb = p * SmallPitch + tx;
                var bv = new Vec4(tileB[rb], tileB[rb + 16], tileB[rb + 32], tileB[rb + 48]);
                c0 = Vec4.Fma(c0, tileA[ra], bv);
                c1 = Vec4.Fma(c1, tileA[ra + 16], bv);
                c2 = Vec4.Fma(c2, tileA[ra + 32], bv);
                c3 = Vec4.Fma(c3, tileA[ra + 48], bv);
            }
            Group.Barrier();
        }

        int out0 = Grid.IdxZ * g.SliceStride;
        int col = col0 + tx;
        Store(c, out0, g, row0 + ty, col, c0);
        Store(c, out0, g, row0 + ty + 16, col, c1);
        Store(c, out0, g, row0 + ty + 32, col, c2);
        Store(c, out0, g, row0 + ty + 48, col, c3);
    }

    private static void Store(ArrayView<float> c, int slice, GemmArgs g, int row, int col, Vec4 v)
    {
        if (row >= g.M) return;
        int o = slice + row * g.N + col;
        Put(c, g, o, col, v.X);
        Put(c, g, o + 16, col + 16, v.Y);
        Put(c, g, o + 32, col + 32, v.Z);
        Put(c, g, o + 48, col + 48, v.W);
    }

    private static void Put(ArrayView<float> c, GemmArgs g, int offset, int col, float value)
    {
        if (col >= g.N) return;
        value *= g.Alpha;
        c[offset] = g.Accumulate != 0 ? c[offset] + value : value;
    }

    // ---- 128x128 tile, 8x8 per thread ---------------------------------------------------------------

    public const int LargeTile = 128;
    private const int LargeK = 8;
    private const int LargePitch = LargeTile + 4;

    public static void Gemm128(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g)
    {
        var tileA = SharedMemory.Allocate<float>(LargeK * LargePitch);
        var tileB = SharedMemory.Allocate<float>(LargeK * LargePitch);
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * Threads + tx;
        int row0 = Grid.IdxY * LargeTile, col0 = Grid.IdxX * LargeTile;
        int kBegin = Grid.IdxZ * g.KSlice;
        int kEnd = kBegin + g.KSlice < g.K ? kBegin + g.KSlice : g.K;
        Vec8 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;

        for (int k0 = kBegin; k0 < kEnd; k0 += LargeK)
        {
            for (int l = 0; l < LargeTile * LargeK / (Threads * Threads); l++)
            {
                int e = tid + l * Threads * Threads;
                int i, p;
                if (g.TransposeA != 0) { i = e & (LargeTile - 1); p = e / LargeTile; }
                else { p = e & (LargeK - 1); i = e / LargeK; }
                int gi = row0 + i, gp = k0 + p;
                float v = 0f;
                if (gi < g.M && gp < kEnd) v = g.TransposeA != 0 ? a[gp * g.M + gi] : a[gi * g.K + gp];
                tileA[p * LargePitch + i] = v;

                int j;
                if (g.TransposeB != 0) { p = e & (LargeK - 1); j = e / LargeK; }
                else { j = e & (LargeTile - 1); p = e / LargeTile; }
                int gj = col0 + j;
                gp = k0 + p;
                v = 0f;
                if (gj < g.N && gp < kEnd) v = g.TransposeB != 0 ? b[gj * g.K + gp] : b[gp * g.N + gj];
                tileB[p * LargePitch + j] = v;
            }
            Group.Barrier();
            for (int p = 0; p < LargeK; p++)
            {
                int ra = p * LargePitch + ty, rb = p * LargePitch + tx;
                var bv = new Vec8(tileB[rb], tileB[rb + 16], tileB[rb + 32], tileB[rb + 48],
                                  tileB[rb + 64], tileB[rb + 80], tileB[rb + 96], tileB[rb + 112]);
                c0 = Vec8.Fma(c0, tileA[ra], bv);
                c1 = Vec8.Fma(c1, tileA[ra + 16], bv);
                c2 = Vec8.Fma(c2, tileA[ra + 32], bv);
                c3 = Vec8.Fma(c3, tileA[ra + 48], bv);
                c4 = Vec8.Fma(c4, tileA[ra + 64], bv);
                c5 = Vec8.Fma(c5, tileA[ra + 80], bv);
                c6 = Vec8.Fma(c6, tileA[ra + 96], bv);
                c7 = Vec8.Fma(c7, tileA[ra + 112], bv);
            }
            Group.Barrier();
        }

        int out0 = Grid.IdxZ * g.SliceStride;
        int col = col0 + tx;
        Store(c, out0, g, row0 + ty, col, c0);
        Store(c, out0, g, row0 + ty + 16, col, c1);
        Store(c, out0, g, row0 + ty + 32, col, c2);
        Store(c, out0, g, row0 + ty + 48, col, c3);
        Store(c, out0, g, row0 + ty + 64, col, c4);
        Store(c, out0, g, row0 + ty + 80, col, c5);
        Store(c, out0, g, row0 + ty + 96, col, c6);
        Store(c, out0, g, row0 + ty + 112, col, c7);
    }

    private static void Store(ArrayView<float> c, int slice, GemmArgs g, int row, int col, Vec8 v)
    {
        if (row >= g.M) return;
        int o = slice + row * g.N + col;
        Put(c, g, o, col, v.V0);
        Put(c, g, o + 16, col + 16, v.V1);
        Put(c, g, o + 32, col + 32, v.V2);
        Put(c, g, o + 48, col + 48, v.V3);
        Put(c, g, o + 64, col + 64, v.V4);
        Put(c, g, o + 80, col + 80, v.V5);
        Put(c, g, o + 96, col + 96, v.V6);
        Put(c, g, o + 112, col + 112, v.V7);
    }

    /// <summary>Four accumulators held as scalars (registers).</summary>
    public readonly struct Vec4(float x, float y, float z, float w)
    {
        public readonly float X = x, Y = y, Z = z, W = w;

        /// <summary>acc + s * b, element by element.</summary>
        public static Vec4 Fma(Vec4 acc, float s, Vec4 b) =>
            new(acc.X + s * b.X, acc.Y + s * b.Y, acc.Z + s * b.Z, acc.W + s * b.W);
    }

    /// <summary>Eight accumulators held as scalars (registers).</summary>
    public readonly struct Vec8(float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7)
    {
        public readonly float V0 = v0, V1 = v1, V2 = v2, V3 = v3, V4 = v4, V5 = v5, V6 = v6, V7 = v7;

        public static Vec8 Fma(Vec8 acc, float s, Vec8 b) =>
            new(acc.V0 + s * b.V0, acc.V1 + s * b.V1, acc.V2 + s * b.V2, acc.V3 + s * b.V3,
                acc.V4 + s * b.V4, acc.V5 + s * b.V5, acc.V6 + s * b.V6, acc.V7 + s * b.V7);
    }
}
