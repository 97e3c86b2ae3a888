using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// Differentiable operations on tensors. Each op computes its forward value through the tensor's
/// <see cref="IBackend"/> and, right beside it, records the backward function that accumulates into its
/// inputs' gradients.
/// </summary>
public static partial class TensorOps
{
    // ---- helpers --------------------------------------------------------------------------------

    /// <summary>A fresh, uninitialised-by-contract result tensor on <paramref name="backend"/>.</summary>
    /// <summary>An op's output, not cleared: forward kernels overwrite their output in full (IBackend's convention).</summary>
    internal static Tensor NewTensor(IBackend backend, Shape shape) => Tensor.Wrap(backend.AllocateUninitialized(shape.Count), shape);

    /// <summary>An op's output, all zero: for a kernel that accumulates into it.</summary>
    internal static Tensor NewZeroTensor(IBackend backend, Shape shape) => Tensor.Wrap(backend.Allocate(shape.Count), shape);

    internal static void SameBackend(string op, Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new ArgumentException($"{op}: tensors live on different devices ({a.Backend.Name} and {b.Backend.Name}); move one with To()");
    }

    // ---- binary ops with broadcasting -------------------------------------------------------------

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(this Tensor a, Tensor b) => Binary(BinaryOp.Add, "add", a, b);
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(this Tensor a, Tensor b) => Binary(BinaryOp.Sub, "sub", a, b);
    /// <summary>a * b (elementwise) with broadcasting.</summary>
    public static Tensor Mul(this Tensor a, Tensor b) => Binary(BinaryOp.Mul, "mul", a, b);
    /// <summary>a / b (elementwise) with broadcasting.</summary>
    public static Tensor Div(this Tensor a, Tensor b) => Binary(BinaryOp.Div, "div", a, b);

    private static Tensor Binary(BinaryOp op, string name, Tensor a, Tensor b)
    {
        SameBackend(name, a, b);
        Shape shape = a.Shape;   // same shapes (the common case) share the dimension array: no per-op garbage
        if (a.Shape != b.Shape)
        {
            try { shape = Shape.Own(Broadcast.ResultShape(a.Shape.Dims, b.Shape.Dims)); }
            catch (ArgumentException e) { throw new ArgumentException($"{name}: {e.Message}"); }
        }
        var backend = a.Backend;
        var c = NewTensor(backend, shape);
        backend.Binary(op, a.Buffer, a.Shape.Dims, b.Buffer, b.Shape.Dims, c.Buffer, c.Shape.Dims);
        return Autograd.Record(c, name, [a, b], (dc, gradOf) =>
        {
            if (op == BinaryOp.Add && RowGroups.Current is { } groups && groups.HoldsRows(a.Shape) && a.Shape == c.Shape
                && b.Shape.Rank == 1 && b.Shape[0] == c.Shape[1] && RowGroups.IsParameter(b))
            {
                // a bias added to every row of a batch in row groups: its gradient sums over the rows, so it is left to the groups
                backend.BinaryBackward(op, a.Buffer, a.Shape.Dims, b.Buffer, b.Shape.Dims, dc.Buffer, dc.Shape.Dims, gradOf(a)?.Buffer, null);
                groups.Defer(b, dc, (target, accumulate) => backend.SumRowsByGroups(dc.Buffer, target, b.Count, groups.Starts, accumulate));
                return;
            }
            backend.BinaryBackward(op, a.Buffer, a.Shape.Dims, b.Buffer, b.Shape.Dims, dc.Buffer, dc.Shape.Dims,
                gradOf(a)?.Buffer, gradOf(b)?.Buffer);
        });
    }

    // ---- unary ops ------------------------------------------------------------------------------

    /// <summary>-x</summary>
    public static Tensor Neg(this Tensor x) => Unary(UnaryOp.Neg, "neg", x);
    /// <summary>e^x</summary>
    public static Tensor Exp(this Tensor x) => Unary(UnaryOp.Exp, "exp", x);
    /// <summary>ln x</summary>
    public static Tensor Log(this Tensor x) => Unary(UnaryOp.Log, "log", x);
    /// <summary>sqrt x</summary>
    public static Tensor Sqrt(this Tensor x) => Unary(UnaryOp.Sqrt, "sqrt", x);
    /// <summary>|x|</summary>
    public static Tensor Abs(this Tensor x) => Unary(UnaryOp.Abs, "abs", x);
    /// <summary>max(x, 0)</summary>
    public static Tensor Relu(this Tensor x) => Unary(UnaryOp.Relu, "relu", x);
    /// <summary>x if x &gt; 0 else slope * x</summary>
    public static Tensor LeakyRelu(this Tensor x, float negativeSlope = 0.01f) => Unary(UnaryOp.LeakyRelu, "leaky_relu", x, negativeSlope);
    /// <summary>1 / (1 + e^-x)</summary>
    public static Tensor Sigmoid(this Tensor x) => Unary(UnaryOp.Sigmoid, "sigmoid", x);
    /// <summary>tanh x</summary>
    public static Tensor Tanh(this Tensor x) => Unary(UnaryOp.Tanh, "tanh", x);
    /// <summary>ln(1 + e^x), stable for large |x|</summary>
    public static Tensor Softplus(this Tensor x) => Unary(UnaryOp.Softplus, "softplus", x);
    /// <summary>x * sigmoid(x) (SiLU, also called swish)</summary>
    public static Tensor Silu(this Tensor x) => Unary(UnaryOp.Silu, "silu", x);
    /// <summary>GELU in its tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch's <c>gelu(x, approximate='tanh')</c></summary>
    public static Tensor Gelu(this Tensor x) => Unary(UnaryOp.Gelu, "gelu", x);
    /// <summary>x ^ exponent (elementwise, scalar exponent)</summary>
    public static Tensor Pow(this Tensor x, float exponent) => Unary(UnaryOp.Pow, "pow", x, exponent);
    /// <summary>factor * x</summary>
    public static Tensor Mul(this Tensor x, float factor) => Unary(UnaryOp.Scale, "scale", x, factor);
    /// <summary>x / divisor</summary>
    public static Tensor Div(this Tensor x, float divisor) => Unary(UnaryOp.Scale, "scale", x, 1f / divisor);
    /// <summary>x + value</summary>
    public static Tensor Add(this Tensor x, float value) => Unary(UnaryOp.AddScalar, "add_scalar", x, value);
    /// <summary>x - value</summary>
    public static Tensor Sub(this Tensor x, float value) => Unary(UnaryOp.AddScalar, "add_scalar", x, -value);

    /// <summary>y = op(x), recorded for backward under <paramref name="name"/>.</summary>
    internal static Tensor Unary(UnaryOp op, string name, Tensor x, float alpha = 0f)
    {
        var backend = x.Backend;
        var y = NewTensor(backend, x.Shape);
        backend.Unary(op, x.Buffer, y.Buffer, x.Count, alpha);
        return Autograd.Record(y, name, [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.UnaryBackward(op, x.Buffer, y.Buffer, dy.Buffer, dx.Buffer, x.Count, alpha);
        });
    }
}
