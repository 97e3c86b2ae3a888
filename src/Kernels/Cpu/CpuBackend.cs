using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using System.Numerics;
using System.Numerics.Tensors;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// The fast CPU backend: TensorPrimitives for contiguous elementwise work and reductions, a packed,
/// register-blocked, multi-threaded GEMM (<see cref="CpuGemm"/>), im2col convolution
/// (<see cref="CpuConvolution"/>) and pooled buffers. NativeAOT-compatible, no native code.
/// <para>Each backend has its own thread count (<see cref="Threads"/>) and its own worker threads, so backends with
/// different counts can run side by side in one process. Results have the same bits with any thread count.</para>
/// </summary>
/// <example><code>
/// using var backend = new CpuBackend(threads: 1);   // every kernel on the calling thread
/// </code></example>
public sealed class CpuBackend : IBackend
{
    /// <summary>The most threads a backend accepts.</summary>
    public const int MaxThreads = 1024;

    private readonly BufferPool _pool = new();
    private readonly CpuParallel _parallel;
    private readonly ConstantOperands _constants = new();

    /// <summary>A backend that runs each large kernel on every core (<see cref="Environment.ProcessorCount"/> threads).</summary>
    public CpuBackend() : this(Environment.ProcessorCount) { }

    /// <summary>A backend that runs each large kernel on at most <paramref name="threads"/> threads, the calling thread
    /// included (1 = everything on the calling thread, e.g. in a server that runs its own parallel requests). More
    /// threads than cores are allowed, but only make it slower.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1 or above <see cref="MaxThreads"/>.</exception>
    public CpuBackend(int threads)
    {
        if (threads is < 1 or > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"threads must be between 1 and {MaxThreads}");
        _parallel = new CpuParallel(threads);
    }

    /// <summary>Stops the worker threads of a backend that was dropped without <see cref="Dispose"/>.</summary>
    ~CpuBackend() => _parallel?.Dispose();   // null when the constructor threw

    /// <inheritdoc />
    public string Name => "cpu";

    /// <summary>The most threads one kernel call runs on, the calling thread included.</summary>
    public int Threads => _parallel.Threads;

    // ---- memory -------------------------------------------------------------------------------

    // Released buffers are pooled whole (array and buffer object) by length: a training step allocates and releases
    // the same few dozen buffers every step, so reusing the buffer objects too leaves no garbage per step.
    private readonly Dictionary<int, Stack<HostBuffer>> _freeBuffers = new();
    private const int MaxFreeBuffersPerLength = 64;

    /// <summary>
    /// When set (environment variable NEURALCORE_POISON_UNINITIALIZED=1, as the test suites do), every
    /// <see cref="AllocateUninitialized"/> buffer starts as NaN, so that an op that reads an output it did not write in
    /// full fails its tests instead of passing on a buffer that happened to be zero.
    /// </summary>
    internal static readonly bool PoisonUninitialized = Environment.GetEnvironmentVariable("NEURALCORE_POISON_UNINITIALIZED") == "1";

    /// <inheritdoc />
    public DeviceBuffer Allocate(int length) => Take(length, clear: true);

    /// <inheritdoc />
    public DeviceBuffer AllocateUninitialized(int length) => Take(length, clear: false);

