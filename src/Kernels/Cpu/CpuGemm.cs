using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM for the CPU backend, built the BLIS/GotoBLAS way:
/// <list type="number">
/// <item>op(B) is cut into KC x NC panels and packed into NR-wide micro-panels ([p][j], zero padded);</item>
/// <item>op(A) is cut into MC x KC blocks and packed into MR-tall micro-panels ([p][i], zero padded, scaled by alpha);</item>
/// <item>a register-blocked micro-kernel computes one MR x NR tile of C as a sum of KC rank-1 updates.</item>
/// </list>
/// Packing absorbs both transposes, so one micro-kernel serves all four variants, and zero padding lets the
/// micro-kernel always run full tiles: edge tiles are computed into a small scratch tile and then merged.
/// <para>Threads: C is split into contiguous strips (rows or columns, whichever duplicates less packing work; a few
/// row strips per thread where packing allows, claimed as the threads come), and each thread runs the blocked
/// algorithm on its strips with its own packing buffers. Small
/// products run on the calling thread only. The threads are those of a <see cref="CpuBackend"/> (its
/// <see cref="CpuBackend.Threads"/>); called directly, <see cref="Multiply(float[], int, float[], int, float[], int, int, int, int, bool, bool, bool, float)"/>
/// runs on the calling thread. Every element of C sums its products in the same order however C is split, so the
/// result has the same bits with any thread count.</para>
/// </summary>
public static unsafe partial class CpuGemm
{
    // ---- micro-tile --------------------------------------------------------------------------
    // AVX-512 (Zen 4): 8 x 32 tile = 16 zmm accumulators + 2 zmm for the B row + 1 broadcast of A.
    //   16 independent FMA chains hide the 4-cycle FMA latency at Zen 4's one 512-bit FMA per cycle, and each
    //   k step needs only 2 vector loads of B + 8 scalar broadcasts of A for 16 FMAs (not load bound).
    // AVX2: 6 x 16 tile = 12 ymm accumulators + 2 for B + 1 broadcast = 15 of the 16 ymm registers.
    // No SIMD: a plain 4 x 16 scalar tile (correct everywhere, fast nowhere).
    private static readonly bool Use512 = Vector512.IsHardwareAccelerated;
    private static readonly bool Use256 = !Use512 && Vector256.IsHardwareAccelerated;

    /// <summary>Rows of the register tile (broadcast side, from A).</summary>
    internal static readonly int MR = Use512 ? 8 : Use256 ? 6 : 4;
    /// <summary>Columns of the register tile (vector side, from B).</summary>
    internal static readonly int NR = Use512 ? 32 : 16;

    /// <summary>Which micro-kernel this machine runs, for benchmarks and logs.</summary>
    public static string KernelName => $"{(Use512 ? "Vector512" : Use256 ? "Vector256" : "scalar")} {MR}x{NR}";

    // ---- cache blocking ----------------------------------------------------------------------
    // Loop order: jc (NC) -> pc (KC, pack B) -> ic (MC, pack A) -> ir (MR) -> jr (NR) -> micro-kernel.
    // KC: depth of one rank-KC update. The MR x KC micro-panel of A (8 * 256 * 4 B = 8 KiB) is reused across the
    //     whole jr sweep and so stays in L1 (32-48 KiB), while B micro-panels stream from L2. Longer KC amortises
    //     the load/store of the C tile over more FMAs.
    // NC: the packed KC x NC panel of B (256 * 512 * 4 B = 512 KiB) must stay resident in the 1 MiB L2, since
    //     every MR row strip of A sweeps over all of it.
    // MC: rows of A packed at a time; small so that the packed A block (64 KiB) does not push B out of L2.
    private const int KC = 256;
    private const int NC = 512;
    private const int MC = 64;

    /// <summary>Products below this many flops (2mnk) run on the calling thread: waking the workers and waiting for
    /// them costs about as much as one core needs for a product of this size, so smaller ones gain nothing.</summary>
    private const long ParallelThresholdFlops = 1L << 22;

    /// <summary>Row strips per thread where packing allows (see <see cref="Multiply(float[], int, float[], int, float[], int, int, int, int, bool, bool, bool, float, CpuParallel?, PackedOperand?, Epilogue)"/>).</summary>
    private const int StripsPerThread = 4;

    /// <summary>The largest op(B), in floats (256 KiB), that finer row strips may each read again.</summary>
    private const long FinerStripsMaxB = 64 * 1024;

