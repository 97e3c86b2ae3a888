namespace NeuralCore.Kernels.Reference;

/// <summary>The definition of every elementwise op and its derivative, one scalar at a time, in double.</summary>
public static class ScalarMath
{
    /// <summary>The reference value of a unary op in double precision (<c>alpha</c> is the op's parameter, e.g. the slope of leaky ReLU or the exponent of pow).</summary>
    public static double Apply(UnaryOp op, double x, double alpha) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Relu => x <= 0 ? 0 : x,   // NaN stays NaN, as in PyTorch
        UnaryOp.LeakyRelu => x > 0 ? x : alpha * x,
        UnaryOp.Sigmoid => 1 / (1 + Math.Exp(-x)),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Softplus => x > 20 ? x : Math.Max(x, 0) + LogOnePlus(Math.Exp(-Math.Abs(x))),   // PyTorch's threshold 20
        UnaryOp.Pow => Power(x, alpha),
        UnaryOp.Scale => alpha * x,
        UnaryOp.AddScalar => x + alpha,
        UnaryOp.Silu => x / (1 + Math.Exp(-x)),
        UnaryOp.Gelu => 0.5 * x * (1 + Math.Tanh(GeluK * (x + GeluC * x * x * x))),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>ln(1 + u) to full precision for small u (double.LogP1 is ln(u + 1), which loses it): ln(w) u / (w - 1)
    /// with w = 1 + u corrects the rounding of w; u itself where w rounds to 1.</summary>
    private static double LogOnePlus(double u)
    {
        double w = 1 + u;
        return w == 1 ? u : Math.Log(w) * (u / (w - 1));
    }

    /// <summary>x^e, with e = 0.5 and -0.5 as sqrt(x) and 1 / sqrt(x) as PyTorch computes them (NaN at -inf, -inf at -0,
    /// where C's pow gives +inf).</summary>
    private static double Power(double x, double e) => e switch
    {
        0.5 => Math.Sqrt(x),
        -0.5 => 1 / Math.Sqrt(x),
        _ => Math.Pow(x, e),
    };

    private const double GeluC = 0.044715;
    private static readonly double GeluK = Math.Sqrt(2 / Math.PI);

    /// <summary>dy/dx given x and y = op(x).</summary>
    public static double Derivative(UnaryOp op, double x, double y, double alpha) => op switch
    {
        UnaryOp.Neg => -1,
        UnaryOp.Exp => y,
        UnaryOp.Log => 1 / x,
        UnaryOp.Sqrt => 0.5 / y,
        UnaryOp.Abs => x > 0 ? 1 : x < 0 ? -1 : 0,   // 0 at NaN, as PyTorch (Math.Sign throws on NaN)
        UnaryOp.Relu => x <= 0 ? 0 : 1,           // a NaN input passes the gradient, as in PyTorch
        UnaryOp.LeakyRelu => x > 0 ? 1 : alpha,
        UnaryOp.Sigmoid => y * (1 - y),
        UnaryOp.Tanh => 1 - y * y,
        UnaryOp.Softplus => 1 / (1 + Math.Exp(-x)),
        UnaryOp.Pow => alpha == 0 ? 0 : alpha * Power(x, alpha - 1),   // x^0 is constant: 0, not 0 * x^-1 (NaN at 0)
        UnaryOp.Scale => alpha,
        UnaryOp.AddScalar => 1,
        UnaryOp.Silu => SiluDerivative(x),
        UnaryOp.Gelu => GeluDerivative(x),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    private static double SiluDerivative(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s + x * s * (1 - s);
    }

    private static double GeluDerivative(double x)
    {
        double t = Math.Tanh(GeluK * (x + GeluC * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GeluK * (1 + 3 * GeluC * x * x);
    }

    /// <summary>The reference value of a binary op in double precision.</summary>
    public static double Apply(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>(dc/da, dc/db) at (a, b).</summary>
    public static (double DA, double DB) Derivatives(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => (1, 1),
        BinaryOp.Sub => (1, -1),
        BinaryOp.Mul => (b, a),
        BinaryOp.Div => (1 / b, -a / (b * b)),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>Loss term for one element pair.</summary>
    public static double Loss(LossKind kind, double a, double b) => kind switch
    {
        LossKind.SquaredError => (a - b) * (a - b),
        LossKind.BinaryCrossEntropy => -(b * Math.Max(Math.Log(a), -100) + (1 - b) * Math.Max(Math.Log(1 - a), -100)),
        LossKind.BinaryCrossEntropyWithLogits => Math.Max(a, 0) - a * b + Math.Log(1 + Math.Exp(-Math.Abs(a))),
        LossKind.GaussianKl => -0.5 * (1 + b - a * a - Math.Exp(b)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>(dL/da, dL/db) for one element pair.</summary>
    public static (double DA, double DB) LossDerivatives(LossKind kind, double a, double b)
    {
        switch (kind)
        {
            case LossKind.SquaredError:
                return (2 * (a - b), -2 * (a - b));
            case LossKind.BinaryCrossEntropy:
            {
                // PyTorch clamps the logs at -100; the gradient uses the clamped probabilities the same way.
                const double eps = 1e-12;
                double da = (a - b) / Math.Max(a * (1 - a), eps);
                double db = -(Math.Max(Math.Log(a), -100) - Math.Max(Math.Log(1 - a), -100));
                return (da, db);
            }
            case LossKind.BinaryCrossEntropyWithLogits:
            {
                double s = 1 / (1 + Math.Exp(-a));
                return (s - b, -a);
            }
            case LossKind.GaussianKl:
                return (a, -0.5 * (1 - Math.Exp(b)));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }
}
