using System.Runtime.InteropServices;
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
/// A third kernel, <see cref="Gemm128Vector"/>, moves data 16 bytes at a time (ld/st .v4.f32 in global and
/// shared memory) when m, n, k and the views' offsets are multiples of 4.
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
            LoadTiles(a, b, tileA, tileB, g, row0, col0, k0, kEnd, tid, SmallTile, SmallK, SmallPitch);
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

    /// <summary>
    /// Stores this thread's share of one k-step's A and B tiles ([kStep][tile], rows padded to <paramref name="pitch"/>),
    /// zero outside the matrices and the k-slice. Shared by both scalar kernels; ILGPU inlines it, so the tile sizes
    /// (passed as constants) still fold into shifts and masks.
    /// </summary>
    private static void LoadTiles(ArrayView<float> a, ArrayView<float> b, ArrayView<float> tileA, ArrayView<float> tileB, GemmArgs g,
        int row0, int col0, int k0, int kEnd, int tid, int tile, int kStep, int pitch)
    {
        for (int l = 0; l < tile * kStep / (Threads * Threads); l++)
        {
            int e = tid + l * Threads * Threads;
            int i, p;
            if (g.TransposeA != 0) { i = e & (tile - 1); p = e / tile; }
            else { p = e & (kStep - 1); i = e / kStep; }
            int gi = row0 + i, gp = k0 + p;
            float v = 0f;
            if (gi < g.M && gp < kEnd) v = g.TransposeA != 0 ? a[gp * g.M + gi] : a[gi * g.K + gp];
            tileA[p * pitch + i] = v;

            int j;
            if (g.TransposeB != 0) { p = e & (kStep - 1); j = e / kStep; }
            else { j = e & (tile - 1); p = e / tile; }
            int gj = col0 + j;
            gp = k0 + p;
            v = 0f;
            if (gj < g.N && gp < kEnd) v = g.TransposeB != 0 ? b[gj * g.K + gp] : b[gp * g.N + gj];
            tileB[p * pitch + j] = v;
        }
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
            LoadTiles(a, b, tileA, tileB, g, row0, col0, k0, kEnd, tid, LargeTile, LargeK, LargePitch);
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

    // ---- 128x128 tile, 8x8 per thread, 16-byte loads and stores -----------------------------------
    //
    // Same block tile as Gemm128, but every memory access moves a Float4 (ILGPU emits ld/st .v4.f32 for a
    // 16-byte struct): one global load per operand per thread and k-step, and per k-step 4 shared-memory
    // loads for 64 FMAs (Gemm128: 16 loads). Thread (tx, ty) owns rows 4 ty + i and 64 + 4 ty + i and columns
    // 4 tx + j and 64 + 4 tx + j: the two halves keep a warp's vector reads of B contiguous (no bank conflicts)
    // and its stores to C coalesced (16 threads x 16 bytes per row). The next tile is loaded into registers
    // while the current one is multiplied. Needs m, n, k and the three views' offsets to be multiples of 4.

    private const int VectorK = 8;
    private const int VectorPitch4 = LargeTile / 4 + 1;   // a k-row of a tile, in Float4s (pad: conflict-free transposing stores)
    private const int VectorPitch = VectorPitch4 * 4;

    /// <summary>Four consecutive floats, loaded and stored as one 16-byte access.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Float4(float x, float y, float z, float w)
    {
        public float X = x, Y = y, Z = z, W = w;
    }

    /// <summary>The 8x8 accumulators of one thread: row i of its block is R{i}.</summary>
    public readonly struct Acc8x8(Vec8 r0, Vec8 r1, Vec8 r2, Vec8 r3, Vec8 r4, Vec8 r5, Vec8 r6, Vec8 r7)
    {
        public readonly Vec8 R0 = r0, R1 = r1, R2 = r2, R3 = r3, R4 = r4, R5 = r5, R6 = r6, R7 = r7;
    }

    /// <summary>True when <see cref="Gemm128Vector"/> may run: every access it makes is a whole, aligned Float4.</summary>
    public static bool VectorReady(int m, int n, int k, long offsetA, long offsetB, long offsetC) =>
        ((m | n | k) & 3) == 0 && ((offsetA | offsetB | offsetC) & 3) == 0;

    public static void Gemm128Vector(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g)
    {
        var tileA = SharedMemory.Allocate<Float4>(VectorK * VectorPitch4);
        var tileB = SharedMemory.Allocate<Float4>(VectorK * VectorPitch4);
        var a4 = a.Cast<Float4>();
        var b4 = b.Cast<Float4>();
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * Threads + tx;
        int row0 = Grid.IdxY * LargeTile, col0 = Grid.IdxX * LargeTile;
        int kBegin = Grid.IdxZ * g.KSlice;
        int kEnd = kBegin + g.KSlice < g.K ? kBegin + g.KSlice : g.K;

        Float4 nextA = LoadA(a4, g, row0, kBegin, kEnd, tid);
        Float4 nextB = LoadB(b4, g, col0, kBegin, kEnd, tid);
        Acc8x8 acc = default;
        for (int k0 = kBegin; k0 < kEnd; k0 += VectorK)
        {
            StoreTile(tileA, nextA, g.TransposeA == 0, tid);
            StoreTile(tileB, nextB, g.TransposeB != 0, tid);
            Group.Barrier();
            if (k0 + VectorK < kEnd)
            {
                nextA = LoadA(a4, g, row0, k0 + VectorK, kEnd, tid);
                nextB = LoadB(b4, g, col0, k0 + VectorK, kEnd, tid);
            }
            // A loop, not 8 straight-line steps: ILGPU 1.5.3 moved straight-line shared-memory reads below the
            // barrier that ends the iteration (seen in the PTX), which would let a fast warp overwrite the tile
            // while a slow one still reads it. PtxInspectorTests checks every shared read sits between the barriers.
            for (int p = 0; p < VectorK; p++)
                acc = Step(acc, tileA, tileB, p * VectorPitch4, tx, ty);
            Group.Barrier();
        }

        int slice = Grid.IdxZ * g.SliceStride;
        int rowA = row0 + 4 * ty, rowB = row0 + 64 + 4 * ty, colA = col0 + 4 * tx, colB = col0 + 64 + 4 * tx;
        var c4 = c.Cast<Float4>();
        StoreRow(c4, g, slice, rowA, colA, colB, acc.R0);
        StoreRow(c4, g, slice, rowA + 1, colA, colB, acc.R1);
        StoreRow(c4, g, slice, rowA + 2, colA, colB, acc.R2);
        StoreRow(c4, g, slice, rowA + 3, colA, colB, acc.R3);
        StoreRow(c4, g, slice, rowB, colA, colB, acc.R4);
        StoreRow(c4, g, slice, rowB + 1, colA, colB, acc.R5);
        StoreRow(c4, g, slice, rowB + 2, colA, colB, acc.R6);
        StoreRow(c4, g, slice, rowB + 3, colA, colB, acc.R7);
    }

    /// <summary>
    /// This thread's Float4 of the A tile for k-step <paramref name="k0"/>: four k values of one row when A is
    /// [m, k] (thread t: row t / 2, k offset 4 (t % 2)), four rows of one k when A is stored [k, m] (k t / 32,
    /// rows 4 (t % 32)). Zero outside the matrix or the k-slice.
    /// </summary>
    private static Float4 LoadA(ArrayView<Float4> a4, GemmArgs g, int row0, int k0, int kEnd, int tid)
    {
        if (g.TransposeA == 0)
        {
            int row = row0 + (tid >> 1), k = k0 + ((tid & 1) << 2);
            return row < g.M && k < kEnd ? a4[(row * g.K + k) >> 2] : default;
        }
        int kk = k0 + (tid >> 5), r = row0 + ((tid & 31) << 2);
        return r < g.M && kk < kEnd ? a4[(kk * g.M + r) >> 2] : default;
    }

    /// <summary>The B tile's Float4: four columns of one k when B is [k, n], four k values of one column when B is stored [n, k].</summary>
    private static Float4 LoadB(ArrayView<Float4> b4, GemmArgs g, int col0, int k0, int kEnd, int tid)
    {
        if (g.TransposeB == 0)
        {
            int k = k0 + (tid >> 5), col = col0 + ((tid & 31) << 2);
            return col < g.N && k < kEnd ? b4[(k * g.N + col) >> 2] : default;
        }
        int column = col0 + (tid >> 1), kk = k0 + ((tid & 1) << 2);
        return column < g.N && kk < kEnd ? b4[(column * g.K + kk) >> 2] : default;
    }

    /// <summary>
    /// Writes a loaded Float4 into a k-major tile ([k][128] floats, rows padded to <see cref="VectorPitch"/>). Along k
    /// (<paramref name="alongK"/>: four k values of one row or column) it is split into four scalar stores;
    /// otherwise it is one vector store.
    /// </summary>
    private static void StoreTile(ArrayView<Float4> tile, Float4 v, bool alongK, int tid)
    {
        if (!alongK)
        {
            tile[(tid >> 5) * VectorPitch4 + (tid & 31)] = v;
            return;
        }
        var floats = tile.Cast<float>();
        int i = tid >> 1, k = (tid & 1) << 2;
        floats[k * VectorPitch + i] = v.X;
        floats[(k + 1) * VectorPitch + i] = v.Y;
        floats[(k + 2) * VectorPitch + i] = v.Z;
        floats[(k + 3) * VectorPitch + i] = v.W;
    }

    /// <summary>One k of the 8x8 outer product: 4 vector loads from shared memory, 64 multiply-adds.</summary>
    private static Acc8x8 Step(Acc8x8 acc, ArrayView<Float4> tileA, ArrayView<Float4> tileB, int kRow, int tx, int ty)
    {
        Float4 a0 = tileA[kRow + ty], a1 = tileA[kRow + 16 + ty];
        Float4 b0 = tileB[kRow + tx], b1 = tileB[kRow + 16 + tx];
        var bv = new Vec8(b0.X, b0.Y, b0.Z, b0.W, b1.X, b1.Y, b1.Z, b1.W);
        return new Acc8x8(
            Vec8.Fma(acc.R0, a0.X, bv), Vec8.Fma(acc.R1, a0.Y, bv), Vec8.Fma(acc.R2, a0.Z, bv), Vec8.Fma(acc.R3, a0.W, bv),
            Vec8.Fma(acc.R4, a1.X, bv), Vec8.Fma(acc.R5, a1.Y, bv), Vec8.Fma(acc.R6, a1.Z, bv), Vec8.Fma(acc.R7, a1.W, bv));
    }

    /// <summary>Row <paramref name="row"/> of this thread's block: two Float4 stores (columns colA.. and colB..).</summary>
    private static void StoreRow(ArrayView<Float4> c4, GemmArgs g, int slice, int row, int colA, int colB, Vec8 v)
    {
        if (row >= g.M) return;
        int offset = slice + row * g.N;
        if (colA < g.N) Put4(c4, g, (offset + colA) >> 2, new Float4(v.V0, v.V1, v.V2, v.V3));
        if (colB < g.N) Put4(c4, g, (offset + colB) >> 2, new Float4(v.V4, v.V5, v.V6, v.V7));
    }

    private static void Put4(ArrayView<Float4> c4, GemmArgs g, int index, Float4 v)
    {
        var r = new Float4(v.X * g.Alpha, v.Y * g.Alpha, v.Z * g.Alpha, v.W * g.Alpha);
        if (g.Accumulate != 0)
        {
            var old = c4[index];
            r = new Float4(old.X + r.X, old.Y + r.Y, old.Z + r.Z, old.W + r.W);
        }
        c4[index] = r;
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