    private HostBuffer Take(int length, bool clear)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "buffer length must be >= 0");
        HostBuffer? buffer = null;
        lock (_freeBuffers)
        {
            if (_freeBuffers.TryGetValue(length, out var stack) && stack.Count > 0) buffer = stack.Pop();
        }
        if (buffer == null) buffer = new HostBuffer(this, _pool.Rent(length, clear), length);
        else
        {
            if (clear) Clear(buffer.Data);
            buffer.Revive();
        }
        if (!clear && PoisonUninitialized) Array.Fill(buffer.Data, float.NaN);
        return buffer;
    }

    /// <summary>Zeroes a reused buffer, a large one in slices that the threads share (a training step clears a few
    /// megabytes of gradients).</summary>
    private void Clear(float[] data)
    {
        var job = new ClearJob { Data = data, Chunks = data.Length < CpuElementwise.ParallelElements ? 1 : Threads };
        _parallel.For(job.Chunks, ref job);
    }

    private struct ClearJob : IParallelBody
    {
        public float[] Data;
        public int Chunks;

        public readonly void Invoke(int chunk)
        {
            long n = Data.Length;
            int start = (int)(n * chunk / Chunks), end = (int)(n * (chunk + 1) / Chunks);
            Array.Clear(Data, start, end - start);
        }
    }

    /// <inheritdoc />
    public void Release(DeviceBuffer buffer)
    {
        if (buffer is not HostBuffer h || !ReferenceEquals(h.Backend, this)) return;
        lock (_freeBuffers)
        {
            if (!_freeBuffers.TryGetValue(h.Length, out var stack)) _freeBuffers[h.Length] = stack = new Stack<HostBuffer>();
            if (stack.Count < MaxFreeBuffersPerLength) { stack.Push(h); return; }
        }
        _pool.Return(h.Data);
    }

    /// <summary>Scratch memory for one kernel call; return it with <see cref="BufferPool.Return"/>.</summary>
    private float[] Scratch(int length) => _pool.Rent(length, clear: false);

    /// <inheritdoc />
    public void Upload(ReadOnlySpan<float> source, DeviceBuffer destination, int destinationOffset = 0) =>
        source.CopyTo(D(destination).AsSpan(destinationOffset, source.Length));

    /// <inheritdoc />
    public void Download(DeviceBuffer source, Span<float> destination, int sourceOffset = 0) =>
        D(source).AsSpan(sourceOffset, destination.Length).CopyTo(destination);

    /// <inheritdoc />
    public void Fill(DeviceBuffer destination, float value, int offset, int length) =>
        D(destination).AsSpan(offset, length).Fill(value);

    /// <inheritdoc />
    public void CopyBlock(DeviceBuffer source, int sourceOffset, int sourceStride, DeviceBuffer destination,
        int destinationOffset, int destinationStride, int rows, int columns, bool accumulate)
    {
        float[] s = D(source), d = D(destination);
        for (int r = 0; r < rows; r++)
        {
            var src = s.AsSpan(sourceOffset + r * sourceStride, columns);
            var dst = d.AsSpan(destinationOffset + r * destinationStride, columns);
            if (accumulate) TensorPrimitives.Add(dst, src, dst);
            else src.CopyTo(dst);
        }
    }

    /// <inheritdoc />
    public void Synchronize() { }

    // ---- elementwise --------------------------------------------------------------------------

    /// <inheritdoc />
    public void Unary(UnaryOp op, DeviceBuffer x, DeviceBuffer y, int n, float alpha = 0)
    {
        var call = new UnaryJob(D(x), null, null, D(y), n, alpha, backward: false, _parallel);
        UnaryOperators.Visit(op, ref call);
    }

    /// <summary>
    /// y = op(x) over spans on the calling thread, with the same kernel as <see cref="Unary"/> (so the same bits);
    /// <paramref name="y"/> may be <paramref name="x"/>. For callers that keep their own buffers, such as scoring one row.
    /// </summary>
    public static void Apply(UnaryOp op, ReadOnlySpan<float> x, Span<float> y, float alpha = 0)
    {
        if (y.Length != x.Length) throw new ArgumentException($"apply {op}: x holds {x.Length} values and y {y.Length}; they must match", nameof(y));
        var call = new UnaryCall(x, y, alpha);
        UnaryOperators.Visit(op, ref call);
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0)
    {
        var call = new UnaryJob(D(x), D(y), D(dy), D(dx), n, alpha, backward: true, _parallel);
        UnaryOperators.Visit(op, ref call);
    }

    /// <summary>y = op(x) into <c>output</c> = y, or dx += dy op'(x) into <c>output</c> = dx, with the op's operator.</summary>
    private readonly struct UnaryJob(float[] x, float[]? y, float[]? dy, float[] output, int n, float alpha, bool backward,
        CpuParallel parallel) : IUnaryOperatorVisitor
    {
        public void Visit<TOp>() where TOp : struct, IUnaryOperator
        {
            if (backward)
            {
                var job = new ElementwiseJob<CpuKernels.UnaryBackward<TOp>> { A = x, B = y, C = dy, D = output, Output = output, Count = n, PeriodA = n, PeriodB = n, P = alpha };
                job.Run(parallel);
            }
            else
            {
                var job = new ElementwiseJob<CpuKernels.UnaryForward<TOp>> { A = x, Output = output, Count = n, PeriodA = n, PeriodB = n, P = alpha };
                job.Run(parallel);
            }
        }
    }

    /// <summary><see cref="Apply"/>'s y = op(x) over spans, on the calling thread.</summary>
    private readonly ref struct UnaryCall(ReadOnlySpan<float> x, Span<float> output, float alpha) : IUnaryOperatorVisitor
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _output = output;

        public void Visit<TOp>() where TOp : struct, IUnaryOperator =>
            CpuElementwise.Run<CpuKernels.UnaryForward<TOp>>(Operand.Of(_x), default, default, default, _output, alpha);
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer c, ReadOnlySpan<int> cShape)
    {
        var call = new BinaryCall(D(a), aShape, D(b), bShape, null, D(c), cShape, BinaryPart.Forward, _parallel);
        BinaryOperators.Visit(op, ref call);
    }

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db)
    {
        if (da == null && db == null) return;
        int n = Broadcast.Count(cShape);
        // a sum passes dc on unchanged (to both inputs, and a difference to its first): summed down to the input's
        // shape as it is, with no term to compute
        if (op == BinaryOp.Add || op == BinaryOp.Sub)
        {
            if (da != null) AddInto(dc, cShape, da, aShape, n);
            if (op == BinaryOp.Sub) da = null;
            else
            {
                if (db != null) AddInto(dc, cShape, db, bShape, n);
                return;
            }
            if (db == null) return;
        }
        // term = dc * (dc/d input), laid out like c; then summed down to the input's shape.
        float[] term = Scratch(n);
        if (da != null)
        {
            var call = new BinaryCall(D(a), aShape, D(b), bShape, D(dc), term, cShape, BinaryPart.GradientA, _parallel);
            BinaryOperators.Visit(op, ref call);
            ReduceInto(term.AsSpan(0, n), cShape, D(da), aShape);
        }
        if (db != null)
        {
            var call = new BinaryCall(D(a), aShape, D(b), bShape, D(dc), term, cShape, BinaryPart.GradientB, _parallel);
            BinaryOperators.Visit(op, ref call);
            ReduceInto(term.AsSpan(0, n), cShape, D(db), bShape);
        }
        _pool.Return(term);
    }

    /// <summary>dst += dc summed down to dst's shape; a large gradient of dc's own shape (a residual sum's) on the threads.</summary>
    private void AddInto(DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer dst, ReadOnlySpan<int> dstShape, int n)
    {
        int count = Broadcast.Count(dstShape);
        if (n >= CpuElementwise.ParallelElements && count == n) Binary(BinaryOp.Add, dst, dstShape, dc, cShape, dst, dstShape);
        else if (n >= CpuElementwise.ParallelElements && count >= 2 * Lanes && IsTrailing(dstShape, cShape))
        {
            // a bias's gradient over many rows: the columns (whole vectors) shared among the threads, each summed in
            // row order by one thread
            var job = new AddRowsJob { Src = D(dc), Dst = D(dst), Width = count, Rows = n / count };
            job.Chunks = Math.Min(Threads, count / Lanes);
            _parallel.For(job.Chunks, ref job);
        }
        else ReduceInto(D(dc).AsSpan(0, n), cShape, D(dst), dstShape);
    }

    private const int Lanes = 16;   // Vector512<float>.Count

    /// <summary><see cref="AddRows(ReadOnlySpan{float}, Span{float})"/> for one slice of the columns (whole vectors but for the last slice's tail).</summary>
    private struct AddRowsJob : IParallelBody
    {
        public float[] Src, Dst;
        public int Width, Rows, Chunks;

        public readonly void Invoke(int chunk)
        {
            int vectors = Width / Lanes;
            int c0 = vectors * chunk / Chunks * Lanes, c1 = chunk == Chunks - 1 ? Width : vectors * (chunk + 1) / Chunks * Lanes;
            AddRows(Src.AsSpan(0, Rows * Width), Dst.AsSpan(0, Width), c0, c1);
        }
    }

    private enum BinaryPart { Forward, GradientA, GradientB }

    /// <summary>
    /// Evaluates one part of a binary op over c's shape into <c>output</c>: a and b are read through the broadcast
    /// walk, one row of c's innermost dimension at a time; dc (the gradients' upstream) has c's layout.
    /// </summary>
    private readonly ref struct BinaryCall(float[] a, ReadOnlySpan<int> aShape, float[] b, ReadOnlySpan<int> bShape,
        float[]? dc, float[] output, ReadOnlySpan<int> cShape, BinaryPart part, CpuParallel parallel) : IBinaryOperatorVisitor
    {
        private readonly ReadOnlySpan<int> _aShape = aShape, _bShape = bShape, _cShape = cShape;

        public void Visit<TOp>() where TOp : struct, IBinaryOperator
        {
            switch (part)
            {
                case BinaryPart.Forward: Walk<CpuKernels.BinaryForward<TOp>>(); break;
                case BinaryPart.GradientA: Walk<CpuKernels.BinaryGradientA<TOp>>(); break;
                default: Walk<CpuKernels.BinaryGradientB<TOp>>(); break;
            }
        }

        private void Walk<TKernel>() where TKernel : IElementwiseKernel
        {
            int n = Broadcast.Count(_cShape);
            // c's shape, or a row repeated along c's leading dimensions (a bias): one elementwise job, shared among the threads
            int periodA = Period(_aShape, n), periodB = Period(_bShape, n);
            if (periodA > 0 && periodB > 0 && (periodA == n || periodB == n))
            {
                var job = new ElementwiseJob<TKernel> { A = a, B = b, C = dc, Output = output, Count = n, PeriodA = periodA, PeriodB = periodB };
                job.Run(parallel);
                return;
            }
            var walk = new BroadcastWalk(_aShape, _bShape, _cShape);
            int inner = walk.InnerLength;
            for (int row = 0, rows = walk.Rows; row < rows; row++)
            {
                walk.Offsets(row, out int ia, out int ib);
                var av = walk.InnerStrideA == 1 ? Operand.Of(a.AsSpan(ia, inner)) : Operand.Uniform(a[ia]);
                var bv = walk.InnerStrideB == 1 ? Operand.Of(b.AsSpan(ib, inner)) : Operand.Uniform(b[ib]);
                CpuElementwise.Run<TKernel>(av, bv, Rows(row * inner, inner), default, output.AsSpan(row * inner, inner), 0f);
            }
        }

        /// <summary>dc[start .. start + length], or nothing for the forward pass.</summary>
        private Operand Rows(int start, int length) => dc == null ? default : Operand.Of(dc.AsSpan(start, length));

        /// <summary>n when <paramref name="shape"/> is c's; its element count when it is c's trailing dimensions
        /// (a row repeated along the rest); 0 otherwise.</summary>
        private int Period(ReadOnlySpan<int> shape, int n)
        {
            if (shape.SequenceEqual(_cShape)) return n;
            int count = Broadcast.Count(shape);
            // a short row (a scalar, a few values) is faster through the walk, which reads a scalar as one value
            return count >= 16 && n % count == 0 && IsTrailing(shape, _cShape) ? count : 0;
        }
    }

    /// <summary>
    /// dst += every row of src (rows of dst's length), row after row: each element's terms in row order, as one add per
    /// row would give, but 64 columns at a time kept in registers down all the rows instead of a library call per row
    /// (a bias gradient over thousands of rows of a few dozen columns would cost more in calls than in additions).
    /// </summary>
    private static void AddRows(ReadOnlySpan<float> src, Span<float> dst) => AddRows(src, dst, 0, dst.Length);

    /// <summary><see cref="AddRows(ReadOnlySpan{float}, Span{float})"/> for columns [c0, c1) of dst only.</summary>
    private static void AddRows(ReadOnlySpan<float> src, Span<float> dst, int c0, int c1)
    {
        int width = dst.Length, rows = src.Length / width, c = c0;
        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        if (Vector512.IsHardwareAccelerated)
        {
            const int lanes = 16;
            for (; c + 4 * lanes <= c1; c += 4 * lanes)
            {
                var a0 = Vector512.LoadUnsafe(ref d, (nuint)c);
                var a1 = Vector512.LoadUnsafe(ref d, (nuint)(c + lanes));
                var a2 = Vector512.LoadUnsafe(ref d, (nuint)(c + 2 * lanes));
                var a3 = Vector512.LoadUnsafe(ref d, (nuint)(c + 3 * lanes));
                for (int r = 0, at = c; r < rows; r++, at += width)
                {
                    a0 += Vector512.LoadUnsafe(ref s, (nuint)at);
                    a1 += Vector512.LoadUnsafe(ref s, (nuint)(at + lanes));
                    a2 += Vector512.LoadUnsafe(ref s, (nuint)(at + 2 * lanes));
                    a3 += Vector512.LoadUnsafe(ref s, (nuint)(at + 3 * lanes));
                }
                a0.StoreUnsafe(ref d, (nuint)c);
                a1.StoreUnsafe(ref d, (nuint)(c + lanes));
                a2.StoreUnsafe(ref d, (nuint)(c + 2 * lanes));
                a3.StoreUnsafe(ref d, (nuint)(c + 3 * lanes));
            }
            for (; c + lanes <= c1; c += lanes)
            {
                var a = Vector512.LoadUnsafe(ref d, (nuint)c);
                for (int r = 0, at = c; r < rows; r++, at += width) a += Vector512.LoadUnsafe(ref s, (nuint)at);
                a.StoreUnsafe(ref d, (nuint)c);
            }
        }
        for (; c < c1; c++)
        {
            float a = dst[c];
            for (int r = 0, at = c; r < rows; r++, at += width) a += src[at];
            dst[c] = a;
        }
    }

    /// <summary>dst (shape <paramref name="dstShape"/>) += sum of src (shape <paramref name="srcShape"/>) over broadcast dimensions.</summary>
    private static void ReduceInto(ReadOnlySpan<float> src, ReadOnlySpan<int> srcShape, float[] dst, ReadOnlySpan<int> dstShape)
    {
        int n = src.Length;
        if (dstShape.SequenceEqual(srcShape) || Broadcast.Count(dstShape) == n)
        {
            TensorPrimitives.Add(dst.AsSpan(0, n), src, dst.AsSpan(0, n));
            return;
        }
        int count = Broadcast.Count(dstShape);
        if (count > 1 && IsTrailing(dstShape, srcShape))
        {
            // dst holds the trailing dimensions of src (a bias): add src's rows into it, in row order as the walk below
            // would (a single value is the walk's vector sum instead)
            AddRows(src, dst.AsSpan(0, count));
            return;
        }
        var walk = new BroadcastWalk(dstShape, dstShape, srcShape);
        int inner = walk.InnerLength;
        for (int row = 0, rows = walk.Rows; row < rows; row++)
        {
            walk.Offsets(row, out int id, out _);
            var s = src.Slice(row * inner, inner);
            if (walk.InnerStrideA == 1)
            {
                var d = dst.AsSpan(id, inner);
                TensorPrimitives.Add(d, s, d);
            }
            else dst[id] += TensorPrimitives.Sum(s);
        }
    }

    /// <summary>Whether <paramref name="shape"/>, less its leading 1s, is the trailing dimensions of <paramref name="of"/>.</summary>
    private static bool IsTrailing(ReadOnlySpan<int> shape, ReadOnlySpan<int> of)
    {
        int lead = 0;
        while (lead < shape.Length && shape[lead] == 1) lead++;
        var rest = shape[lead..];
        return rest.Length <= of.Length && rest.SequenceEqual(of[(of.Length - rest.Length)..]);
    }

    // ---- reductions ---------------------------------------------------------------------------

    /// <inheritdoc />
    public void ReduceSum(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool accumulate)
    {
        float[] xs = D(x), ys = D(y);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                float s = TensorPrimitives.Sum(xs.AsSpan(o * length, length));
                ys[o] = accumulate ? ys[o] + s : s;
                continue;
            }
            var dst = ys.AsSpan(o * inner, inner);
            if (!accumulate) dst.Clear();
            for (int r = 0; r < length; r++) TensorPrimitives.Add(dst, xs.AsSpan((o * length + r) * inner, inner), dst);
        }
    }

    /// <inheritdoc />
    public void Loss(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int n)
        => D(result)[0] = CpuLosses.Forward(kind, D(a).AsSpan(0, n), D(b).AsSpan(0, n), _pool);

    /// <inheritdoc />
    public void LossBackward(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dLoss, float scale,
        DeviceBuffer? da, DeviceBuffer? db, int n)
        => CpuLosses.Backward(kind, D(a), D(b), D(dLoss)[0] * scale, da == null ? null : D(da), db == null ? null : D(db), n, _parallel);

    // ---- matrix and layout --------------------------------------------------------------------

    /// <inheritdoc />
    public void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha = 1)
        => CpuGemm.Multiply(D(a), 0, D(b), 0, D(c), 0, m, n, k, transposeA, transposeB, accumulate, alpha, _parallel,
            m > 0 && alpha != 0f ? _constants.PackedB(b, D(b), k, n, transposeB) : null);

    /// <inheritdoc />
    /// <remarks>The bias and the ReLU are applied to each tile of C right after the product stores it.</remarks>
    public unsafe void MatMulBias(DeviceBuffer a, DeviceBuffer b, DeviceBuffer bias, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool relu)
    {
        var biasArray = D(bias);
        if (biasArray.Length < n) throw new ArgumentException($"bias holds {biasArray.Length} values, the product has {n} columns", nameof(bias));
        fixed (float* pBias = biasArray)
            CpuGemm.Multiply(D(a), 0, D(b), 0, D(c), 0, m, n, k, transposeA, transposeB, accumulate: false, 1f, _parallel,
                m > 0 ? _constants.PackedB(b, D(b), k, n, transposeB) : null, new CpuGemm.Epilogue(pBias, relu));
    }

    /// <inheritdoc />
    public bool ComputesRowGroups => true;

    /// <inheritdoc />
    public void MatMulByRowGroups(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, ReadOnlySpan<int> groupStarts, bool accumulate)
    {
        float[] pa = D(a), pb = D(b), pc = D(c);
        var target = pc.AsSpan(0, m * n);
        bool written = accumulate, empty = false;
        if (CpuGemm.IsOneDepthBlock(groupStarts[^1]))
        {
            // one depth block: every group's sums start from zero in the kernel and are added to C in turn, tile by tile
            CpuGemm.MultiplyByGroups(pa, 0, pb, 0, pc, 0, m, n, groupStarts, true, false, accumulate, _parallel);
            for (int g = 0; g + 1 < groupStarts.Length; g++)
                if (groupStarts[g + 1] == groupStarts[g]) empty = true;
                else written = true;
        }
        else
        {
            for (int g = 0; g + 1 < groupStarts.Length; g++)
            {
                int start = groupStarts[g], rows = groupStarts[g + 1] - start;
                if (rows == 0) { empty = true; continue; }
                // a group of several depth blocks sums them among themselves first, as the group's own product does
                float[] part = Scratch(m * n);
                CpuGemm.Multiply(pa, start * m, pb, start * n, part, 0, m, n, rows, true, false, false, 1f, _parallel);
                AddOrCopy(part.AsSpan(0, m * n), target, written);
                _pool.Return(part);
                written = true;
            }
        }
        // an empty group's zeros: x + 0 only turns -0 into +0, which gives the same bits wherever in the fold it happens
        if (empty) AddZeros(target, written);
    }

    /// <inheritdoc />
    public void SumRowsByGroups(DeviceBuffer x, DeviceBuffer y, int columns, ReadOnlySpan<int> groupStarts, bool accumulate)
    {
        float[] px = D(x);
        var target = D(y).AsSpan(0, columns);
        float[] part = Scratch(columns);
        var sum = part.AsSpan(0, columns);
        bool written = accumulate;
        for (int g = 0; g + 1 < groupStarts.Length; g++)
        {
            sum.Clear();
            AddRows(px.AsSpan(groupStarts[g] * columns, (groupStarts[g + 1] - groupStarts[g]) * columns), sum);
            AddOrCopy(sum, target, written);
            written = true;
        }
        _pool.Return(part);
    }

    /// <inheritdoc />
    public void LossByRowGroups(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int width, ReadOnlySpan<int> groupStarts)
    {
        float[] pa = D(a), pb = D(b), pr = D(result);
        for (int g = 0; g + 1 < groupStarts.Length; g++)
        {
            int start = groupStarts[g] * width, count = (groupStarts[g + 1] - groupStarts[g]) * width;
            pr[g] = CpuLosses.Forward(kind, pa.AsSpan(start, count), pb.AsSpan(start, count), _pool);
        }
    }

    private static void AddOrCopy(ReadOnlySpan<float> part, Span<float> target, bool add)
    {
        if (add) TensorPrimitives.Add(target, part, target);
        else part.CopyTo(target);
    }

    // x + 0 (which turns -0 into +0) as the fold adds an empty group's zeros; zeros when nothing is written yet
    private static void AddZeros(Span<float> target, bool written)
    {
        if (written) TensorPrimitives.Add(target, 0f, target);
        else target.Clear();
    }

    /// <inheritdoc />
    /// <remarks>A matrix product whose B is one of <paramref name="buffers"/> packs it once and reuses the packing.</remarks>
    public IDisposable HoldConstant(IReadOnlyList<DeviceBuffer> buffers) => _constants.Hold(buffers);

    /// <inheritdoc />
    public void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate)
    {
        // bands of 32 source rows shared among the threads (each output element written by one thread, once)
        var job = new TransposeJob { X = D(x), Y = D(y), Batch = batch, Rows = rows, Columns = columns, Accumulate = accumulate };
        int bands = batch * ((rows + TransposeJob.Tile - 1) / TransposeJob.Tile);
        job.Bands = bands;
        job.Chunks = (long)batch * rows * columns < CpuElementwise.ParallelElements ? 1 : Math.Min(Threads, bands);
        _parallel.For(job.Chunks, ref job);
    }

    private struct TransposeJob : IParallelBody
    {
        public const int Tile = 32;   // cache-friendly tiles
        public float[] X, Y;
        public int Batch, Rows, Columns, Bands, Chunks;
        public bool Accumulate;

        public readonly void Invoke(int chunk)
        {
            int bandsPerMatrix = (Rows + Tile - 1) / Tile;
            int b0 = (int)((long)Bands * chunk / Chunks), b1 = (int)((long)Bands * (chunk + 1) / Chunks);
            float[] xs = X, ys = Y;
            for (int band = b0; band < b1; band++)
            {
                int bi = band / bandsPerMatrix, r0 = band % bandsPerMatrix * Tile, r1 = Math.Min(Rows, r0 + Tile);
                int baseX = bi * Rows * Columns;
                for (int c0 = 0; c0 < Columns; c0 += Tile)
                {
                    int c1 = Math.Min(Columns, c0 + Tile);
                    for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                    {
                        int yi = baseX + c * Rows + r;
                        float v = xs[baseX + r * Columns + c];
                        ys[yi] = Accumulate ? ys[yi] + v : v;
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public void Permute(DeviceBuffer x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, DeviceBuffer y, bool accumulate) =>
        CpuIndexing.Permute(D(x), xShape, axes, D(y), accumulate);

    // ---- indexing -----------------------------------------------------------------------------

    /// <inheritdoc />
    public void GatherRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int rows, int width) =>
        CpuIndexing.GatherRows(D(table), D(indices), D(y), n, rows, width, _parallel);

    /// <inheritdoc />
    public void ScatterAddRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int rows, int width) =>
        CpuIndexing.ScatterAddRows(D(dy), D(indices), D(dTable), n, rows, width, _parallel);

    /// <inheritdoc />
    public void GatherSumRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int taps, int rows, int width) =>
        CpuIndexing.GatherSumRows(D(table), D(indices), D(y), n, taps, rows, width, _parallel);

    /// <inheritdoc />
    public void ScatterAddSumRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int taps, int rows, int width) =>
        CpuIndexing.ScatterAddSumRows(D(dy), D(indices), D(dTable), n, taps, rows, width, _parallel);

    /// <inheritdoc />
    public void OneHot(DeviceBuffer indices, DeviceBuffer y, int n, int classes) => CpuIndexing.OneHot(D(indices), D(y), n, classes);

    /// <inheritdoc />
    public void ArgReduce(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool max) =>
        CpuIndexing.ArgReduce(D(x), D(y), outer, length, inner, max);

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer losses, int outer, int classes, int inner) =>
        CpuIndexing.SoftmaxCrossEntropy(D(logits), D(targets), D(losses), outer, classes, inner, _parallel);

    /// <inheritdoc />
    public void SoftmaxCrossEntropyBackward(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer dLosses, DeviceBuffer dLogits,
        int outer, int classes, int inner) =>
        CpuIndexing.SoftmaxCrossEntropyBackward(D(logits), D(targets), D(dLosses), D(dLogits), outer, classes, inner, _parallel);

    // ---- convolution --------------------------------------------------------------------------

    /// <inheritdoc />
    public void Conv2dForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, in ConvGeometry g) =>
        CpuConvolution.Forward(D(x), D(w), D(y), g, _parallel);

    /// <inheritdoc />
    public void Conv2dBackwardData(DeviceBuffer dy, DeviceBuffer w, DeviceBuffer dx, in ConvGeometry g) =>
        CpuConvolution.BackwardData(D(dy), D(w), D(dx), g, _parallel);

    /// <inheritdoc />
    public void Conv2dBackwardWeight(DeviceBuffer x, DeviceBuffer dy, DeviceBuffer dw, in ConvGeometry g) =>
        CpuConvolution.BackwardWeight(D(x), D(dy), D(dw), g, _parallel);

    // ---- optimisers ---------------------------------------------------------------------------

    /// <inheritdoc />
    /// <remarks>A large tensor is cut into slices (of whole vectors) that the threads update side by side; every element's
    /// update is the same arithmetic wherever the cuts fall.</remarks>
    public void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h)
    {
        var job = new AdamJob { P = D(p), G = D(g), M = D(m), V = D(v), N = n, H = h, Chunks = n < CpuElementwise.ParallelElements ? 1 : Threads };
        _parallel.For(job.Chunks, ref job);
    }

    private struct AdamJob : IParallelBody
    {
        public float[] P, G, M, V;
        public int N, Chunks;
        public AdamParameters H;

        public readonly void Invoke(int chunk)
        {
            const int vector = 16;
            int start = (int)((long)N * chunk / Chunks) / vector * vector;
            int end = chunk == Chunks - 1 ? N : (int)((long)N * (chunk + 1) / Chunks) / vector * vector;
            int length = end - start;
            CpuOptimizers.Adam(P.AsSpan(start, length), G.AsSpan(start, length), M.AsSpan(start, length), V.AsSpan(start, length), H);
        }
    }

    /// <inheritdoc />
    public void SgdStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer velocity, int n, float learningRate, float momentum, float weightDecay)
        => CpuOptimizers.Sgd(D(p).AsSpan(0, n), D(g).AsSpan(0, n), D(velocity).AsSpan(0, n), learningRate, momentum, weightDecay);

    /// <inheritdoc />
    public void Dispose()
    {
        _parallel.Dispose();
        _pool.Clear();
        lock (_freeBuffers) _freeBuffers.Clear();
        GC.SuppressFinalize(this);
    }

    private float[] D(DeviceBuffer buffer)
    {
        if (buffer is HostBuffer h && ReferenceEquals(buffer.Backend, this)) return h.Data;
        throw new ArgumentException($"buffer belongs to backend '{buffer.Backend.Name}', not '{Name}'; move the tensor first");
    }
}
