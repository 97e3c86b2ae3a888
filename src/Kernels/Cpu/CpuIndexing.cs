using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// The CPU's permutation, indexing, argmin/argmax and softmax cross-entropy kernels.
/// <para>Only the cross-entropy, the gathers and the scatter-adds run on several threads: their outputs are split
/// among them and every output element is computed by one thread alone, its terms in a fixed order, so the bits do not
/// depend on the thread count. The others are memory moves or scans far cheaper than the layers around them.</para>
/// </summary>
internal static class CpuIndexing
{
    // ---- permute ---------------------------------------------------------------------------------

    public static void Permute(float[] x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, float[] y, bool accumulate)
    {
        int rank = xShape.Length, n = Broadcast.Count(xShape);
        Span<int> shape = stackalloc int[Broadcast.MaxRank], strides = stackalloc int[Broadcast.MaxRank];
        Indexing.PermutationWalk(xShape, axes, shape, strides);
        if (n == 0) return;
        // merge output dimensions that the source also walks contiguously (e.g. H and W of [B,D,H,W] -> [B,H,W,D])
        int r = 0;
        for (int d = 0; d < rank; d++)
        {
            if (shape[d] == 1) continue;
            if (r > 0 && strides[r - 1] == strides[d] * shape[d])
            {
                shape[r - 1] *= shape[d];
                strides[r - 1] = strides[d];
                continue;
            }
            shape[r] = shape[d];
            strides[r] = strides[d];
            r++;
        }
        if (r == 0) { shape[0] = 1; strides[0] = 1; r = 1; }
        int inner = shape[r - 1], innerStride = strides[r - 1], rows = n / inner;
        Span<int> index = stackalloc int[Broadcast.MaxRank];
        index.Clear();
        int source = 0;
        for (int row = 0; row < rows; row++)
        {
            var dst = y.AsSpan(row * inner, inner);
            if (innerStride == 1)
            {
                var src = x.AsSpan(source, inner);
                if (accumulate) TensorPrimitives.Add(dst, src, dst);
                else src.CopyTo(dst);
            }
            else if (accumulate)
                for (int j = 0, s = source; j < inner; j++, s += innerStride) dst[j] += x[s];
            else
                for (int j = 0, s = source; j < inner; j++, s += innerStride) dst[j] = x[s];
            // odometer over the outer output dimensions
            for (int d = r - 2; d >= 0; d--)
            {
                source += strides[d];
                if (++index[d] < shape[d]) break;
                source -= strides[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    // ---- gather, scatter-add, one-hot --------------------------------------------------------------

    /// <summary>y's rows split among the threads when there are enough of them to share (a copy per row).</summary>
    public static void GatherRows(float[] table, float[] indices, float[] y, int n, int rows, int width, CpuParallel parallel)
    {
        var job = new GatherJob { Table = table, Indices = indices, Y = y, N = n, Rows = rows, Width = width };
        job.Chunks = (long)n * width < SumRowsParallelThreshold ? 1 : parallel.Chunks(n);
        if (job.Chunks <= 1) job.Invoke(0);
        else parallel.For(job.Chunks, ref job);
    }

    private struct GatherJob : IParallelBody
    {
        public float[] Table, Indices, Y;
        public int N, Rows, Width, Chunks;

        public readonly void Invoke(int chunk)
        {
            int i0 = (int)((long)N * chunk / Chunks), i1 = (int)((long)N * (chunk + 1) / Chunks);
            for (int i = i0; i < i1; i++)
            {
                int r = Indexing.Resolve(Indices[i], Rows);
                var dst = Y.AsSpan(i * Width, Width);
                if (r < 0) dst.Fill(float.NaN);
                else Table.AsSpan(r * Width, Width).CopyTo(dst);
            }
        }
    }

    /// <summary>In increasing i, so every table row receives its terms in the same order on every run (the gather-sum's
    /// scatter-add with one index per row, its columns split among the threads).</summary>
    public static void ScatterAddRows(float[] dy, float[] indices, float[] dTable, int n, int rows, int width, CpuParallel parallel) =>
        ScatterAddSumRows(dy, indices, dTable, n, 1, rows, width, parallel);

    /// <summary>Below this many added elements the gather-sum and its scatter-add stay on the calling thread.</summary>
    private const int SumRowsParallelThreshold = 1 << 16;

    /// <summary>Output rows split among the threads: each row is summed by one thread, in increasing t.</summary>
    public static void GatherSumRows(float[] table, float[] indices, float[] y, int n, int taps, int rows, int width, CpuParallel parallel)
    {
        var job = new GatherSumJob { Table = table, Indices = indices, Y = y, N = n, Taps = taps, Rows = rows, Width = width };
        job.Chunks = (long)n * taps * width < SumRowsParallelThreshold ? 1 : parallel.Chunks(n);
        if (job.Chunks <= 1) job.Invoke(0);
        else parallel.For(job.Chunks, ref job);
    }

    private struct GatherSumJob : IParallelBody
    {
        public float[] Table, Indices, Y;
        public int N, Taps, Rows, Width, Chunks;

        public readonly void Invoke(int chunk)
        {
            int i0 = (int)((long)N * chunk / Chunks), i1 = (int)((long)N * (chunk + 1) / Chunks);
            var rows = Taps <= 256 ? stackalloc int[Taps] : new int[Taps];
            ref float table = ref MemoryMarshal.GetArrayDataReference(Table);
            for (int i = i0; i < i1; i++)
            {
                var dst = Y.AsSpan(i * Width, Width);
                if (!ResolveRows(Indices.AsSpan(i * Taps, Taps), Rows, Width, rows))
                {
                    dst.Fill(float.NaN);
                    continue;
                }
                int c = 0;
                // 64 columns at a time in four registers (four independent chains of adds, not one), then 16; each
                // column's taps added in increasing t, the bits of the scalar loop
                for (; c + 4 * Lanes <= Width; c += 4 * Lanes)
                {
                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    foreach (int r in rows)
                    {
                        ref float at = ref Unsafe.Add(ref table, (nint)(r + c));
                        a0 += Vector512.LoadUnsafe(ref at);
                        a1 += Vector512.LoadUnsafe(ref at, Lanes);
                        a2 += Vector512.LoadUnsafe(ref at, 2 * Lanes);
                        a3 += Vector512.LoadUnsafe(ref at, 3 * Lanes);
                    }
                    a0.CopyTo(dst.Slice(c, Lanes));
                    a1.CopyTo(dst.Slice(c + Lanes, Lanes));
                    a2.CopyTo(dst.Slice(c + 2 * Lanes, Lanes));
                    a3.CopyTo(dst.Slice(c + 3 * Lanes, Lanes));
                }
                for (; c + Lanes <= Width; c += Lanes)
                {
                    var acc = Vector512<float>.Zero;
                    foreach (int r in rows) acc += Vector512.LoadUnsafe(ref table, (nuint)(r + c));
                    acc.CopyTo(dst.Slice(c, Lanes));
                }
                for (; c < Width; c++)
                {
                    float acc = 0f;
                    foreach (int r in rows) acc += Table[r + c];
                    dst[c] = acc;
                }
            }
        }
    }

    private const int Lanes = 16;   // Vector512<float>.Count
    private const int MaxRowVectors = 8;

    /// <summary>The start of each index's table row (index · width) into <paramref name="starts"/>; false if any index is invalid.</summary>
    private static bool ResolveRows(ReadOnlySpan<float> indices, int rows, int width, Span<int> starts)
    {
        for (int t = 0; t < indices.Length; t++)
        {
            int r = Indexing.Resolve(indices[t], rows);
            if (r < 0) return false;
            starts[t] = r * width;
        }
        return true;
    }

    /// <summary>
    /// The table's rows shared among the threads, in blocks of 16 dealt in turn (a table's popular rows, such as one code's
    /// taps, then fall to every thread): every thread walks all (i, t) in increasing order and adds the terms of its own
    /// rows, so each element's terms are added in the same order whatever the thread count. The indices are resolved
    /// once first, the threads sharing them, so that each thread's walk is only a comparison per index. (Sharing the
    /// columns instead would have two threads write either side of a cache line in every row, which passes that line
    /// between their cores at every addition.)
    /// </summary>
    public static void ScatterAddSumRows(float[] dy, float[] indices, float[] dTable, int n, int taps, int rows, int width, CpuParallel parallel)
    {
        int count = n * taps;
        var job = new ScatterSumJob { DY = dy, DTable = dTable, N = n, Taps = taps, Width = width };
        // a power of two, so that a row's thread is a mask of its block number
        job.Chunks = (long)count * width < SumRowsParallelThreshold ? 1 : (int)BitOperations.RoundUpToPowerOf2((uint)parallel.Threads + 1) / 2;
        job.Rows = ResolvedRows(count);
        var resolve = new ResolveJob { Indices = indices, Rows = job.Rows, Count = count, TableRows = rows };
        resolve.Chunks = job.Chunks <= 1 ? 1 : parallel.Chunks(count / 4096 + 1);
        parallel.For(resolve.Chunks, ref resolve);
        if (job.Chunks <= 1) job.Invoke(0);
        else parallel.For(job.Chunks, ref job);
    }

    /// <summary>Rows per block of a scatter-add's rows dealt to the threads.</summary>
    private const int RowBlock = 16;

    [ThreadStatic] private static int[]? t_rows;

    private static int[] ResolvedRows(int count)
    {
        if (t_rows is null || t_rows.Length < count) t_rows = new int[Math.Max(count, 1024)];
        return t_rows;
    }

    /// <summary>Each index's table row, or -1 for an invalid index (skipped).</summary>
    private struct ResolveJob : IParallelBody
    {
        public float[] Indices;
        public int[] Rows;
        public int Count, TableRows, Chunks;

        public readonly void Invoke(int chunk)
        {
            int i0 = (int)((long)Count * chunk / Chunks), i1 = (int)((long)Count * (chunk + 1) / Chunks);
            for (int i = i0; i < i1; i++) Rows[i] = Indexing.Resolve(Indices[i], TableRows);
        }
    }

    private struct ScatterSumJob : IParallelBody
    {
        public float[] DY, DTable;
        public int[] Rows;
        public int N, Taps, Width, Chunks;

        public readonly void Invoke(int chunk)
        {
            ref float table = ref MemoryMarshal.GetArrayDataReference(DTable);
            ref float dy = ref MemoryMarshal.GetArrayDataReference(DY);
            int[] rows = Rows;
            int width = Width, chunks = Chunks;
            for (int i = 0; i < N; i++)
            {
                int row = i * width, first = i * Taps;
                for (int t = 0; t < Taps;)
                {
                    int r = rows[first + t];
                    // a run of taps on one row (say the padding row of taps off a grid) adds its terms in a register
                    // and stores once: the same additions in the same order, without a store and reload per term
                    int run = 1;
                    while (t + run < Taps && rows[first + t + run] == r) run++;
                    t += run;
                    if (r < 0 || ((r / RowBlock) & (chunks - 1)) != chunk) continue;
                    int start = r * width, c = 0;
                    for (; c + Lanes <= width; c += Lanes)
                    {
                        var term = Vector512.LoadUnsafe(ref dy, (nuint)(row + c));
                        var sum = Vector512.LoadUnsafe(ref table, (nuint)(start + c));
                        for (int k = 0; k < run; k++) sum += term;
                        sum.StoreUnsafe(ref table, (nuint)(start + c));
                    }
                    for (; c < width; c++)
                    {
                        float sum = DTable[start + c], term = DY[row + c];
                        for (int k = 0; k < run; k++) sum += term;
                        DTable[start + c] = sum;
                    }
                }
            }
        }
    }

    public static void OneHot(float[] indices, float[] y, int n, int classes)
    {
        for (int i = 0; i < n; i++)
        {
            int t = Indexing.Resolve(indices[i], classes);
            var row = y.AsSpan(i * classes, classes);
            if (t < 0) { row.Fill(float.NaN); continue; }
            row.Clear();
            row[t] = 1f;
        }
    }

    // ---- argmin / argmax ---------------------------------------------------------------------------

    public static void ArgReduce(float[] x, float[] y, int outer, int length, int inner, bool max)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "argmin/argmax needs at least one element along the axis");
        for (int o = 0; o < outer; o++)
        {
            int block = o * length * inner;
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bestValue = x[block + i];
                // PyTorch's rule: a NaN beats every number and the first NaN stays; otherwise strictly better only,
                // so ties keep the first index (-0 and +0 tie)
                for (int r = 1, at = block + inner + i; r < length && !float.IsNaN(bestValue); r++, at += inner)
                {
                    float v = x[at];
                    if (float.IsNaN(v) || (max ? v > bestValue : v < bestValue)) { best = r; bestValue = v; }
                }
                y[o * inner + i] = best;
            }
        }
    }

    // ---- softmax cross-entropy ---------------------------------------------------------------------

    /// <summary>Below this many logits the cross-entropy stays on the calling thread.</summary>
    private const int ParallelThreshold = 1 << 15;

    [ThreadStatic] private static float[]? t_scratch;

    private static Span<float> Scratch(int length)
    {
        if (t_scratch is null || t_scratch.Length < length) t_scratch = new float[Math.Max(length, 1024)];
        return t_scratch.AsSpan(0, length);
    }

    public static void SoftmaxCrossEntropy(float[] logits, float[] targets, float[] losses, int outer, int classes, int inner, CpuParallel parallel)
    {
        var job = new CrossEntropyJob { X = logits, T = targets, Out = losses, Outer = outer, Classes = classes, Inner = inner };
        Run(ref job, parallel);
    }

    public static void SoftmaxCrossEntropyBackward(float[] logits, float[] targets, float[] dLosses, float[] dLogits,
        int outer, int classes, int inner, CpuParallel parallel)
    {
        var job = new CrossEntropyJob { X = logits, T = targets, Out = dLogits, DLosses = dLosses, Outer = outer, Classes = classes, Inner = inner };
        Run(ref job, parallel);
    }

    private static void Run(ref CrossEntropyJob job, CpuParallel parallel)
    {
        long size = (long)job.Outer * job.Classes * job.Inner;
        if (size == 0) return;
        job.Chunks = size < ParallelThreshold ? 1 : parallel.Chunks(job.Outer);
        if (job.Chunks <= 1) job.Invoke(0);
        else parallel.For(job.Chunks, ref job);
    }

    /// <summary>Outer rows [Outer * t / Chunks, Outer * (t + 1) / Chunks): the losses, or (DLosses set) the gradient.</summary>
    private struct CrossEntropyJob : IParallelBody
    {
        public float[] X, T, Out;
        public float[]? DLosses;
        public int Outer, Classes, Inner, Chunks;

        public readonly void Invoke(int t)
        {
            int o0 = (int)((long)Outer * t / Chunks), o1 = (int)((long)Outer * (t + 1) / Chunks);
            for (int o = o0; o < o1; o++)
            {
                if (Inner == 1) Row(o);
                else Block(o);
            }
        }

        /// <summary>Logits [N, C] (inner 1): one row of classes at a time, vectorised along the classes.</summary>
        private readonly void Row(int o)
        {
            if (Classes % Lanes == 0 && Classes <= MaxRowVectors * Lanes && Vector512.IsHardwareAccelerated)
            {
                RowInVectors(o);
                return;
            }
            var x = X.AsSpan(o * Classes, Classes);
            var e = Scratch(Classes);
            float m = TensorPrimitives.Max(x);   // NaN when any is NaN
            TensorPrimitives.Subtract(x, m, e);
            TensorPrimitives.Exp(e, e);
            float s = TensorPrimitives.Sum<float>(e);
            int target = Indexing.Resolve(T[o], Classes);
            if (DLosses is null)
            {
                Out[o] = target < 0 ? float.NaN : MathF.Log(s) - (x[target] - m);
                return;
            }
            float g = target < 0 ? float.NaN : DLosses[o];
            // p g - onehot g, p g as exp(x - m) (g / s) like the GPU kernel: PyTorch's form, cancelling at the target
            TensorPrimitives.Multiply(e, g / s, e);
            var dx = Out.AsSpan(o * Classes, Classes);
            TensorPrimitives.Add(dx, e, dx);
            if (target >= 0) dx[target] -= g;
        }

        /// <summary>
        /// <see cref="Row"/> for a row of whole vectors (up to 8 of them, 128 classes), in registers, without a library
        /// call per step: a row of a few dozen classes would cost several times more in calls than in arithmetic. The same
        /// operations on the same values: the largest logit, exp(x - m), their sum added vector by vector in order and
        /// then across the lanes (the library's order for up to 8 vectors, which a test holds), PyTorch's gradient form.
        /// </summary>
        [SkipLocalsInit]
        private readonly void RowInVectors(int o)
        {
            int classes = Classes, at = o * classes;
            ref float x = ref MemoryMarshal.GetArrayDataReference(X);
            Span<float> e = stackalloc float[MaxRowVectors * Lanes];
            ref float er = ref MemoryMarshal.GetReference(e);
            var max = Vector512.LoadUnsafe(ref x, (nuint)at);
            var nan = Vector512.IsNaN(max);
            for (int c = Lanes; c < classes; c += Lanes)
            {
                var v = Vector512.LoadUnsafe(ref x, (nuint)(at + c));
                max = Vector512.Max(max, v);
                nan |= Vector512.IsNaN(v);
            }
            // NaN when any logit is NaN, as the library's Max
            float m = nan != Vector512<float>.Zero ? float.NaN : MaxOfLanes(max);
            var mv = Vector512.Create(m);
            var sum = Vector512<float>.Zero;
            for (int c = 0; c < classes; c += Lanes)
            {
                var ev = Vector512.Exp(Vector512.LoadUnsafe(ref x, (nuint)(at + c)) - mv);
                ev.StoreUnsafe(ref er, (nuint)c);
                sum += ev;
            }
            float s = Vector512.Sum(sum);
            int target = Indexing.Resolve(T[o], classes);
            if (DLosses is null)
            {
                Out[o] = target < 0 ? float.NaN : MathF.Log(s) - (X[at + target] - m);
                return;
            }
            float g = target < 0 ? float.NaN : DLosses[o];
            var scale = Vector512.Create(g / s);
            ref float dx = ref MemoryMarshal.GetArrayDataReference(Out);
            for (int c = 0; c < classes; c += Lanes)
            {
                var d = Vector512.LoadUnsafe(ref dx, (nuint)(at + c)) + Vector512.LoadUnsafe(ref er, (nuint)c) * scale;
                d.StoreUnsafe(ref dx, (nuint)(at + c));
            }
            if (target >= 0) Out[at + target] -= g;
        }

        /// <summary>The largest lane of a vector without NaN (the order of comparisons cannot change a maximum).</summary>
        private static float MaxOfLanes(Vector512<float> v)
        {
            var m256 = Vector256.Max(v.GetLower(), v.GetUpper());
            var m128 = Vector128.Max(m256.GetLower(), m256.GetUpper());
            float m = m128[0];
            for (int i = 1; i < 4; i++) m = Math.Max(m, m128[i]);
            return m;
        }

        /// <summary>
        /// Logits [B, C, H, W]: a [C, inner] block at a time, vectorised along the positions (16 at a time; fewer than
        /// 16 positions zero-padded): the largest logit, then exp(x - m) and its sum, each position in its own lane. The
        /// backward keeps every exp(x - m) of the block (C x inner floats, in cache) so that it takes one exp per logit.
        /// </summary>
        private readonly void Block(int o)
        {
            int inner = Inner, classes = Classes, block = o * classes * inner;
            bool backward = DLosses is not null;
            var scratch = Scratch(2 * inner + (backward ? classes * inner : 0));
            Span<float> m = scratch[..inner], s = scratch.Slice(inner, inner);
            Span<float> e = backward ? scratch.Slice(2 * inner, classes * inner) : default;
            for (int j = 0; j < inner; j += Lanes)
            {
                // a last partial group overlaps the one before instead of padding (each lane's arithmetic is its own,
                // so a position computed twice gets the same bits)
                if (j + Lanes > inner && inner >= Lanes) j = inner - Lanes;
                int count = Math.Min(Lanes, inner - j);
                var mv = Load(X, block + j, count);
                for (int c = 1; c < classes; c++) mv = Vector512.Max(mv, Load(X, block + c * inner + j, count));   // NaN wins
                var sv = Vector512<float>.Zero;
                for (int c = 0; c < classes; c++)
                {
                    var ev = UnaryOperators.ExpVector(Load(X, block + c * inner + j, count) - mv);
                    sv += ev;
                    if (backward) Store(ev, e, c * inner + j, count);
                }
                Store(mv, m, j, count);
                Store(sv, s, j, count);
            }
            var targets = T.AsSpan(o * inner, inner);
            if (!backward)
            {
                var losses = Out.AsSpan(o * inner, inner);
                for (int i = 0; i < inner; i++)
                {
                    int target = Indexing.Resolve(targets[i], classes);
                    losses[i] = target < 0 ? float.NaN : MathF.Log(s[i]) - (X[block + target * inner + i] - m[i]);
                }
                return;
            }
            // g / s per position (NaN for an invalid target) in s's place; then dx += exp(x - m) (g / s), and - g at the target
            var dl = DLosses.AsSpan(o * inner, inner);
            for (int i = 0; i < inner; i++) s[i] = Indexing.Resolve(targets[i], classes) < 0 ? float.NaN : dl[i] / s[i];
            for (int c = 0; c < classes; c++)
            {
                var dx = Out.AsSpan(block + c * inner, inner);
                TensorPrimitives.MultiplyAdd(e.Slice(c * inner, inner), s, dx, dx);
            }
            for (int i = 0; i < inner; i++)
            {
                int target = Indexing.Resolve(targets[i], classes);
                if (target >= 0) Out[block + target * inner + i] -= dl[i];
            }
        }

        private const int Lanes = 16;   // Vector512<float>.Count
    private const int MaxRowVectors = 8;

        /// <summary>a[start .. start + count], zero-padded to a whole vector.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Load(float[] a, int start, int count) =>
            count == Lanes ? Vector512.Create<float>(a.AsSpan(start, Lanes)) : LoadPadded(a, start, count);

        // apart, because a method with stackalloc is never inlined
        private static Vector512<float> LoadPadded(float[] a, int start, int count)
        {
            Span<float> padded = stackalloc float[Lanes];
            padded.Clear();
            a.AsSpan(start, count).CopyTo(padded);
            return Vector512.Create<float>(padded);
        }

        /// <summary>The first <paramref name="count"/> lanes of v into destination[start ..].</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(Vector512<float> v, Span<float> destination, int start, int count)
        {
            if (count == Lanes) v.CopyTo(destination.Slice(start, Lanes));
            else StorePartial(v, destination, start, count);
        }

        private static void StorePartial(Vector512<float> v, Span<float> destination, int start, int count)
        {
            Span<float> lanes = stackalloc float[Lanes];
            v.CopyTo(lanes);
            lanes[..count].CopyTo(destination.Slice(start, count));
        }
    }
}
