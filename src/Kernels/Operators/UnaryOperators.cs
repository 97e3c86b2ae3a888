using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels;

/// <summary>Elementwise one-input ops. <c>alpha</c> parameterises some of them.</summary>
public enum UnaryOp
{
    /// <summary>y = -x</summary>
    Neg,
    /// <summary>y = exp(x)</summary>
    Exp,
    /// <summary>y = ln(x)</summary>
    Log,
    /// <summary>y = sqrt(x)</summary>
    Sqrt,
    /// <summary>y = |x|; gradient sign(x) (0 at 0 and at NaN, as PyTorch)</summary>
    Abs,
    /// <summary>y = max(x, 0), NaN for NaN; gradient 0 where x &lt;= 0, else 1 (NaN passes the gradient, as PyTorch)</summary>
    Relu,
    /// <summary>y = x if x &gt; 0 else alpha * x</summary>
    LeakyRelu,
    /// <summary>y = 1 / (1 + exp(-x))</summary>
    Sigmoid,
    /// <summary>y = tanh(x)</summary>
    Tanh,
    /// <summary>y = ln(1 + exp(x)), computed stably (log1p form; x itself above 20, as PyTorch)</summary>
    Softplus,
    /// <summary>y = x ^ alpha; gradient alpha x^(alpha-1), 0 everywhere when alpha = 0 (as PyTorch)</summary>
    Pow,
    /// <summary>y = alpha * x</summary>
    Scale,
    /// <summary>y = x + alpha</summary>
    AddScalar,
    /// <summary>y = x * sigmoid(x) (SiLU, also called swish)</summary>
    Silu,
    /// <summary>y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GELU in its tanh form (PyTorch's <c>approximate='tanh'</c>)</summary>
    Gelu,
}

/// <summary>
/// One elementwise op of the fast backends, defined once: the forward and the backward side by side, as a scalar
/// (the GPU kernels and the CPU's short spans) and as a <see cref="Vector512{T}"/> (the CPU's SIMD loop). The two
/// forms compute the same formula lane by lane, so every element gets the same bits whichever form runs it.
/// </summary>
internal interface IUnaryOperator
{
    /// <summary>y = op(x).</summary>
    static abstract float Forward(float x, float alpha);

    /// <summary>dx + dy * op'(x), given x and y = op(x).</summary>
    static abstract float Backward(float x, float y, float dy, float dx, float alpha);

    /// <inheritdoc cref="Forward(float, float)"/>
    static abstract Vector512<float> Forward(Vector512<float> x, float alpha);

    /// <inheritdoc cref="Backward(float, float, float, float, float)"/>
    static abstract Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha);
}

