using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// An input of <see cref="CpuElementwise.Run"/>: a span read at the loop index, or one value used at every index
/// (a broadcast dimension, or an input the kernel does not read; <c>default</c> is the value 0).
/// </summary>
internal readonly ref struct Operand
{
    private readonly ReadOnlySpan<float> _values;
    private readonly float _value;
    private readonly bool _varies;

    private Operand(ReadOnlySpan<float> values, float value, bool varies)
    {
        _values = values;
        _value = value;
        _varies = varies;
    }

    /// <summary>values[i] at index i.</summary>
    public static Operand Of(ReadOnlySpan<float> values) => new(values, 0f, true);

    /// <summary>The same value at every index.</summary>
    public static Operand Uniform(float value) => new(default, value, false);

    public float this[int i] => _varies ? _values[i] : _value;

    public Vector512<float> Load(int i) =>
        _varies ? Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(_values), (nuint)i) : Vector512.Create(_value);

    /// <summary>Elements i.. to the end, padded with zeros to a whole vector.</summary>
    public Vector512<float> LoadTail(int i)
    {
        if (!_varies) return Vector512.Create(_value);
        Span<float> padded = stackalloc float[Vector512<float>.Count];
        padded.Clear();
        _values[i..].CopyTo(padded);
        return Vector512.Create(padded);
    }
}

/// <summary>One elementwise step: up to four inputs and a scalar parameter in, one value out.</summary>
internal interface IElementwiseKernel
{
    static abstract float Invoke(float a, float b, float c, float d, float p);
    static abstract Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p);
}

/// <summary>
/// The CPU's one elementwise loop, generic over the kernel (each an op's operator, see src/Kernels/Operators).
/// <para>Spans shorter than a <see cref="Vector128{T}"/> run one scalar at a time and longer ones in
/// <see cref="Vector512{T}"/> steps (the JIT splits them where the hardware is narrower), the last partial vector
/// zero-padded: the same choice as TensorPrimitives, so the ops give its bits. Each output element is written after
/// its own inputs are read, so the destination may be one of the inputs.</para>
/// </summary>
internal static class CpuElementwise
{
    // Optimised from the first call: tier-0 code of this loop runs a transcendental op ~10x slower, which a scoring
    // app calling an op a few times would otherwise pay on every call until the tiered JIT catches up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TKernel>(Operand a, Operand b, Operand c, Operand d, Span<float> destination, float p)
        where TKernel : IElementwiseKernel
    {
        int n = destination.Length, i = 0;
        if (n < Vector128<float>.Count)
        {
            for (; i < n; i++) destination[i] = TKernel.Invoke(a[i], b[i], c[i], d[i], p);
            return;
        }
        ref float dst = ref MemoryMarshal.GetReference(destination);
        for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            TKernel.Invoke(a.Load(i), b.Load(i), c.Load(i), d.Load(i), p).StoreUnsafe(ref dst, (nuint)i);
        if (i == n) return;
        Span<float> tail = stackalloc float[Vector512<float>.Count];
        TKernel.Invoke(a.LoadTail(i), b.LoadTail(i), c.LoadTail(i), d.LoadTail(i), p).CopyTo(tail);
        tail[..(n - i)].CopyTo(destination[i..]);
    }
}

