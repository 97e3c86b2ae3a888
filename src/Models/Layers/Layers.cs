using NeuralCore.Kernels;

namespace NeuralCore.Models.Layers;

/// <summary>Fully connected layer y = x Wᵀ + b: input [batch, in], weight [out, in], bias [out], output [batch, out].</summary>
public sealed class Linear : Module
{
    public Linear(IBackend backend, SeededRandom random, int inFeatures, int outFeatures, bool bias = true,
        InitScheme init = InitScheme.PyTorchDefault)
    {
        if (inFeatures <= 0 || outFeatures <= 0) throw new ArgumentException($"Linear needs positive sizes, got {inFeatures} -> {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Tensor.Parameter(backend,
            Init.Weight(init, random, outFeatures * inFeatures, inFeatures, outFeatures), new Shape(outFeatures, inFeatures)));
        if (bias)
            Bias = RegisterParameter("bias", Tensor.Parameter(backend, Init.Bias(init, random, outFeatures, inFeatures), new Shape(outFeatures)));
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor input)
    {
        if (input.Shape.Rank != 2 || input.Shape[1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): expected input [batch, {InFeatures}], got {input.Shape}");
        return input.Linear(Weight, Bias);
    }

    public override string ToString() => $"Linear({InFeatures} -> {OutFeatures})";
}

/// <summary>2-D convolution: input [N, in, H, W], weight [out, in, k, k], output [N, out, H', W'].</summary>
public sealed class Conv2d : Module
{
    public Conv2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0,
        InitScheme init = InitScheme.PyTorchDefault)
    {
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernelSize; Stride = stride; Padding = padding;
        int fanIn = inChannels * kernelSize * kernelSize, fanOut = outChannels * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Tensor.Parameter(backend,
            Init.Weight(init, random, outChannels * fanIn, fanIn, fanOut), new Shape(outChannels, inChannels, kernelSize, kernelSize)));
        Bias = RegisterParameter("bias", Tensor.Parameter(backend, Init.Bias(init, random, outChannels, fanIn), new Shape(outChannels)));
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public override Tensor Forward(Tensor input) => input.Conv2d(Weight, Bias, Stride, Padding);

    public override string ToString() => $"Conv2d({InChannels} -> {OutChannels}, k={KernelSize}, s={Stride}, p={Padding})";
}

/// <summary>
/// Transposed 2-D convolution (PyTorch's ConvTranspose2d): input [N, in, H, W], weight [in, out, k, k],
/// output [N, out, (H-1)s - 2p + k + outputPadding, ...].
/// </summary>
public sealed class ConvTranspose2d : Module
{
    public ConvTranspose2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, int stride = 1,
        int padding = 0, int outputPadding = 0, InitScheme init = InitScheme.PyTorchDefault)
    {
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernelSize; Stride = stride; Padding = padding; OutputPadding = outputPadding;
        // PyTorch computes the fan-in of a transposed convolution from weight.size(1) = out channels.
        int fanIn = outChannels * kernelSize * kernelSize, fanOut = inChannels * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Tensor.Parameter(backend,
            Init.Weight(init, random, inChannels * fanIn, fanIn, fanOut), new Shape(inChannels, outChannels, kernelSize, kernelSize)));
        Bias = RegisterParameter("bias", Tensor.Parameter(backend, Init.Bias(init, random, outChannels, fanIn), new Shape(outChannels)));
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public int OutputPadding { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public override Tensor Forward(Tensor input) => input.ConvTranspose2d(Weight, Bias, Stride, Padding, OutputPadding);

    public override string ToString() => $"ConvTranspose2d({InChannels} -> {OutChannels}, k={KernelSize}, s={Stride}, p={Padding}, op={OutputPadding})";
}

/// <summary>max(x, 0)</summary>
public sealed class ReLU : Module
{
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>x if x &gt; 0 else slope x</summary>
public sealed class LeakyReLU(float negativeSlope = 0.01f) : Module
{
    public float NegativeSlope { get; } = negativeSlope;
    public override Tensor Forward(Tensor input) => input.LeakyRelu(NegativeSlope);
}

/// <summary>1 / (1 + e^-x)</summary>
public sealed class Sigmoid : Module
{
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>tanh x</summary>
public sealed class Tanh : Module
{
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>[N, ...] to [N, product of the rest].</summary>
public sealed class Flatten : Module
{
    public override Tensor Forward(Tensor input) => input.Reshape(input.Shape[0], -1);
}

/// <summary>[N, ...] to [N, <see cref="Shape"/>...] (PyTorch's Unflatten / view per sample).</summary>
public sealed class Reshape(params int[] shapePerSample) : Module
{
    public int[] Shape { get; } = shapePerSample;
    public override Tensor Forward(Tensor input) => input.Reshape([input.Shape[0], .. Shape]);
}

/// <summary>Runs children in order; their parameters are named "0.weight", "1.bias", ...</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = new();

    public Sequential(params Module[] layers)
    {
        foreach (var layer in layers) Add(layer);
    }

    /// <summary>Appends a layer.</summary>
    public Sequential Add(Module layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    public IReadOnlyList<Module> Layers => _layers;

    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _layers.Count; i++) x = _layers[i].Call(x, $"{i}:{_layers[i].GetType().Name}");
        return x;
    }
}
