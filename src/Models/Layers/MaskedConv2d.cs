using NeuralCore.Kernels;

namespace NeuralCore.Models.Layers;

/// <summary>
/// A PixelCNN convolution (stride 1, "same" padding, odd square kernel): the weight is multiplied by a fixed causal mask
/// (<see cref="TensorOps.PixelCnnMask"/>) before convolving, so that an output cell depends only on earlier cells in
/// raster order. The masked taps get zero gradient, so they stay without effect whatever the optimizer does.
/// </summary>
public sealed class MaskedConv2d : ConvolutionLayer
{
    private readonly Tensor _mask;

    /// <summary>A masked convolution with weights drawn as PyTorch's Conv2d draws them.</summary>
    public MaskedConv2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, PixelCnnMaskType mask,
        InitScheme init = InitScheme.PyTorchDefault)
        : base(backend, random, inChannels, outChannels, kernelSize, 1, kernelSize / 2, init, transposed: false)
    {
        if (kernelSize % 2 == 0) throw new ArgumentException($"a masked convolution needs an odd kernel size, got {kernelSize}", nameof(kernelSize));
        Mask = mask;
        using (TensorScope.Begin())
        {
            var values = TensorOps.PixelCnnMask(backend, mask, kernelSize, kernelSize).ToArray();
            _mask = Tensor.Persistent(backend, new Shape(kernelSize, kernelSize));
            _mask.CopyFrom(values);
        }
    }

    /// <summary>Which mask this layer applies.</summary>
    public PixelCnnMaskType Mask { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.MaskedConv2d(Weight, _mask, Bias, 1, Padding);

    /// <inheritdoc />
    public override string ToString() => $"MaskedConv2d({Mask}, {InChannels} -> {OutChannels}, k={KernelSize})";
}