/// <summary>The operators' forms as <see cref="IElementwiseKernel"/>s: which inputs each reads, and what it computes.</summary>
internal static class CpuKernels
{
    /// <summary>y = op(x): a = x, p = alpha.</summary>
    public readonly struct UnaryForward<TOp> : IElementwiseKernel where TOp : IUnaryOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => TOp.Forward(a, p);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => TOp.Forward(a, p);
    }

    /// <summary>dx + dy op'(x): a = x, b = y, c = dy, d = dx, p = alpha.</summary>
    public readonly struct UnaryBackward<TOp> : IElementwiseKernel where TOp : IUnaryOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => TOp.Backward(a, b, c, d, p);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => TOp.Backward(a, b, c, d, p);
    }

    /// <summary>a op b.</summary>
    public readonly struct BinaryForward<TOp> : IElementwiseKernel where TOp : IBinaryOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => TOp.Forward(a, b);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => TOp.Forward(a, b);
    }

    /// <summary>dc dc/da: c = dc.</summary>
    public readonly struct BinaryGradientA<TOp> : IElementwiseKernel where TOp : IBinaryOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => TOp.GradientA(a, b, c);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => TOp.GradientA(a, b, c);
    }

    /// <summary>dc dc/db: c = dc.</summary>
    public readonly struct BinaryGradientB<TOp> : IElementwiseKernel where TOp : IBinaryOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => TOp.GradientB(a, b, c);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => TOp.GradientB(a, b, c);
    }

    /// <summary>da + g dL/da: c = da, p = g.</summary>
    public readonly struct LossGradientA<TOp> : IElementwiseKernel where TOp : ILossOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => c + TOp.GradientA(a, b, p);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => c + TOp.GradientA(a, b, p);
    }

    /// <summary>db + g dL/db: c = db, p = g.</summary>
    public readonly struct LossGradientB<TOp> : IElementwiseKernel where TOp : ILossOperator
    {
        public static float Invoke(float a, float b, float c, float d, float p) => c + TOp.GradientB(a, b, p);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float p) => c + TOp.GradientB(a, b, p);
    }
}

/// <summary>
/// <see cref="CpuElementwise.Run"/> over a large span in chunks, one per iteration of a parallel loop. Every element
/// goes through the same vector kernel however the span is cut (a chunk's last partial vector is zero-padded like the
/// whole span's), so one thread and several give the same bits.
/// <para>Inputs are arrays read at the output's index, except a broadcast row: an input whose <c>Period</c> is
/// shorter than the output repeats its first <c>Period</c> values along the output's rows (a bias over [rows, period]).
/// A null input is not read (the value 0).</para>
/// </summary>
internal struct ElementwiseJob<TKernel> : IParallelBody where TKernel : IElementwiseKernel
{
    public float[] A;
    public float[]? B, C, D;
    public float[] Output;
    public int Count;            // output elements
    public int PeriodA, PeriodB; // Count, or the length of a broadcast row
    public int Chunk;            // output elements per iteration: a multiple of the shorter period
    public float P;

    /// <summary>Elementwise work below this many elements runs on the calling thread: a parallel loop's hand-off
    /// costs about what a few thousand elements do.</summary>
    public const int ParallelElements = 1 << 15;

    /// <summary>Runs the job on <paramref name="parallel"/>, in chunks when it is large enough to share.</summary>
    public void Run(CpuParallel parallel)
    {
        if (Count <= 0) return;
        int row = Math.Min(PeriodA, PeriodB);
        int chunks = Count >= ParallelElements && parallel.Threads > 1 ? 4 * parallel.Threads : 1;
        int rows = Count / row, rowsPerChunk = (rows + chunks - 1) / chunks;
        if (row == Count) Chunk = (Count + chunks - 1) / chunks + 15 & ~15;   // whole vectors, except at the end
        else Chunk = rowsPerChunk * row;
        parallel.For((Count + Chunk - 1) / Chunk, ref this);
    }

    public readonly void Invoke(int index)
    {
        int start = index * Chunk, end = Math.Min(Count, start + Chunk);
        int row = Math.Min(PeriodA, PeriodB);
        if (row == Count) Step(start, end - start, start, start);
        else
            for (int at = start; at < end; at += row)
                Step(at, row, PeriodA == Count ? at : 0, PeriodB == Count ? at : 0);
    }

    private readonly void Step(int at, int length, int aAt, int bAt) =>
        CpuElementwise.Run<TKernel>(Operand.Of(A.AsSpan(aAt, length)), B == null ? default : Operand.Of(B.AsSpan(bAt, length)),
            C == null ? default : Operand.Of(C.AsSpan(at, length)), D == null ? default : Operand.Of(D.AsSpan(at, length)),
            Output.AsSpan(at, length), P);
}
