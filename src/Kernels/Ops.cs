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
    /// <summary>y = |x|; gradient sign(x) (0 at 0)</summary>
    Abs,
    /// <summary>y = max(x, 0); gradient 1 where x &gt; 0</summary>
    Relu,
    /// <summary>y = x if x &gt; 0 else alpha * x</summary>
    LeakyRelu,
    /// <summary>y = 1 / (1 + exp(-x))</summary>
    Sigmoid,
    /// <summary>y = tanh(x)</summary>
    Tanh,
    /// <summary>y = ln(1 + exp(x)), computed stably</summary>
    Softplus,
    /// <summary>y = x ^ alpha</summary>
    Pow,
    /// <summary>y = alpha * x</summary>
    Scale,
    /// <summary>y = x + alpha</summary>
    AddScalar,
}

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
/// Shape of a 2-D convolution on NCHW input with KCRS weights (PyTorch layout).
/// Input [N, C, H, W], weight [K, C, R, S], output [N, K, OutH, OutW].
/// </summary>
public readonly record struct ConvGeometry(
    int Batch, int InChannels, int InHeight, int InWidth,
    int OutChannels, int KernelHeight, int KernelWidth,
    int StrideH, int StrideW, int PadH, int PadW)
{
    /// <summary>Output height: (InHeight + 2 PadH - KernelHeight) / StrideH + 1.</summary>
    public int OutHeight => (InHeight + 2 * PadH - KernelHeight) / StrideH + 1;
    /// <summary>Output width: (InWidth + 2 PadW - KernelWidth) / StrideW + 1.</summary>
    public int OutWidth => (InWidth + 2 * PadW - KernelWidth) / StrideW + 1;
    /// <summary>Number of input elements, N * C * H * W.</summary>
    public int InputSize => Batch * InChannels * InHeight * InWidth;
    /// <summary>Number of weight elements, K * C * R * S.</summary>
    public int WeightSize => OutChannels * InChannels * KernelHeight * KernelWidth;
    /// <summary>Number of output elements, N * K * OutHeight * OutWidth.</summary>
    public int OutputSize => Batch * OutChannels * OutHeight * OutWidth;

    /// <summary>Throws a clear error when the geometry cannot produce an output.</summary>
    public void Validate()
    {
        if (Batch <= 0 || InChannels <= 0 || InHeight <= 0 || InWidth <= 0 || OutChannels <= 0 ||
            KernelHeight <= 0 || KernelWidth <= 0 || StrideH <= 0 || StrideW <= 0 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"invalid convolution geometry {this}");
        if (OutHeight <= 0 || OutWidth <= 0)
            throw new ArgumentException($"convolution kernel {KernelHeight}x{KernelWidth} with padding {PadH},{PadW} does not fit input {InHeight}x{InWidth}");
    }
}

/// <summary>Hyper-parameters of one Adam / AdamW step.</summary>
public readonly record struct AdamParameters(
    float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, bool DecoupledWeightDecay, int Step);
