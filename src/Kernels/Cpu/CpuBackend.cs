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
    // the same ~60 buffers every step, and a new buffer object per tensor was ~2 KB of garbage per step.
    private readonly Dictionary<int, Stack<HostBuffer>> _freeBuffers = new();
    private const int MaxFreeBuffersPerLength = 64;

    /// <inheritdoc />
    public DeviceBuffer Allocate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "buffer length must be >= 0");
        HostBuffer? buffer = null;
        lock (_freeBuffers)
        {
            if (_freeBuffers.TryGetValue(length, out var stack) && stack.Count > 0) buffer = stack.Pop();
        }
        if (buffer == null) return new HostBuffer(this, _pool.Rent(length, clear: true), length);
        Array.Clear(buffer.Data);
        buffer.Revive();
        return buffer;
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
        ReadOnlySpan<float> xs = D(x).AsSpan(0, n);
        Span<float> ys = D(y).AsSpan(0, n);
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(xs, ys); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(xs, ys); break;
            case UnaryOp.Log: TensorPrimitives.Log(xs, ys); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(xs, ys); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(xs, ys); break;
            case UnaryOp.Relu: TensorPrimitives.Max(xs, 0f, ys); break;
            case UnaryOp.LeakyRelu:
                if (alpha is >= 0f and <= 1f)
                {
                    // max(x, alpha x) equals leaky-relu when 0 <= alpha <= 1
                    var tmp = Scratch(n);
                    TensorPrimitives.Multiply(xs, alpha, tmp.AsSpan(0, n));
                    TensorPrimitives.Max(xs, tmp.AsSpan(0, n), ys);
                    _pool.Return(tmp);
                }
                else
                {
                    for (int i = 0; i < n; i++) ys[i] = xs[i] > 0 ? xs[i] : alpha * xs[i];
                }
                break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(xs, ys); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(xs, ys); break;
            case UnaryOp.Softplus:
            {
                // max(x, 0) + ln(1 + exp(-|x|)): never overflows
                var tmp = Scratch(n);
                var t = tmp.AsSpan(0, n);
                TensorPrimitives.Abs(xs, t);
                TensorPrimitives.Negate(t, t);
                TensorPrimitives.Exp(t, t);
                TensorPrimitives.Add(t, 1f, t);
                TensorPrimitives.Log(t, t);
                TensorPrimitives.Max(xs, 0f, ys);
                TensorPrimitives.Add(ys, t, ys);
                _pool.Return(tmp);
                break;
            }
            case UnaryOp.Pow: TensorPrimitives.Pow(xs, alpha, ys); break;
            case UnaryOp.Scale: TensorPrimitives.Multiply(xs, alpha, ys); break;
            case UnaryOp.AddScalar: TensorPrimitives.Add(xs, alpha, ys); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0)
    {
        ReadOnlySpan<float> xs = D(x).AsSpan(0, n), ys = D(y).AsSpan(0, n), dys = D(dy).AsSpan(0, n);
        Span<float> dxs = D(dx).AsSpan(0, n);
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Subtract(dxs, dys, dxs); return;
            case UnaryOp.Exp: TensorPrimitives.FusedMultiplyAdd(dys, ys, dxs, dxs); return;
            case UnaryOp.Scale: TensorPrimitives.MultiplyAdd(dys, alpha, dxs, dxs); return;
            case UnaryOp.AddScalar: TensorPrimitives.Add(dxs, dys, dxs); return;
            case UnaryOp.Relu: MaskedAccumulate(xs, dys, dxs, 0f); return;
            case UnaryOp.LeakyRelu: MaskedAccumulate(xs, dys, dxs, alpha); return;
        }
        var tmp = Scratch(n);
        var t = tmp.AsSpan(0, n);
        switch (op)
        {
            case UnaryOp.Log: TensorPrimitives.Divide(dys, xs, t); break;
            case UnaryOp.Sqrt: TensorPrimitives.Divide(dys, ys, t); TensorPrimitives.Multiply(t, 0.5f, t); break;
            case UnaryOp.Abs:
                for (int i = 0; i < n; i++) t[i] = xs[i] > 0 ? dys[i] : xs[i] < 0 ? -dys[i] : 0f;
                break;
            case UnaryOp.Sigmoid:
                // dy * y * (1 - y)
                TensorPrimitives.Subtract(1f, ys, t);
                TensorPrimitives.Multiply(t, ys, t);
                TensorPrimitives.Multiply(t, dys, t);
                break;
            case UnaryOp.Tanh:
                // dy * (1 - y^2)
                TensorPrimitives.Multiply(ys, ys, t);
                TensorPrimitives.Subtract(1f, t, t);
                TensorPrimitives.Multiply(t, dys, t);
                break;
            case UnaryOp.Softplus:
                TensorPrimitives.Sigmoid(xs, t);
                TensorPrimitives.Multiply(t, dys, t);
                break;
            case UnaryOp.Pow:
                TensorPrimitives.Pow(xs, alpha - 1f, t);
                TensorPrimitives.Multiply(t, alpha, t);
                TensorPrimitives.Multiply(t, dys, t);
                break;
            default: _pool.Return(tmp); throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
        TensorPrimitives.Add(dxs, t, dxs);
        _pool.Return(tmp);
    }

    /// <summary>dx += x &gt; 0 ? dy : slope * dy (ReLU and leaky ReLU backward) with SIMD selects.</summary>
    private static void MaskedAccumulate(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float slope)
    {
        int i = 0;
        int w = Vector<float>.Count;
        var vslope = new Vector<float>(slope);
        for (; i <= x.Length - w; i += w)
        {
            var vx = new Vector<float>(x.Slice(i));
            var vdy = new Vector<float>(dy.Slice(i));
            var vdx = new Vector<float>(dx.Slice(i));
            var g = Vector.ConditionalSelect(Vector.GreaterThan(vx, Vector<float>.Zero), vdy, vdy * vslope);
            (vdx + g).CopyTo(dx.Slice(i));
        }
        for (; i < x.Length; i++) dx[i] += x[i] > 0 ? dy[i] : slope * dy[i];
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer c, ReadOnlySpan<int> cShape)
        => Binary(op, D(a), aShape, D(b), bShape, D(c), cShape);

    /// <summary><see cref="Binary(BinaryOp, DeviceBuffer, ReadOnlySpan{int}, DeviceBuffer, ReadOnlySpan{int}, DeviceBuffer, ReadOnlySpan{int})"/>
    /// on arrays, so that backward passes can target pooled scratch without wrapping it in a buffer object.</summary>
    private static void Binary(BinaryOp op, float[] av, ReadOnlySpan<int> aShape, float[] bv, ReadOnlySpan<int> bShape,
        float[] cv, ReadOnlySpan<int> cShape)
    {
        int n = Broadcast.Count(cShape);
        if (aShape.SequenceEqual(cShape) && bShape.SequenceEqual(cShape))
        {
            BinarySpans(op, av.AsSpan(0, n), bv.AsSpan(0, n), cv.AsSpan(0, n));
            return;
        }
        var walk = new BroadcastWalk(aShape, bShape, cShape);
        int inner = walk.InnerLength;
        for (int row = 0, rows = walk.Rows; row < rows; row++)
        {
            walk.Offsets(row, out int ia, out int ib);
            var cs = cv.AsSpan(row * inner, inner);
            if (walk.InnerStrideA == 1 && walk.InnerStrideB == 1) BinarySpans(op, av.AsSpan(ia, inner), bv.AsSpan(ib, inner), cs);
            else if (walk.InnerStrideA == 1) BinarySpanScalar(op, av.AsSpan(ia, inner), bv[ib], cs);
            else if (walk.InnerStrideB == 1) BinaryScalarSpan(op, av[ia], bv.AsSpan(ib, inner), cs);
            else cs.Fill(Apply(op, av[ia], bv[ib]));
        }
    }

    private static float Apply(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b, BinaryOp.Sub => a - b, BinaryOp.Mul => a * b, BinaryOp.Div => a / b,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    private static void BinarySpans(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, c); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, c); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, c); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    private static void BinarySpanScalar(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> c)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, c); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, c); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, c); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    private static void BinaryScalarSpan(BinaryOp op, float a, ReadOnlySpan<float> b, Span<float> c)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(b, a, c); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, c); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, c); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db)
    {
        int n = Broadcast.Count(cShape);
        float[] dcv = D(dc);
        // term = dc * (dc/d input), laid out like c; then summed down to the input's shape.
        float[]? term = null;
        if (da != null)
        {
            ReadOnlySpan<float> t;
            switch (op)
            {
                case BinaryOp.Add: case BinaryOp.Sub: t = dcv.AsSpan(0, n); break;
                case BinaryOp.Mul: term = Scratch(n); Binary(BinaryOp.Mul, dcv, cShape, D(b), bShape, term, cShape); t = term.AsSpan(0, n); break;
                case BinaryOp.Div: term = Scratch(n); Binary(BinaryOp.Div, dcv, cShape, D(b), bShape, term, cShape); t = term.AsSpan(0, n); break;
                default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
            }
            ReduceInto(t, cShape, D(da), aShape, 1f);
        }
        if (db != null)
        {
            ReadOnlySpan<float> t;
            float sign = 1f;
            switch (op)
            {
                case BinaryOp.Add: t = dcv.AsSpan(0, n); break;
                case BinaryOp.Sub: t = dcv.AsSpan(0, n); sign = -1f; break;
                case BinaryOp.Mul:
                    term ??= Scratch(n);
                    Binary(BinaryOp.Mul, dcv, cShape, D(a), aShape, term, cShape);
                    t = term.AsSpan(0, n);
                    break;
                case BinaryOp.Div:
                {
                    // -dc * a / b^2 = -((dc * a) / b) / b
                    term ??= Scratch(n);
                    Binary(BinaryOp.Mul, dcv, cShape, D(a), aShape, term, cShape);
                    Binary(BinaryOp.Div, term, cShape, D(b), bShape, term, cShape);
                    Binary(BinaryOp.Div, term, cShape, D(b), bShape, term, cShape);
                    t = term.AsSpan(0, n);
                    sign = -1f;
                    break;
                }
                default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
            }
            ReduceInto(t, cShape, D(db), bShape, sign);
        }
        if (term != null) _pool.Return(term);
    }

    /// <summary>dst (shape <paramref name="dstShape"/>) += sign * sum of src (shape <paramref name="srcShape"/>) over broadcast dimensions.</summary>
    private static void ReduceInto(ReadOnlySpan<float> src, ReadOnlySpan<int> srcShape, float[] dst, ReadOnlySpan<int> dstShape, float sign)
    {
        int n = src.Length;
        if (dstShape.SequenceEqual(srcShape) || Broadcast.Count(dstShape) == n)
        {
            if (sign == 1f) TensorPrimitives.Add(dst.AsSpan(0, n), src, dst.AsSpan(0, n));
            else TensorPrimitives.Subtract(dst.AsSpan(0, n), src, dst.AsSpan(0, n));
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
                if (sign == 1f) TensorPrimitives.Add(d, s, d); else TensorPrimitives.Subtract(d, s, d);
            }
            else dst[id] += sign * TensorPrimitives.Sum(s);
        }
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
        => CpuLosses.Backward(kind, D(a).AsSpan(0, n), D(b).AsSpan(0, n), D(dLoss)[0] * scale,
            da == null ? default : D(da).AsSpan(0, n), db == null ? default : D(db).AsSpan(0, n), _pool);

    // ---- matrix and layout --------------------------------------------------------------------

    /// <inheritdoc />
    public void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha = 1)
        => CpuGemm.Multiply(D(a), 0, D(b), 0, D(c), 0, m, n, k, transposeA, transposeB, accumulate, alpha, _parallel);

    /// <inheritdoc />
    public void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate)
    {
        float[] xs = D(x), ys = D(y);
        const int Tile = 32; // cache-friendly tiles
        for (int bi = 0; bi < batch; bi++)
        {
            int baseX = bi * rows * columns;
            for (int r0 = 0; r0 < rows; r0 += Tile)
            for (int c0 = 0; c0 < columns; c0 += Tile)
            {
                int r1 = Math.Min(rows, r0 + Tile), c1 = Math.Min(columns, c0 + Tile);
                for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++)
                {
                    int yi = baseX + c * rows + r;
                    float v = xs[baseX + r * columns + c];
                    ys[yi] = accumulate ? ys[yi] + v : v;
                }
            }
        }
    }

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
    public void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h)
        => CpuOptimizers.Adam(D(p).AsSpan(0, n), D(g).AsSpan(0, n), D(m).AsSpan(0, n), D(v).AsSpan(0, n), h);

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
