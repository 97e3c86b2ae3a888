using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels;

/// <summary>Fused, numerically stable losses. Each returns a SUM over all elements.</summary>
public enum LossKind
{
    /// <summary>sum((a - b)^2); a = prediction, b = target.</summary>
    SquaredError,
    /// <summary>-sum(b ln a + (1-b) ln(1-a)), a = probabilities, logs clamped at -100 like PyTorch.</summary>
    BinaryCrossEntropy,
    /// <summary>sum(max(a,0) - a b + ln(1 + exp(-|a|))), a = logits, b = targets.</summary>
    BinaryCrossEntropyWithLogits,
    /// <summary>-0.5 sum(1 + b - a^2 - exp(b)), a = mu, b = log-variance: KL(N(mu, e^b) || N(0, I)).</summary>
    GaussianKl,
}

/// <summary>
/// One loss of the fast backends, defined once: the loss of one element pair (GPU), its sum over spans (CPU, with
/// TensorPrimitives' reductions, whose summation order the reported losses depend on) and the gradients
/// g * dL/da and g * dL/db as scalars (GPU) and as <see cref="Vector512{T}"/> (CPU), the same formula in both forms.
/// </summary>
internal interface ILossOperator
{
    /// <summary>The loss of one element pair.</summary>
    static abstract float Term(float a, float b);

    /// <summary>The loss summed over all elements; <paramref name="t1"/> and <paramref name="t2"/> are scratch of a's length.</summary>
    static abstract float Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2);

    /// <summary>g * dL/da.</summary>
    static abstract float GradientA(float a, float b, float g);
    /// <summary>g * dL/db.</summary>
    static abstract float GradientB(float a, float b, float g);

    /// <inheritdoc cref="GradientA(float, float, float)"/>
    static abstract Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, float g);
    /// <inheritdoc cref="GradientB(float, float, float)"/>
    static abstract Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, float g);
}

