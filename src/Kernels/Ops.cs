namespace NeuralCore.Kernels;

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
