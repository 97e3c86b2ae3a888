using NeuralCore.Kernels;

namespace NeuralCore.Models.Layers;

/// <summary>The PixelCNN masks of a <see cref="MaskedConv2d"/>.</summary>
public enum ConvMask
{
    /// <summary>Mask A (first layer): each output sees only the cells above it and to its left, not its own cell.</summary>
    A,
    /// <summary>Mask B (later layers): as A, plus the cell itself (which by then only carries information from before it).</summary>
    B,
}

/// <summary>
/// A PixelCNN convolution (stride 1, "same" padding, odd square kernel): the weight is multiplied by a fixed causal mask
/// before convolving, so that an output cell depends only on earlier cells in raster order. The multiplication is an
/// ordinary differentiable op, so the masked weights get zero gradient and stay zero in effect whatever the optimizer does.
/// </summary>
public sealed class MaskedConv2d : ConvolutionLayer
{
    private readonly Tensor _mask;

    /// <summary>A masked convolution with weights drawn as PyTorch's Conv2d draws them.</summary>
    public MaskedConv2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, ConvMask mask,
        InitScheme init = InitScheme.PyTorchDefault)
        : base(backend, random, inChannels, outChannels, kernelSize, 1, kernelSize / 2, init, transposed: false)
    {
        if (kernelSize % 2 == 0) throw new ArgumentException($"a masked convolution needs an odd kernel size, got {kernelSize}", nameof(kernelSize));
        Mask = mask;
        var values = MaskValues(inChannels, outChannels, kernelSize, mask);
        _mask = Tensor.Persistent(backend, Weight.Shape);
        _mask.CopyFrom(values);
    }

    /// <summary>Which mask this layer applies.</summary>
    public ConvMask Mask { get; }

    /// <summary>The mask [out, in, k, k]: 1 for the rows above the centre and the cells left of it (and the centre for B).</summary>
    public static float[] MaskValues(int inChannels, int outChannels, int kernelSize, ConvMask mask)
    {
        int k = kernelSize, c = k / 2;
        var plane = new float[k * k];
        for (int r = 0; r < k; r++)
            for (int s = 0; s < k; s++)
                plane[r * k + s] = r < c || (r == c && (s < c || (s == c && mask == ConvMask.B))) ? 1f : 0f;
        var values = new float[outChannels * inChannels * k * k];
        for (int i = 0; i < outChannels * inChannels; i++) plane.CopyTo(values, i * k * k);
        return values;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Conv2d(Weight.Mul(_mask), Bias, 1, Padding);

    /// <inheritdoc />
    public override string ToString() => $"MaskedConv2d({Mask}, {InChannels} -> {OutChannels}, k={KernelSize})";
}