    /// <summary>
    /// C[m,n] (+)= alpha * op(A) op(B) on the calling thread. Row-major, contiguous. Stored A is [m,k] (or [k,m] when
    /// transposeA), stored B is [k,n] (or [n,k] when transposeB); C is [m,n]. accumulate=false overwrites C.
    /// <see cref="CpuBackend.MatMul"/> runs the same product on the backend's threads.
    /// </summary>
    public static void Multiply(float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset,
        int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, float alpha = 1f)
        => Multiply(a, aOffset, b, bOffset, c, cOffset, m, n, k, transposeA, transposeB, accumulate, alpha, parallel: null);

    /// <summary>As the public overload, split over the threads of <paramref name="parallel"/> (null: the calling thread
    /// only, e.g. for callers which already parallelise, like convolution over the batch, and must not nest loops).</summary>
    internal static void Multiply(float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset,
        int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, float alpha, CpuParallel? parallel)
        => Multiply(a, aOffset, b, bOffset, c, cOffset, m, n, k, transposeA, transposeB, accumulate, alpha, parallel, null);

    /// <summary>As above; when <paramref name="packedB"/> is given, it holds op(B) packed whole (<see cref="PackedOperand"/>),
    /// and no thread packs B again.</summary>
    internal static void Multiply(float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset,
        int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, float alpha, CpuParallel? parallel,
        PackedOperand? packedB, Epilogue epilogue = default)
        => Multiply(a, aOffset, b, bOffset, c, cOffset, m, n, k, transposeA, transposeB, accumulate, alpha, parallel, packedB, epilogue, default);

    /// <summary>
    /// C[m,n] (+)= op(A) op(B) with the depth cut into row groups (<paramref name="groupStarts"/>: each group's first
    /// depth index, then the depth, at most one depth block): each group's sums start from zero and are added to C in
    /// group order, which has the bits of a product per group added to C one after the other; an empty group adds
    /// nothing (the caller adds its zeros). The groups are taken tile by tile, so C is written once.
    /// </summary>
    internal static void MultiplyByGroups(float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset,
        int m, int n, ReadOnlySpan<int> groupStarts, bool transposeA, bool transposeB, bool accumulate, CpuParallel? parallel)
    {
        int k = groupStarts[^1];
        if (!IsOneDepthBlock(k)) throw new ArgumentException($"row groups of a depth of {k}: at most {KC} fit one depth block", nameof(groupStarts));
        fixed (int* starts = groupStarts)
            Multiply(a, aOffset, b, bOffset, c, cOffset, m, n, k, transposeA, transposeB, accumulate, 1f, parallel, null,
                default, new DepthGroups(starts, groupStarts.Length - 1));
    }

