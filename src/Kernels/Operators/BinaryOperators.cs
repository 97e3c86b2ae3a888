using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels;

/// <summary>Elementwise two-input ops with NumPy broadcasting.</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a - b</summary>
    Sub,
    /// <summary>a * b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
}

/// <summary>
/// One two-input op of the fast backends, defined once: c = a op b and the gradient terms dc * dc/da and
/// dc * dc/db, as scalars (GPU) and as <see cref="Vector512{T}"/> (CPU), the same formula in both forms.
/// </summary>
internal interface IBinaryOperator
{
    /// <summary>c = a op b.</summary>
    static abstract float Forward(float a, float b);
    /// <summary>dc * d(a op b)/da.</summary>
    static abstract float GradientA(float a, float b, float dc);
    /// <summary>dc * d(a op b)/db.</summary>
    static abstract float GradientB(float a, float b, float dc);

    /// <inheritdoc cref="Forward(float, float)"/>
    static abstract Vector512<float> Forward(Vector512<float> a, Vector512<float> b);
    /// <inheritdoc cref="GradientA(float, float, float)"/>
    static abstract Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, Vector512<float> dc);
    /// <inheritdoc cref="GradientB(float, float, float)"/>
    static abstract Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, Vector512<float> dc);
}

/// <summary>The operators of every <see cref="BinaryOp"/>; the only place that maps the enum to them.</summary>
internal static class BinaryOperators
{
    /// <summary>Calls <paramref name="visitor"/> with the operator type of <paramref name="op"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="op"/> is not a defined <see cref="BinaryOp"/>.</exception>
    public static void Visit<TVisitor>(BinaryOp op, ref TVisitor visitor) where TVisitor : IBinaryOperatorVisitor, allows ref struct
    {
        switch (op)
        {
            case BinaryOp.Add: visitor.Visit<Add>(); break;
            case BinaryOp.Sub: visitor.Visit<Sub>(); break;
            case BinaryOp.Mul: visitor.Visit<Mul>(); break;
            case BinaryOp.Div: visitor.Visit<Div>(); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    internal readonly struct Add : IBinaryOperator
    {
        public static float Forward(float a, float b) => a + b;
        public static float GradientA(float a, float b, float dc) => dc;
        public static float GradientB(float a, float b, float dc) => dc;
        public static Vector512<float> Forward(Vector512<float> a, Vector512<float> b) => a + b;
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc;
    }

    internal readonly struct Sub : IBinaryOperator
    {
        public static float Forward(float a, float b) => a - b;
        public static float GradientA(float a, float b, float dc) => dc;
        public static float GradientB(float a, float b, float dc) => -dc;
        public static Vector512<float> Forward(Vector512<float> a, Vector512<float> b) => a - b;
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => -dc;
    }

    internal readonly struct Mul : IBinaryOperator
    {
        public static float Forward(float a, float b) => a * b;
        public static float GradientA(float a, float b, float dc) => dc * b;
        public static float GradientB(float a, float b, float dc) => dc * a;
        public static Vector512<float> Forward(Vector512<float> a, Vector512<float> b) => a * b;
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc * b;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc * a;
    }

    internal readonly struct Div : IBinaryOperator
    {
        // d(a/b)/db = -a / b^2, taken as -dc ((a / b) / b) as PyTorch does: no overflow from squaring b, and none
        // from dc a where the quotient itself is finite
        public static float Forward(float a, float b) => a / b;
        public static float GradientA(float a, float b, float dc) => dc / b;
        public static float GradientB(float a, float b, float dc) => -dc * (a / b / b);
        public static Vector512<float> Forward(Vector512<float> a, Vector512<float> b) => a / b;
        public static Vector512<float> GradientA(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => dc / b;
        public static Vector512<float> GradientB(Vector512<float> a, Vector512<float> b, Vector512<float> dc) => -dc * (a / b / b);
    }
}
