using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>Which PixelCNN mask <see cref="TensorOps.PixelCnnMask"/> builds.</summary>
public enum PixelCnnMaskType
{
    /// <summary>The first layer's: the centre tap is masked out, so an output never sees its own input pixel.</summary>
    A,
    /// <summary>Later layers': the centre tap is kept.</summary>
    B,
}

public static partial class TensorOps
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], weight [K, C, R, S], bias [K] (optional);
    /// result [N, K, (H + 2p - R)/s + 1, (W + 2p - S)/s + 1].
    /// </summary>
    public static Tensor Conv2d(this Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
    {
        SameBackend("conv2d", x, weight);
        if (x.Shape.Rank != 4 || weight.Shape.Rank != 4 || x.Shape[1] != weight.Shape[1])
            throw new ArgumentException($"conv2d: expected input [N, C, H, W] and weight [K, C, R, S] with the same C, got {x.Shape} and {weight.Shape}");
        var g = new ConvGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], weight.Shape[0], weight.Shape[2], weight.Shape[3],
            stride, stride, padding, padding);
        try { g.Validate(); } catch (ArgumentException e) { throw new ArgumentException($"conv2d: {e.Message} (input {x.Shape}, weight {weight.Shape})"); }
        var backend = x.Backend;
        var y = NewTensor(backend, Shape.Own([g.Batch, g.OutChannels, g.OutHeight, g.OutWidth]));
        backend.Conv2dForward(x.Buffer, weight.Buffer, y.Buffer, g);
        int[]? biasShape = bias == null ? null : ChannelBiasShape(bias, g.OutChannels, "conv2d");
        if (bias != null) backend.Binary(BinaryOp.Add, y.Buffer, y.Shape.Dims, bias.Buffer, biasShape, y.Buffer, y.Shape.Dims);
        return Autograd.Record(y, "conv2d", bias == null ? [x, weight] : [x, weight, bias], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.Conv2dBackwardData(dy.Buffer, weight.Buffer, dx.Buffer, g);
            var dw = gradOf(weight);
            if (dw != null) backend.Conv2dBackwardWeight(x.Buffer, dy.Buffer, dw.Buffer, g);
            if (bias != null) AccumulateChannelBias(backend, dy, bias, biasShape!, gradOf);
        });
    }

    /// <summary>
    /// Transposed 2-D convolution (PyTorch's ConvTranspose2d): x [N, Cin, H, W], weight [Cin, Cout, R, S],
    /// bias [Cout] (optional); result [N, Cout, (H-1)s - 2p + R + outputPadding, same for W].
    /// It is the gradient of a convolution with respect to its input, so it reuses those kernels.
    /// </summary>
    public static Tensor ConvTranspose2d(this Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0)
    {
        SameBackend("conv_transpose2d", x, weight);
        if (x.Shape.Rank != 4 || weight.Shape.Rank != 4 || x.Shape[1] != weight.Shape[0])
            throw new ArgumentException($"conv_transpose2d: expected input [N, Cin, H, W] and weight [Cin, Cout, R, S] with the same Cin, got {x.Shape} and {weight.Shape}");
        if (outputPadding < 0 || outputPadding >= stride)
            throw new ArgumentException($"conv_transpose2d: output padding {outputPadding} must be in [0, stride {stride})");
        int outH = (x.Shape[2] - 1) * stride - 2 * padding + weight.Shape[2] + outputPadding;
        int outW = (x.Shape[3] - 1) * stride - 2 * padding + weight.Shape[3] + outputPadding;
        // The equivalent convolution maps the (bigger) output back to x: input [N, Cout, outH, outW], weight [Cin, Cout, R, S].
        var g = new ConvGeometry(x.Shape[0], weight.Shape[1], outH, outW, weight.Shape[0], weight.Shape[2], weight.Shape[3],
            stride, stride, padding, padding);
        try { g.Validate(); } catch (ArgumentException e) { throw new ArgumentException($"conv_transpose2d: {e.Message} (input {x.Shape}, weight {weight.Shape})"); }
        var backend = x.Backend;
        var y = NewZeroTensor(backend, Shape.Own([g.Batch, g.InChannels, outH, outW]));   // backward-data accumulates
        backend.Conv2dBackwardData(x.Buffer, weight.Buffer, y.Buffer, g);
        int[]? biasShape = bias == null ? null : ChannelBiasShape(bias, g.InChannels, "conv_transpose2d");
        if (bias != null) backend.Binary(BinaryOp.Add, y.Buffer, y.Shape.Dims, bias.Buffer, biasShape, y.Buffer, y.Shape.Dims);
        return Autograd.Record(y, "conv_transpose2d", bias == null ? [x, weight] : [x, weight, bias], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null)
            {
                // dx += conv2d(dy, w); the forward kernel overwrites, so go through a temporary
                using var tmp = backend.Allocate(x.Count);
                backend.Conv2dForward(dy.Buffer, weight.Buffer, tmp, g);
                backend.CopyBlock(tmp, 0, 0, dx.Buffer, 0, 0, 1, x.Count, accumulate: true);
            }
            var dw = gradOf(weight);
            if (dw != null) backend.Conv2dBackwardWeight(dy.Buffer, x.Buffer, dw.Buffer, g);
            if (bias != null) AccumulateChannelBias(backend, dy, bias, biasShape!, gradOf);
        });
    }

    /// <summary>
    /// A convolution whose weight is multiplied by <paramref name="mask"/> first (PixelCNN's masked convolution): the
    /// same as <c>x.Conv2d(weight.Mul(mask), bias, stride, padding)</c>, so the weight's gradient is masked too and
    /// masked taps never change. <paramref name="mask"/> is [R, S] (one mask for every channel pair, see
    /// <see cref="PixelCnnMask"/>) or shaped like the weight [K, C, R, S]; it gets no gradient unless it requires one.
    /// </summary>
    public static Tensor MaskedConv2d(this Tensor x, Tensor weight, Tensor mask, Tensor? bias = null, int stride = 1, int padding = 0)
    {
        bool spatial = mask.Shape.Rank == 2 && weight.Shape.Rank == 4 && mask.Shape[0] == weight.Shape[2] && mask.Shape[1] == weight.Shape[3];
        if (!spatial && mask.Shape != weight.Shape)
            throw new ArgumentException($"masked_conv2d: mask {mask.Shape} fits neither the kernel [R, S] nor the weight {weight.Shape}", nameof(mask));
        return x.Conv2d(weight.Mul(mask), bias, stride, padding);
    }

    /// <summary>
    /// The PixelCNN mask of a <paramref name="kernelHeight"/> x <paramref name="kernelWidth"/> kernel (van den Oord et
    /// al. 2016), [R, S] of 0 and 1: every row above the centre row R/2 is 1; on the centre row the columns left of the
    /// centre S/2 are 1, and the centre itself only for mask <see cref="PixelCnnMaskType.B"/>; rows below are 0. Mask
    /// A (first layer) keeps a pixel from seeing itself; mask B (later layers) lets a feature see its own position,
    /// which holds only earlier pixels' information.
    /// </summary>
    public static Tensor PixelCnnMask(IBackend backend, PixelCnnMaskType type, int kernelHeight, int kernelWidth)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (kernelHeight <= 0 || kernelWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(kernelHeight), $"pixelcnn_mask: kernel {kernelHeight}x{kernelWidth} must be at least 1x1");
        if (type is not (PixelCnnMaskType.A or PixelCnnMaskType.B)) throw new ArgumentOutOfRangeException(nameof(type), type, null);
        var mask = new float[kernelHeight * kernelWidth];
        int cr = kernelHeight / 2, cc = kernelWidth / 2;
        for (int r = 0; r < kernelHeight; r++)
            for (int c = 0; c < kernelWidth; c++)
                mask[r * kernelWidth + c] = r < cr || (r == cr && (c < cc || (c == cc && type == PixelCnnMaskType.B))) ? 1f : 0f;
        return Tensor.FromArray(backend, mask, kernelHeight, kernelWidth);
    }

    // The per-channel bias is part of the convolution op: added in place to the output (a broadcast [C, 1, 1] add) and
    // its gradient summed from dy in the same backward function. Separate reshape + add ops would give every conv layer
    // two more graph nodes, another output tensor and another pass over it on every step, for the same arithmetic.

    /// <summary>The bias viewed as [channels, 1, 1] for broadcasting over [N, channels, H, W].</summary>
    private static int[] ChannelBiasShape(Tensor bias, int channels, string op)
    {
        if (bias.Count != channels) throw new ArgumentException($"{op}: bias has shape {bias.Shape}, expected [{channels}]");
        return [channels, 1, 1];
    }

    /// <summary>dbias += dy summed over the batch and spatial positions.</summary>
    private static void AccumulateChannelBias(IBackend backend, Tensor dy, Tensor bias, int[] biasShape, Func<Tensor, Tensor?> gradOf)
    {
        var db = gradOf(bias);
        if (db != null)
            backend.BinaryBackward(BinaryOp.Add, dy.Buffer, dy.Shape.Dims, bias.Buffer, biasShape, dy.Buffer, dy.Shape.Dims, null, db.Buffer);
    }
}