    private static void Multiply(float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset,
        int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, float alpha, CpuParallel? parallel,
        PackedOperand? packedB, Epilogue epilogue, DepthGroups groups)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative GEMM size {m}x{n}x{k}");
        CheckRange(a, aOffset, (long)m * k, nameof(a));
        CheckRange(b, bOffset, (long)k * n, nameof(b));
        CheckRange(c, cOffset, (long)m * n, nameof(c));
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            if (!accumulate) Array.Clear(c, cOffset, m * n);
            fixed (float* pc = c) epilogue.Apply(pc + cOffset, n, m, n, 0);
            return;
        }

        int lda = transposeA ? m : k;
        int ldb = transposeB ? k : n;

        long flops = 2L * m * n * k;
        int threads = parallel?.Threads ?? 1;
        if (flops < ParallelThresholdFlops) threads = 1;

        // Split C into strips, one per thread, along rows (units of MR) or columns (units of NR). Splitting rows
        // makes every thread pack all of op(B) (k*n each), splitting columns makes every thread pack all of op(A)
        // (m*k each); and the busiest thread decides the time. Pick the split with the smaller estimated time.
        bool splitRows = true;
        int units = (m + MR - 1) / MR, strips = threads;
        if (threads > 1)
        {
            // operands read in place (see Blocked) cost no packing: A at scale 1, a row-major B when C has at most MC rows
            bool packA = !(Use512 && alpha == 1f), packB = packedB == null && !(Use512 && !transposeB && m <= MC);
            double rows = SplitCost(m, n, k, threads, byRows: true, packA, packB), cols = SplitCost(m, n, k, threads, byRows: false, packA, packB);
            splitRows = rows <= cols;
            units = splitRows ? (m + MR - 1) / MR : (n + NR - 1) / NR;
            // Rows in more strips than threads, claimed as the threads come: a thread that the system runs late (another
            // process, a virtual machine's steal) then takes fewer instead of holding up the rest. Only where every
            // strip reading all of op(B) again is cheap: B small enough to stay in the second-level cache, and its
            // packing (if any) under a twentieth of a strip's products. A weight gradient over thousands of rows has
            // a B of megabytes, which each extra strip would stream from memory once more.
            if (splitRows && (long)k * n <= FinerStripsMaxB)
            {
                int finer = Math.Min(units, StripsPerThread * threads);
                double stripFmaCycles = (double)units / finer * ((n + NR - 1) / NR) * k * 8;
                if (!packB || 0.5 * k * n < 0.05 * stripFmaCycles) strips = finer;
            }
        }
        threads = Math.Min(threads, units);
        strips = Math.Min(Math.Max(strips, threads), units);
        if (packedB != null && !packedB.Fits(k, n)) throw new ArgumentException($"packed B holds {packedB.K}x{packedB.N}, the product needs {k}x{n}", nameof(packedB));
        var packed = new PackedView(packedB?.Pointer, packedB?.PaddedColumns ?? 0, 0);
        if (threads <= 1)
        {
            fixed (float* pa = a, pb = b, pc = c)
                Blocked(pa + aOffset, lda, transposeA, pb + bOffset, ldb, transposeB, pc + cOffset, n,
                        m, n, k, accumulate, alpha, packed, epilogue, groups);
            return;
        }

        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = new StripJob
            {
                A = pa + aOffset, Lda = lda, TransA = transposeA, B = pb + bOffset, Ldb = ldb, TransB = transposeB,
                C = pc + cOffset, M = m, N = n, K = k, Accumulate = accumulate, Alpha = alpha,
                SplitRows = splitRows, Units = units, Strips = strips, PackedB = packed, Epilogue = epilogue, Groups = groups,
            };
            parallel!.For(strips, ref job); // allocation-free, unlike Parallel.For
        }
    }

    /// <summary>One thread's strip of C (rows or columns), run by <see cref="CpuParallel"/>; operands are pinned by the caller.</summary>
    private struct StripJob : IParallelBody
    {
        public float* A, B, C;
        public int Lda, Ldb, M, N, K, Units, Strips;
        public bool TransA, TransB, Accumulate, SplitRows;
        public float Alpha;
        public PackedView PackedB;
        public Epilogue Epilogue;
        public DepthGroups Groups;

        public readonly void Invoke(int t)
        {
            int u0 = (int)((long)Units * t / Strips), u1 = (int)((long)Units * (t + 1) / Strips);
            if (SplitRows)
            {
                int i0 = u0 * MR, i1 = Math.Min(M, u1 * MR);
                if (i1 <= i0) return;
                float* aStrip = TransA ? A + i0 : A + (long)i0 * Lda;
                Blocked(aStrip, Lda, TransA, B, Ldb, TransB, C + (long)i0 * N, N, i1 - i0, N, K, Accumulate, Alpha, PackedB, Epilogue, Groups);
            }
            else
            {
                int j0 = u0 * NR, j1 = Math.Min(N, u1 * NR);
                if (j1 <= j0) return;
                float* bStrip = TransB ? B + (long)j0 * Ldb : B + j0;
                Blocked(A, Lda, TransA, bStrip, Ldb, TransB, C + j0, N, M, j1 - j0, K, Accumulate, Alpha, PackedB with { Column = j0 },
                        Epilogue.From(j0), Groups);
            }
        }
    }

    /// <summary>Estimated cycles of the busiest thread when C is split into strips along one dimension.</summary>
    private static double SplitCost(int m, int n, int k, int threads, bool byRows, bool packA, bool packB)
    {
        // One full-tile k step is MR*NR/16 vector FMAs (8 cycles for 8x32 at two 512-bit FMAs per cycle); a
        // column-edge panel of at most NR/2 columns runs the half-width kernel at half the cost. Packing costs
        // roughly half a cycle per float. Strips are assigned exactly as Multiply does.
        const double fmaCyclesPerTileStep = 8, packCyclesPerFloat = 0.5;
        int rowPanels = (m + MR - 1) / MR, colPanels = (n + NR - 1) / NR;
        int rest = n % NR;
        double lastColWork = rest == 0 ? 1 : rest <= NR / 2 ? 0.5 : 1;
        int units = byRows ? rowPanels : colPanels;
        int t = Math.Min(threads, units);
        double worst = 0;
        for (int i = 0; i < t; i++)
        {
            int u0 = (int)((long)units * i / t), u1 = (int)((long)units * (i + 1) / t);
            double cost;
            if (byRows)
            {
                double colWork = colPanels - 1 + lastColWork;
                cost = (u1 - u0) * colWork * k * fmaCyclesPerTileStep
                     + ((packB ? (double)k * n : 0) + (packA ? (double)(u1 - u0) * MR * k : 0)) * packCyclesPerFloat;
            }
            else
            {
                double colWork = (u1 - u0) - (u1 == colPanels ? 1 - lastColWork : 0);
                cost = rowPanels * colWork * k * fmaCyclesPerTileStep
                     + ((packA ? (double)m * k : 0) + (packB ? (double)(u1 - u0) * NR * k : 0)) * packCyclesPerFloat;
            }
            worst = Math.Max(worst, cost);
        }
        return worst;
    }

    private static void CheckRange(float[] array, int offset, long length, string name)
    {
        if (offset < 0 || offset + length > array.Length)
            throw new ArgumentException($"GEMM operand {name}: offset {offset} + {length} elements exceeds length {array.Length}", name);
    }

    // ---- per-thread packing buffers ----------------------------------------------------------

    /// <summary>Pinned, 64-byte aligned packing storage, one per thread, allocated once and reused.</summary>
    private sealed class PackBuffers
    {
        private readonly float[] _a = GC.AllocateUninitializedArray<float>(MC * KC + 16, pinned: true);
        private readonly float[] _b = GC.AllocateUninitializedArray<float>((NC + 32) * KC + 16, pinned: true);
        private readonly float[] _tile = GC.AllocateUninitializedArray<float>(32 * 32 + 16, pinned: true);
        public float* A => Align(_a);
        public float* B => Align(_b);
        public float* Tile => Align(_tile);

        // The arrays live on the pinned object heap, so their addresses never change.
        private static float* Align(float[] array)
        {
            float* p = (float*)Unsafe.AsPointer(ref array[0]);
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }

    [ThreadStatic] private static PackBuffers? t_buffers;

    // ---- blocked driver ----------------------------------------------------------------------

    /// <summary>Sequential blocked GEMM on raw pointers: C[m,n] (+)= alpha op(A) op(B), C with row stride ldc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void Blocked(float* a, int lda, bool transA, float* b, int ldb, bool transB, float* c, int ldc,
        int m, int n, int k, bool accumulate, float alpha, PackedView packedB = default, Epilogue epilogue = default,
        DepthGroups groups = default)
    {
        var buffers = t_buffers ??= new PackBuffers();
        float* packA = buffers.A, packB = buffers.B, tile = buffers.Tile;
        int mr = MR, nr = NR;
        // Operands are read in place where packing them would not pay: A at scale 1 (row-major or transposed), 8 rows
        // at a time, broadcasting each element as the packed panel would; B when it is row-major and C has at most MC
        // rows, so that a packed panel would serve a single block of A. Only a last panel of fewer than 8 rows of A or
        // fewer than NR columns of B is packed (zero-padded). The products and their order are those of the packed
        // panels, so the bits are the same; for the thin products of small layers (few output panels, or a weight
        // gradient over thousands of rows) packing cost about as much as the product.
        bool inPlaceA = Use512 && alpha == 1f;
        bool inPlaceB = Use512 && !transB && m <= MC;
        int aRow = transA ? 1 : lda, aStep = transA ? lda : 1;   // op(A)[i, p] = a[i * aRow + p * aStep]

        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            // Split k into equal blocks of at most KC rather than KC, KC, ..., remainder: a short last block
            // would pay the C-tile load/store for only a few FMAs.
            int kStep = KStep(k);
            for (int pc = 0; pc < k; pc += kStep)
            {
                int kc = Math.Min(kStep, k - pc);
                bool add = accumulate || pc > 0; // the first rank-KC update overwrites C unless accumulating
                bool last = pc + kc >= k;         // C holds the whole product once a tile of the last update is stored
                float* panel = packB;
                int inPlaceColumns = 0;   // B read in place (a held, packed B is read from its packing)
                if (packedB.Pointer != null) panel = packedB.Panel(pc, packedB.Column + jc, kc);
                else
                {
                    inPlaceColumns = inPlaceB ? nc / nr * nr : 0;
                    if (inPlaceColumns < nc)
                        PackB(b, ldb, transB, pc, jc + inPlaceColumns, kc, nc - inPlaceColumns, packB + (long)inPlaceColumns * kc);
                }
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    if (!inPlaceA) PackA(a, lda, transA, ic, pc, mc, kc, alpha, packA);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int rows = Math.Min(mr, mc - ir);
                        float* cRow = c + (long)(ic + ir) * ldc + jc;
                        bool aInPlace = inPlaceA && rows == mr;
                        float* ap = aInPlace ? a + (long)(ic + ir) * aRow + (long)pc * aStep : packA + (long)ir * kc;
                        if (inPlaceA && !aInPlace) PackA(a, lda, transA, ic + ir, pc, rows, kc, alpha, ap);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            bool bInPlace = jr < inPlaceColumns;
                            float* bp = bInPlace ? b + (long)pc * ldb + jc + jr : panel + (long)jr * kc;
                            // packed panels: A rows 1 apart and steps of MR, B steps of NR
                            int apRow = aInPlace ? aRow : 1, apStep = aInPlace ? aStep : mr, bpStep = bInPlace ? ldb : nr;
                            var finish = last ? epilogue.From(jc + jr) : default;
                            if (groups.Count == 0) Tile(ap, apRow, apStep, kc, bp, bpStep, cRow + jr, ldc, rows, cols, add, tile, finish);
                            else
                            {
                                // the depth in row groups (one depth block in all): each group's sums start from zero
                                // and are added to the tile in group order while it stays in the first-level cache
                                bool written = add;
                                for (int g = 0; g < groups.Count; g++)
                                {
                                    int g0 = groups.Starts[g], depth = groups.Starts[g + 1] - g0;
                                    if (depth == 0) continue;   // the caller adds an empty group's zeros
                                    Tile(ap + (long)g0 * apStep, apRow, apStep, depth, bp + (long)g0 * bpStep, bpStep, cRow + jr, ldc, rows, cols, written, tile);
                                    written = true;
                                }
                                finish.Apply(cRow + jr, ldc, rows, cols, 0);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>One MR x NR tile of C (+)= the product of an A micro-panel and a B micro-panel over <paramref name="depth"/>,
    /// then <paramref name="epilogue"/> (which a full tile's kernel applies to its registers before storing them, and
    /// the others to the tile while it is in L1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(float* ap, int apRow, int apStep, int depth, float* bp, int bpStep, float* c, int ldc, int rows, int cols, bool add, float* tile,
        Epilogue epilogue = default)
    {
        int mr = MR, nr = NR;
        if (Use512)
        {
            if (rows == mr)
            {
                Kernel8Rows(ap, apRow, apStep, depth, bp, bpStep, c, ldc, cols, add, epilogue);
                return;
            }
            Kernel8Rows(ap, apRow, apStep, depth, bp, bpStep, tile, nr, cols, false);
            MergeTile(tile, nr, c, ldc, rows, cols, add);
        }
        else if (rows == mr && cols == nr) MicroKernel(depth, ap, bp, c, ldc, add);
        else
        {
            MicroKernel(depth, ap, bp, tile, nr, false);
            MergeTile(tile, nr, c, ldc, rows, cols, add);
        }
        epilogue.Apply(c, ldc, rows, cols, 0);
    }

    /// <summary>
    /// Row groups of a product's depth (<see cref="MultiplyByGroups"/>): <see cref="Starts"/>[g] is the first depth
    /// index of group g, <see cref="Starts"/>[Count] the depth. <see cref="Count"/> 0: no groups.
    /// </summary>
    private readonly struct DepthGroups(int* starts, int count)
    {
        public readonly int* Starts = starts;
        public readonly int Count = count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void MergeTile(float* tile, int ldt, float* c, int ldc, int rows, int cols, bool add)
    {
        for (int i = 0; i < rows; i++)
        {
            float* t = tile + i * ldt, d = c + (long)i * ldc;
            if (add) for (int j = 0; j < cols; j++) d[j] += t[j];
            else for (int j = 0; j < cols; j++) d[j] = t[j];
        }
    }

    // ---- packing -----------------------------------------------------------------------------

    /// <summary>Packs alpha * op(A)[ic..ic+mc, pc..pc+kc] into MR-row micro-panels laid out [panel][p][i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void PackA(float* a, int lda, bool trans, int ic, int pc, int mc, int kc, float alpha, float* dst)
    {
        int mr = MR;
        for (int i0 = 0; i0 < mc; i0 += mr)
        {
            int rows = Math.Min(mr, mc - i0);
            float* d = dst + (long)i0 * kc;
            if (trans)
            {
                // op(A)[i,p] = a[p*lda + i]: each p gives MR contiguous values.
                float* s = a + (long)pc * lda + ic + i0;
                if (rows == 8 && mr == 8)
                {
                    var va = Vector256.Create(alpha);
                    for (int p = 0; p < kc; p++)
                        Vector256.Store(Vector256.Load(s + (long)p * lda) * va, d + p * 8);
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* sp = s + (long)p * lda;
                        float* dp = d + p * mr;
                        int i = 0;
                        for (; i < rows; i++) dp[i] = alpha * sp[i];
                        for (; i < mr; i++) dp[i] = 0f;
                    }
                }
            }
            else
            {
                // op(A)[i,p] = a[i*lda + p]: walk MR rows in parallel, transposing into [p][i].
                float* s = a + (long)(ic + i0) * lda + pc;
                if (rows == 8 && mr == 8)
                {
                    PackA8Rows(s, lda, kc, alpha, d);
                }
                else
                {
                    for (int i = 0; i < rows; i++)
                    {
                        float* sr = s + (long)i * lda;
                        for (int p = 0; p < kc; p++) d[p * mr + i] = alpha * sr[p];
                    }
                    for (int i = rows; i < mr; i++)
                        for (int p = 0; p < kc; p++) d[p * mr + i] = 0f;
                }
            }
        }
    }

    /// <summary>Transposes an 8 x kc block of rows into [p][8], scaled by alpha, 8 columns at a time with AVX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void PackA8Rows(float* s, int lda, int kc, float alpha, float* d)
    {
        int p = 0;
        if (Avx.IsSupported)
        {
            var va = Vector256.Create(alpha);
            for (; p + 8 <= kc; p += 8)
            {
                var r0 = Vector256.Load(s + p) * va;
                var r1 = Vector256.Load(s + lda + p) * va;
                var r2 = Vector256.Load(s + 2L * lda + p) * va;
                var r3 = Vector256.Load(s + 3L * lda + p) * va;
                var r4 = Vector256.Load(s + 4L * lda + p) * va;
                var r5 = Vector256.Load(s + 5L * lda + p) * va;
                var r6 = Vector256.Load(s + 6L * lda + p) * va;
                var r7 = Vector256.Load(s + 7L * lda + p) * va;
                Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* dp = d + p * 8;
                r0.Store(dp); r1.Store(dp + 8); r2.Store(dp + 16); r3.Store(dp + 24);
                r4.Store(dp + 32); r5.Store(dp + 40); r6.Store(dp + 48); r7.Store(dp + 56);
            }
        }
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) d[p * 8 + i] = alpha * s[(long)i * lda + p];
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] into NR-column micro-panels laid out [panel][p][j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void PackB(float* b, int ldb, bool trans, int pc, int jc, int kc, int nc, float* dst)
    {
        int nr = NR;
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int cols = Math.Min(nr, nc - j0);
            float* d = dst + (long)j0 * kc;
            if (!trans)
            {
                // op(B)[p,j] = b[p*ldb + j]: each p gives NR contiguous values.
                float* s = b + (long)pc * ldb + jc + j0;
                if (cols == nr && nr == 32 && Vector512.IsHardwareAccelerated)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* sp = s + (long)p * ldb;
                        Vector512.Store(Vector512.Load(sp), d + p * 32);
                        Vector512.Store(Vector512.Load(sp + 16), d + p * 32 + 16);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* sp = s + (long)p * ldb;
                        float* dp = d + p * nr;
                        int j = 0;
                        for (; j < cols; j++) dp[j] = sp[j];
                        for (; j < nr; j++) dp[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)[p,j] = b[j*ldb + p]: NR rows of stored B are transposed into [p][j].
                float* s = b + (long)(jc + j0) * ldb + pc;
                int j = 0;
                if (Avx.IsSupported)
                    for (; j + 8 <= cols; j += 8) PackTransposed8(s + (long)j * ldb, ldb, kc, d + j, nr);
                for (; j < cols; j++)
                {
                    float* sr = s + (long)j * ldb;
                    for (int p = 0; p < kc; p++) d[p * nr + j] = sr[p];
                }
                for (; j < nr; j++)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = 0f;
            }
        }
    }

    /// <summary>d[p*ldd + j] = s[j*lds + p] for j in [0,8), p in [0,kc): 8x8 AVX transposes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void PackTransposed8(float* s, int lds, int kc, float* d, int ldd)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            var r0 = Vector256.Load(s + p);
            var r1 = Vector256.Load(s + lds + p);
            var r2 = Vector256.Load(s + 2L * lds + p);
            var r3 = Vector256.Load(s + 3L * lds + p);
            var r4 = Vector256.Load(s + 4L * lds + p);
            var r5 = Vector256.Load(s + 5L * lds + p);
            var r6 = Vector256.Load(s + 6L * lds + p);
            var r7 = Vector256.Load(s + 7L * lds + p);
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* dp = d + (long)p * ldd;
            r0.Store(dp); r1.Store(dp + ldd); r2.Store(dp + 2 * ldd); r3.Store(dp + 3 * ldd);
            r4.Store(dp + 4 * ldd); r5.Store(dp + 5 * ldd); r6.Store(dp + 6 * ldd); r7.Store(dp + 7 * ldd);
        }
        for (; p < kc; p++)
            for (int j = 0; j < 8; j++) d[(long)p * ldd + j] = s[(long)j * lds + p];
    }

    /// <summary>In-register 8x8 transpose: on return r_i holds what was column i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2,
        ref Vector256<float> r3, ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6,
        ref Vector256<float> r7)
    {
        // Interleave pairs of rows, then pairs of 64-bit halves, then swap 128-bit lanes.
        var u0 = UnpackLo(r0, r1); var u1 = UnpackHi(r0, r1);
        var u2 = UnpackLo(r2, r3); var u3 = UnpackHi(r2, r3);
        var u4 = UnpackLo(r4, r5); var u5 = UnpackHi(r4, r5);
        var u6 = UnpackLo(r6, r7); var u7 = UnpackHi(r6, r7);
        var v0 = MoveLo64(u0, u2); var v1 = MoveHi64(u0, u2);
        var v2 = MoveLo64(u1, u3); var v3 = MoveHi64(u1, u3);
        var v4 = MoveLo64(u4, u6); var v5 = MoveHi64(u4, u6);
        var v6 = MoveLo64(u5, u7); var v7 = MoveHi64(u5, u7);
        r0 = LowLanes(v0, v4); r1 = LowLanes(v1, v5); r2 = LowLanes(v2, v6); r3 = LowLanes(v3, v7);
        r4 = HighLanes(v0, v4); r5 = HighLanes(v1, v5); r6 = HighLanes(v2, v6); r7 = HighLanes(v3, v7);

        static Vector256<float> UnpackLo(Vector256<float> x, Vector256<float> y) => Avx.UnpackLow(x, y);
        static Vector256<float> UnpackHi(Vector256<float> x, Vector256<float> y) => Avx.UnpackHigh(x, y);
        static Vector256<float> MoveLo64(Vector256<float> x, Vector256<float> y) => Avx.Shuffle(x, y, 0x44);
        static Vector256<float> MoveHi64(Vector256<float> x, Vector256<float> y) => Avx.Shuffle(x, y, 0xEE);
        static Vector256<float> LowLanes(Vector256<float> x, Vector256<float> y) => Avx.Permute2x128(x, y, 0x20);
        static Vector256<float> HighLanes(Vector256<float> x, Vector256<float> y) => Avx.Permute2x128(x, y, 0x31);
    }

    // ---- micro-kernels -----------------------------------------------------------------------

    /// <summary>C[MR,NR] (+)= A-panel (kc x MR) * B-panel (kc x NR), C with row stride ldc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroKernel(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        if (Use256) Kernel6x16(kc, a, b, c, ldc, add);
        else KernelScalar(kc, a, b, c, ldc, add);
    }

    /// <summary>
    /// C[8, width] (+)= A (8 x depth) * B (depth x width), width 1..32, each accumulator one FMA chain from zero in
    /// depth order, added to (or stored in) C at the end with masked stores, nothing beyond width. Operands are read
    /// where they are: element q of A's row r at a[r * aRow + q * aStep] (a packed panel is aRow 1, aStep 8), B's row q
    /// at b + q * bStep, 32 readable values (16 when width ≤ 16; a packed panel is bStep 32). The GEMM and the direct
    /// convolution share it; a runtime stride costs nothing measurable against constant ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel8Rows(float* a, int aRow, int aStep, int depth, float* b, int bStep, float* c, int ldc, int width, bool add,
        Epilogue epilogue = default)
    {
        float* a1 = a + aRow, a2 = a + 2L * aRow, a3 = a + 3L * aRow, a4 = a + 4L * aRow, a5 = a + 5L * aRow, a6 = a + 6L * aRow, a7 = a + 7L * aRow;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        // the loop runs on b against its end and long strides: with eight A row pointers, a counter and int strides
        // (sign-extended every step) would not fit in the registers and the JIT would reload pointers from the stack
        long aStride = aStep, bStride = bStep;
        float* bEnd = b + depth * bStride;
        if (width > 16)
        {
            for (long at = 0; b < bEnd; at += aStride)
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                var ai = Vector512.Create(a[at]);
                c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
                ai = Vector512.Create(a1[at]);
                c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
                ai = Vector512.Create(a2[at]);
                c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
                ai = Vector512.Create(a3[at]);
                c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
                ai = Vector512.Create(a4[at]);
                c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
                ai = Vector512.Create(a5[at]);
                c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
                ai = Vector512.Create(a6[at]);
                c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61);
                ai = Vector512.Create(a7[at]);
                c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71);
                b += bStride;
            }
        }
        else
        {
            // half the width: half the FMAs
            for (long at = 0; b < bEnd; at += aStride)
            {
                var b0 = Vector512.Load(b);
                c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a[at]), b0, c00);
                c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[at]), b0, c10);
                c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[at]), b0, c20);
                c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[at]), b0, c30);
                c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[at]), b0, c40);
                c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[at]), b0, c50);
                c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[at]), b0, c60);
                c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[at]), b0, c70);
                b += bStride;
            }
        }
        // the epilogue (if any) on the registers before they are stored, not on C read back
        var z = Vector512<float>.Zero;
        bool bias = epilogue.Bias != null, relu = epilogue.Relu;
        Vector512<float> bLo = z, bHi = z;
        if (bias)
        {
            bLo = Avx512F.MaskLoad(epilogue.Bias, Mask(Math.Min(width, 16)), z);
            if (width > 16) bHi = Avx512F.MaskLoad(epilogue.Bias + 16, Mask(width - 16), z);
        }
        StoreRow(c, c00, c01, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c10, c11, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c20, c21, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c30, c31, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c40, c41, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c50, c51, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c60, c61, width, add, bias, bLo, bHi, relu); c += ldc;
        StoreRow(c, c70, c71, width, add, bias, bLo, bHi, relu);
    }

    /// <summary>Stores (or with <paramref name="add"/> adds) the first <paramref name="width"/> (1..32) floats of [lo, hi]
    /// at c, nothing beyond.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, int width, bool add) =>
        StoreRow(c, lo, hi, width, add, false, default, default, false);

    /// <summary>As above, then the bias [biasLo, biasHi] added and a ReLU, in that order: the numbers of
    /// <see cref="Epilogue.Apply"/> on the stored row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, int width, bool add,
        bool bias, Vector512<float> biasLo, Vector512<float> biasHi, bool relu)
    {
        if (add)
        {
            var z = Vector512<float>.Zero;
            lo = Avx512F.MaskLoad(c, Mask(Math.Min(width, 16)), z) + lo;
            if (width > 16) hi = Avx512F.MaskLoad(c + 16, Mask(width - 16), z) + hi;
        }
        if (bias)
        {
            lo += biasLo;
            hi += biasHi;
        }
        if (relu)
        {
            lo = Epilogue.Relu512(lo);
            hi = Epilogue.Relu512(hi);
        }
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var ai = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51);
            a += 6;
            b += 16;
        }
        Store2(c, c00, c01, add); c += ldc;
        Store2(c, c10, c11, add); c += ldc;
        Store2(c, c20, c21, add); c += ldc;
        Store2(c, c30, c31, add); c += ldc;
        Store2(c, c40, c41, add); c += ldc;
        Store2(c, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(float* c, Vector256<float> v0, Vector256<float> v1, bool add)
    {
        if (add)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        v0.Store(c);
        v1.Store(c + 8);
    }

    /// <summary>Portable fallback for machines without 256-bit SIMD (MR = 4, NR = 16).</summary>
    private static void KernelScalar(int kc, float* a, float* b, float* c, int ldc, bool add)
    {
        const int mr = 4, nr = 16;
        float* acc = stackalloc float[mr * nr];
        for (int i = 0; i < mr * nr; i++) acc[i] = 0f;
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < mr; i++)
            {
                float ai = a[i];
                float* row = acc + i * nr;
                for (int j = 0; j < nr; j++) row[j] += ai * b[j];
            }
            a += mr;
            b += nr;
        }
        for (int i = 0; i < mr; i++)
        {
            float* d = c + (long)i * ldc;
            for (int j = 0; j < nr; j++) d[j] = add ? d[j] + acc[i * nr + j] : acc[i * nr + j];
        }
    }
}