/// <summary>The operators of every <see cref="UnaryOp"/>; the only place that maps the enum to them.</summary>
internal static class UnaryOperators
{
    /// <summary>Calls <paramref name="visitor"/> with the operator type of <paramref name="op"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="op"/> is not a defined <see cref="UnaryOp"/>.</exception>
    public static void Visit<TVisitor>(UnaryOp op, ref TVisitor visitor) where TVisitor : IUnaryOperatorVisitor, allows ref struct
    {
        switch (op)
        {
            case UnaryOp.Neg: visitor.Visit<Neg>(); break;
            case UnaryOp.Exp: visitor.Visit<Exp>(); break;
            case UnaryOp.Log: visitor.Visit<Log>(); break;
            case UnaryOp.Sqrt: visitor.Visit<Sqrt>(); break;
            case UnaryOp.Abs: visitor.Visit<Abs>(); break;
            case UnaryOp.Relu: visitor.Visit<Relu>(); break;
            case UnaryOp.LeakyRelu: visitor.Visit<LeakyRelu>(); break;
            case UnaryOp.Sigmoid: visitor.Visit<Sigmoid>(); break;
            case UnaryOp.Tanh: visitor.Visit<Tanh>(); break;
            case UnaryOp.Softplus: visitor.Visit<Softplus>(); break;
            case UnaryOp.Pow: visitor.Visit<Pow>(); break;
            case UnaryOp.Scale: visitor.Visit<Scale>(); break;
            case UnaryOp.AddScalar: visitor.Visit<AddScalar>(); break;
            case UnaryOp.Silu: visitor.Visit<Silu>(); break;
            case UnaryOp.Gelu: visitor.Visit<Gelu>(); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    // The vector forms follow System.Numerics.Tensors.TensorPrimitives' formulas for the same functions (Exp, Log,
    // Sigmoid, Tanh, Pow as exp(alpha ln x), Max with IEEE semantics), so results match TensorPrimitives bit for bit.

    /// <summary>
    /// Vector512.Exp, except that it gives 1 where exp(x) rounds to 1 in float (|x| &lt; 2^-25 = 2.98023224e-8): the library's polynomial
    /// returns one ulp above 1 there (exp(0) = 1.00000012), which tanh's formula then turns into tanh(0) = -6e-8.
    /// </summary>
    internal static Vector512<float> ExpVector(Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(2.98023224e-8f)), Vector512<float>.One, Vector512.Exp(x));

    /// <summary>
    /// ln(1 + u) for u &gt;= 0, accurate for small u (there is no vector log1p): below 1/16 its series to u^7 (relative
    /// error under 1e-9), which needs no log at all (a GPU's approximate log has an absolute error near 1, so ln(1 + u)
    /// through it would lose small u); above, ln(w) u / (w - 1) with w = 1 + u, which corrects the rounding of w
    /// (Goldberg's trick).
    /// </summary>
    internal static float LogOnePlus(float u)
    {
        if (u < 0.0625f)
        {
            // multiply-adds written out in the scalar forms: ILGPU's PTX has no MathF.FusedMultiplyAdd (it leaves an
            // unresolved external call, which a GPU driver refuses to load)
            return u * (1f + u * (-0.5f + u * (1f / 3f + u * (-0.25f + u * (0.2f + u * (-1f / 6f + u * (1f / 7f)))))));
        }
        float w = 1f + u;
        return MathF.Log(w) * (u / (w - 1f));
    }

    /// <inheritdoc cref="LogOnePlus(float)"/>
    internal static Vector512<float> LogOnePlus(Vector512<float> u)
    {
        var series = Vector512.FusedMultiplyAdd(u, Vector512.Create(1f / 7f), Vector512.Create(-1f / 6f));
        series = Vector512.FusedMultiplyAdd(u, series, Vector512.Create(0.2f));
        series = Vector512.FusedMultiplyAdd(u, series, Vector512.Create(-0.25f));
        series = Vector512.FusedMultiplyAdd(u, series, Vector512.Create(1f / 3f));
        series = Vector512.FusedMultiplyAdd(u, series, Vector512.Create(-0.5f));
        series = Vector512.FusedMultiplyAdd(u, series, Vector512<float>.One) * u;
        var w = Vector512<float>.One + u;
        return Vector512.ConditionalSelect(Vector512.LessThan(u, Vector512.Create(0.0625f)), series, Vector512.Log(w) * (u / (w - Vector512<float>.One)));
    }

    internal readonly struct Neg : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => -x;
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx - dy;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => -x;
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) => dx - dy;
    }

    internal readonly struct Exp : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => MathF.Exp(x);
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy * y;   // no MathF.FusedMultiplyAdd on ILGPU
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => ExpVector(x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            Vector512.FusedMultiplyAdd(dy, y, dx);
    }

    internal readonly struct Log : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => MathF.Log(x);
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy / x;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => Vector512.Log(x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) => dx + dy / x;
    }

    internal readonly struct Sqrt : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => MathF.Sqrt(x);
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy / y * 0.5f;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => Vector512.Sqrt(x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + dy / y * 0.5f;
    }

    internal readonly struct Abs : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => MathF.Abs(x);
        // dy sign(x), sign being 0 at +-0 and at NaN (PyTorch's sgn)
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy * (x > 0f ? 1f : x < 0f ? -1f : 0f);
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => Vector512.Abs(x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha)
        {
            var one = Vector512<float>.One;
            var sign = (Vector512.GreaterThan(x, Vector512<float>.Zero) & one) - (Vector512.LessThan(x, Vector512<float>.Zero) & one);
            return dx + dy * sign;
        }
    }

    internal readonly struct Relu : IUnaryOperator
    {
        // Written as comparisons, not max: a GPU's max returns the other operand for NaN, and PyTorch gives
        // relu(NaN) = NaN. The gradient is blocked where x <= 0 only, so a NaN input passes it, as in PyTorch.
        public static float Forward(float x, float alpha) => x <= 0f ? 0f : x;
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + (x <= 0f ? dy * 0f : dy);
        public static Vector512<float> Forward(Vector512<float> x, float alpha) =>
            Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.Zero, x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<float>.Zero), dy * 0f, dy);
    }

    internal readonly struct LeakyRelu : IUnaryOperator
    {
        // For 0 <= alpha <= 1, max(x, alpha x) is the same function with IEEE max semantics.
        public static float Forward(float x, float alpha) =>
            alpha is >= 0f and <= 1f ? MathF.Max(x, x * alpha) : x > 0f ? x : alpha * x;
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + (x > 0f ? dy : dy * alpha);
        public static Vector512<float> Forward(Vector512<float> x, float alpha) =>
            alpha is >= 0f and <= 1f ? Vector512.Max(x, x * alpha)
                : Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, alpha * x);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dy, dy * alpha);
    }

    internal readonly struct Sigmoid : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => 1f / (1f + MathF.Exp(-x));
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + (1f - y) * y * dy;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => Vector512<float>.One / (Vector512<float>.One + ExpVector(-x));
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + (Vector512<float>.One - y) * y * dy;
    }

    internal readonly struct Tanh : IUnaryOperator
    {
        /// <summary>The vector form's formula on one value (MathF.Tanh(1e-7) is one ulp off; this is exact there).</summary>
        public static float Forward(float x, float alpha)
        {
            float ax = MathF.Abs(x);
            if (ax < 0.625f)
            {
                float x2 = x * x;
                float p = (((-5.70498872745e-3f * x2 + 2.06390887954e-2f) * x2 - 5.37397155531e-2f) * x2 + 1.33314422036e-1f) * x2
                    - 3.33332819422e-1f;
                return x == 0f ? x : x + p * x2 * x;   // x itself keeps the sign of a zero
            }
            float z = MathF.Exp(-2f * ax) - 1f;
            float t = -z / (z + 2f);
            return x < 0f ? -t : t;
        }

        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + (1f - y * y) * dy;

        /// <summary>
        /// tanh|x| = -z / (z + 2) with z = exp(-2|x|) - 1, given x's sign; below |x| = 0.625, where exp(-2|x|) - 1
        /// cancels, Cephes' odd polynomial x + x^3 P(x^2) (relative error about 1e-7, exact sign, tanh(+-0) = +-0).
        /// </summary>
        public static Vector512<float> Forward(Vector512<float> x, float alpha)
        {
            var ax = Vector512.Abs(x);
            var z = Vector512.Exp(Vector512.Create(-2f) * ax) - Vector512<float>.One;
            var x2 = x * x;
            var p = Vector512.FusedMultiplyAdd(Vector512.Create(-5.70498872745e-3f), x2, Vector512.Create(2.06390887954e-2f));
            p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(-5.37397155531e-2f));
            p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(1.33314422036e-1f));
            p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(-3.33332819422e-1f));
            var small = Vector512.FusedMultiplyAdd(p * x2, ax, ax);
            var magnitude = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.625f)), small, -z / (z + Vector512.Create(2f)));
            var sign = x.AsUInt32() & Vector512.Create(0x8000_0000u);
            return (sign ^ magnitude.AsUInt32()).AsSingle();
        }

        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + (Vector512<float>.One - y * y) * dy;
    }

    internal readonly struct Softplus : IUnaryOperator
    {
        // max(x, 0) + log1p(exp(-|x|)): never overflows, and keeps full precision where softplus is tiny (x << 0);
        // above 20 it is x itself, as in PyTorch (the log1p term is below x's rounding there anyway).
        public static float Forward(float x, float alpha) =>
            x > 20f ? x : MathF.Max(x, 0f) + LogOnePlus(MathF.Exp(-MathF.Abs(x)));
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + Sigmoid.Forward(x, 0f) * dy;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(20f)), x,
                Vector512.Max(x, Vector512<float>.Zero) + LogOnePlus(Vector512.Exp(-Vector512.Abs(x))));
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            dx + Sigmoid.Forward(x, 0f) * dy;
    }

    internal readonly struct Pow : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => Power(x, alpha);
        // x^0 is the constant 1: its gradient is 0 everywhere (PyTorch's too), not 0 * x^-1 (NaN at 0)
        public static float Backward(float x, float y, float dy, float dx, float alpha) =>
            alpha == 0f ? dx : dx + Power(x, alpha - 1f) * alpha * dy;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => Power(x, alpha);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) =>
            alpha == 0f ? dx : dx + Power(x, alpha - 1f) * alpha * dy;

        // Exponents 0.5 and -0.5 are sqrt(x) and 1 / sqrt(x), as PyTorch computes them: pow(-inf, 0.5) = +inf and
        // pow(-0, -0.5) = +inf by C's rules, but sqrt gives NaN and 1 / sqrt(-0) = -inf.
        private static float Power(float x, float exponent) => exponent switch
        {
            0.5f => MathF.Sqrt(x),
            -0.5f => 1f / MathF.Sqrt(x),
            _ => MathF.Pow(x, exponent),
        };

        // TensorPrimitives computes Pow one element at a time (float.Pow) at every length; so does this.
        private static Vector512<float> Power(Vector512<float> x, float exponent)
        {
            if (exponent == 0.5f) return Vector512.Sqrt(x);
            if (exponent == -0.5f) return Vector512<float>.One / Vector512.Sqrt(x);
            Span<float> lanes = stackalloc float[Vector512<float>.Count];
            x.CopyTo(lanes);
            foreach (ref float lane in lanes) lane = MathF.Pow(lane, exponent);
            return Vector512.Create(lanes);
        }
    }

    internal readonly struct Scale : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => x * alpha;
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy * alpha;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => x * alpha;
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) => dx + dy * alpha;
    }

    internal readonly struct AddScalar : IUnaryOperator
    {
        public static float Forward(float x, float alpha) => x + alpha;
        public static float Backward(float x, float y, float dy, float dx, float alpha) => dx + dy;
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => x + Vector512.Create(alpha);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha) => dx + dy;
    }

    internal readonly struct Silu : IUnaryOperator
    {
        // y = x s with s = sigmoid(x); y' = s (1 + x (1 - s))
        public static float Forward(float x, float alpha) => x * Sigmoid.Forward(x, 0f);
        public static float Backward(float x, float y, float dy, float dx, float alpha)
        {
            float s = Sigmoid.Forward(x, 0f);
            return dx + s * (1f + x * (1f - s)) * dy;
        }
        public static Vector512<float> Forward(Vector512<float> x, float alpha) => x * Sigmoid.Forward(x, 0f);
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha)
        {
            var s = Sigmoid.Forward(x, 0f);
            return dx + s * (Vector512<float>.One + x * (Vector512<float>.One - s)) * dy;
        }
    }

    internal readonly struct Gelu : IUnaryOperator
    {
        // y = 0.5 x (1 + t), t = tanh(u), u = k (x + c x^3);  y' = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
        private const float K = 0.7978845608028654f;   // sqrt(2 / pi)
        private const float C = 0.044715f;

        public static float Forward(float x, float alpha) => 0.5f * x * (1f + Tanh.Forward(K * (x + C * x * x * x), 0f));
        public static float Backward(float x, float y, float dy, float dx, float alpha)
        {
            float x2 = x * x, t = Tanh.Forward(K * (x + C * x2 * x), 0f);
            return dx + (0.5f * (1f + t) + 0.5f * x * (1f - t * t) * K * (1f + 3f * C * x2)) * dy;
        }
        public static Vector512<float> Forward(Vector512<float> x, float alpha) =>
            0.5f * x * (Vector512<float>.One + Tanh.Forward(K * (x + C * x * x * x), 0f));
        public static Vector512<float> Backward(Vector512<float> x, Vector512<float> y, Vector512<float> dy, Vector512<float> dx, float alpha)
        {
            var x2 = x * x;
            var t = Tanh.Forward(K * (x + C * x2 * x), 0f);
            var one = Vector512<float>.One;
            return dx + (0.5f * (one + t) + 0.5f * x * (one - t * t) * K * (one + 3f * C * x2)) * dy;
        }
    }
}
