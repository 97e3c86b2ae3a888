using NeuralCore.Kernels;

namespace NeuralCore.Models.Layers;

/// <summary>Fully connected layer y = x Wᵀ + b: input [batch, in], weight [out, in], bias [out], output [batch, out].</summary>
public sealed class Linear : Module
{
    /// <summary>A layer with weights drawn from <paramref name="random"/> by <paramref name="init"/> (PyTorch's default: uniform in ±1/sqrt(in)).</summary>
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

    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>Weight [out, in] (PyTorch's layout).</summary>
    public Tensor Weight { get; }
    /// <summary>Bias [out], or null when built without one.</summary>
    public Tensor? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        if (input.Shape.Rank != 2 || input.Shape[1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): expected input [batch, {InFeatures}], got {input.Shape}");
        return input.Linear(Weight, Bias);
    }

    /// <inheritdoc />
    public override string ToString() => $"Linear({InFeatures} -> {OutFeatures})";
}

/// <summary>
/// What <see cref="Conv2d"/> and <see cref="ConvTranspose2d"/> share: a square kernel, stride and padding, and a
/// weight and a bias per output channel drawn as PyTorch draws them.
/// </summary>
public abstract class ConvolutionLayer : Module
{
    private protected ConvolutionLayer(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, int stride,
        int padding, InitScheme init, bool transposed)
    {
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernelSize; Stride = stride; Padding = padding;
        // PyTorch's weight is [out, in, k, k] for a convolution and [in, out, k, k] for a transposed one, and it
        // computes the fan-in from weight.size(1) in both.
        int rows = transposed ? inChannels : outChannels, columns = transposed ? outChannels : inChannels;
        int fanIn = columns * kernelSize * kernelSize, fanOut = rows * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Tensor.Parameter(backend,
            Init.Weight(init, random, rows * fanIn, fanIn, fanOut), new Shape(rows, columns, kernelSize, kernelSize)));
        Bias = RegisterParameter("bias", Tensor.Parameter(backend, Init.Bias(init, random, outChannels, fanIn), new Shape(outChannels)));
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height and width.</summary>
    public int KernelSize { get; }
    /// <summary>Step between kernel positions in the input (for a transposed convolution, the upsampling factor).</summary>
    public int Stride { get; }
    /// <summary>Zeros added on each side of the input (for a transposed convolution, rows and columns removed from each side of the full output).</summary>
    public int Padding { get; }
    /// <summary>Weight [out, in, k, k], or [in, out, k, k] for a transposed convolution (PyTorch's layouts).</summary>
    public Tensor Weight { get; }
    /// <summary>Bias [out].</summary>
    public Tensor Bias { get; }
}

/// <summary>2-D convolution: input [N, in, H, W], weight [out, in, k, k], output [N, out, H', W'].</summary>
public sealed class Conv2d : ConvolutionLayer
{
    /// <summary>A square-kernel convolution with weights drawn from <paramref name="random"/> by <paramref name="init"/>.</summary>
    public Conv2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0,
        InitScheme init = InitScheme.PyTorchDefault)
        : base(backend, random, inChannels, outChannels, kernelSize, stride, padding, init, transposed: false) { }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Conv2d(Weight, Bias, Stride, Padding);

    /// <inheritdoc />
    public override string ToString() => $"Conv2d({InChannels} -> {OutChannels}, k={KernelSize}, s={Stride}, p={Padding})";
}

/// <summary>
/// Transposed 2-D convolution (PyTorch's ConvTranspose2d): input [N, in, H, W], weight [in, out, k, k],
/// output [N, out, (H-1)s - 2p + k + outputPadding, ...].
/// </summary>
public sealed class ConvTranspose2d : ConvolutionLayer
{
    /// <summary>A square-kernel transposed convolution with weights drawn from <paramref name="random"/> by <paramref name="init"/>.</summary>
    public ConvTranspose2d(IBackend backend, SeededRandom random, int inChannels, int outChannels, int kernelSize, int stride = 1,
        int padding = 0, int outputPadding = 0, InitScheme init = InitScheme.PyTorchDefault)
        : base(backend, random, inChannels, outChannels, kernelSize, stride, padding, init, transposed: true)
    {
        OutputPadding = outputPadding;
    }

    /// <summary>Extra rows and columns added to one side of the output (to reach an exact size).</summary>
    public int OutputPadding { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.ConvTranspose2d(Weight, Bias, Stride, Padding, OutputPadding);

    /// <inheritdoc />
    public override string ToString() => $"ConvTranspose2d({InChannels} -> {OutChannels}, k={KernelSize}, s={Stride}, p={Padding}, op={OutputPadding})";
}

/// <summary>max(x, 0)</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>x if x &gt; 0 else slope x</summary>
public sealed class LeakyReLU(float negativeSlope = 0.01f) : Module
{
    /// <summary>Slope for negative inputs.</summary>
    public float NegativeSlope { get; } = negativeSlope;
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.LeakyRelu(NegativeSlope);
}

/// <summary>1 / (1 + e^-x)</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>tanh x</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>[N, ...] to [N, product of the rest].</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Reshape(input.Shape[0], -1);
}

/// <summary>[N, ...] to [N, <see cref="Shape"/>...] (PyTorch's Unflatten / view per sample).</summary>
public sealed class Reshape(params int[] shapePerSample) : Module
{
    /// <summary>The output shape of one sample (without the batch dimension).</summary>
    public int[] Shape { get; } = shapePerSample;
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Reshape([input.Shape[0], .. Shape]);
}

/// <summary>Runs children in order; their parameters are named "0.weight", "1.bias", ...</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = new();

    /// <summary>Runs <paramref name="layers"/> in order; their parameters are named by position ("0.weight").</summary>
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

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _layers.Count; i++) x = _layers[i].Call(x, $"{i}:{_layers[i].GetType().Name}");
        return x;
    }
}