/// <summary>The operators of every <see cref="LossKind"/>; the only place that maps the enum to them.</summary>
internal static class LossOperators
{
    /// <summary>Calls <paramref name="visitor"/> with the operator type of <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined <see cref="LossKind"/>.</exception>
    public static void Visit<TVisitor>(LossKind kind, ref TVisitor visitor) where TVisitor : ILossOperatorVisitor, allows ref struct
    {
        switch (kind)
        {
            case LossKind.SquaredError: visitor.Visit<SquaredError>(); break;
            case LossKind.BinaryCrossEntropy: visitor.Visit<BinaryCrossEntropy>(); break;
            case LossKind.BinaryCrossEntropyWithLogits: visitor.Visit<BinaryCrossEntropyWithLogits>(); break;
            case LossKind.GaussianKl: visitor.Visit<GaussianKl>(); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    internal readonly struct SquaredError : ILossOperator
    {
        public static float Term(float a, float b) { float d = a - b; return d * d; }

        public static float Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2)
        {
            TensorPrimitives.Subtract(a, b, t1);
            return TensorPrimitives.SumOfSquares<float>(t1);
        }

        public static float GradientA(float a, float b, float g) => (a - b) * (2f * g);
        public static float GradientB(float a, float b, float g) => (a - b) * (-2f * g);
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, float g) => (a - b) * (2f * g);
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, float g) => (a - b) * (-2f * g);
    }

    internal readonly struct BinaryCrossEntropy : ILossOperator
    {
        // Logs are clamped at -100 like PyTorch; the gradient divides by max(a (1 - a), 1e-12).
        public static float Term(float a, float b) => -(b * ClampedLog(a) + (1f - b) * ClampedLog(1f - a));

        public static float Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2)
        {
            // -(b ln a + (1-b) ln(1-a)) = -(t2 + b (t1 - t2))
            TensorPrimitives.Log(a, t1);
            TensorPrimitives.Max(t1, -100f, t1);
            TensorPrimitives.Subtract(1f, a, t2);
            TensorPrimitives.Log(t2, t2);
            TensorPrimitives.Max(t2, -100f, t2);
            TensorPrimitives.Subtract(t1, t2, t1);
            return -(TensorPrimitives.Sum<float>(t2) + TensorPrimitives.Dot(b, t1));
        }

        public static float GradientA(float a, float b, float g) => (a - b) / MathF.Max((1f - a) * a, 1e-12f) * g;
        public static float GradientB(float a, float b, float g) => (ClampedLog(a) - ClampedLog(1f - a)) * -g;

        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, float g) =>
            (a - b) / Vector512.Max((Vector512<float>.One - a) * a, Vector512.Create(1e-12f)) * g;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, float g) =>
            (ClampedLog(a) - ClampedLog(Vector512<float>.One - a)) * -g;

        private static float ClampedLog(float x) => MathF.Max(MathF.Log(x), -100f);
        private static Vector512<float> ClampedLog(Vector512<float> x) => Vector512.Max(Vector512.Log(x), Vector512.Create(-100f));
    }

    internal readonly struct BinaryCrossEntropyWithLogits : ILossOperator
    {
        // max(a, 0) - a b + ln(1 + exp(-|a|)); gradient sigmoid(a) - b
        public static float Term(float a, float b) => MathF.Max(a, 0f) - a * b + MathF.Log(MathF.Exp(-MathF.Abs(a)) + 1f);

        // Summed term by term, like PyTorch: separate sums of max(a, 0) and a b would both overflow for huge logits and
        // return inf - inf = NaN where every term is finite.
        public static float Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2)
        {
            TensorPrimitives.Abs(a, t1);
            TensorPrimitives.Negate(t1, t1);
            TensorPrimitives.Exp(t1, t1);
            TensorPrimitives.Add(t1, 1f, t1);
            TensorPrimitives.Log(t1, t1);
            TensorPrimitives.Multiply(a, b, t2);
            TensorPrimitives.Subtract(t1, t2, t1);
            TensorPrimitives.Max(a, 0f, t2);
            TensorPrimitives.Add(t1, t2, t1);
            return TensorPrimitives.Sum<float>(t1);
        }

        public static float GradientA(float a, float b, float g) => (UnaryOperators.Sigmoid.Forward(a, 0f) - b) * g;
        public static float GradientB(float a, float b, float g) => a * -g;
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, float g) => (UnaryOperators.Sigmoid.Forward(a, 0f) - b) * g;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, float g) => a * -g;
    }

    internal readonly struct GaussianKl : ILossOperator
    {
        // -0.5 (1 + b - a^2 - exp(b)); dL/da = a, dL/db = 0.5 (exp(b) - 1)
        public static float Term(float a, float b) => -0.5f * (1f + b - a * a - MathF.Exp(b));

        // Summed term by term, 0.5 sum(exp(b) - b - 1 + a^2), like PyTorch: separate sums of b and exp(b) would give
        // inf - inf = NaN where log-variances overflow (PyTorch: inf), and cancel against n where the KL is small.
        public static float Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2)
        {
            // the exp op's own form, exact 1 at b = 0 (TensorPrimitives.Exp(0) is one ulp above), so the KL at the prior is 0
            Cpu.CpuElementwise.Run<Cpu.CpuKernels.UnaryForward<UnaryOperators.Exp>>(Cpu.Operand.Of(b), default, default, default, t1, 0f);
            TensorPrimitives.Subtract(t1, b, t1);
            TensorPrimitives.Add(t1, -1f, t1);
            TensorPrimitives.Multiply(a, a, t2);
            TensorPrimitives.Add(t1, t2, t1);
            return 0.5f * TensorPrimitives.Sum<float>(t1);
        }

        public static float GradientA(float a, float b, float g) => a * g;
        public static float GradientB(float a, float b, float g) => (MathF.Exp(b) - 1f) * (0.5f * g);
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, float g) => a * g;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, float g) =>
            (UnaryOperators.ExpVector(b) - Vector512<float>.One) * (0.5f * g);
    }
}
