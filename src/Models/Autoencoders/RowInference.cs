using System.Numerics.Tensors;
using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// One row at a time through an MLP autoencoder, into the caller's buffers: <see cref="Reconstruct"/> and
/// <see cref="Encode"/> write into a <see cref="Span{T}"/> and allocate nothing after the first call, record no graph
/// and run on the calling thread. What a scoring service calls per request.
/// <para>It holds a copy of the weights taken when it is made (each Linear layer's weight packed for the one-row
/// product, <see cref="PackedRowWeights"/>): make it after training, and again if the weights change. Its results
/// have the same bits as the model's own <see cref="Autoencoder.Forward"/> and <see cref="Autoencoder.Encode"/> on
/// the CPU backend, at any batch size and thread count (the one-row product sums in the GEMM's order). One instance
/// serves one thread at a time (it owns its scratch rows).</para>
/// <para>Supported: encoders and decoders built of <see cref="Sequential"/>, <see cref="Linear"/>, <see cref="ReLU"/>,
/// <see cref="LeakyReLU"/>, <see cref="Sigmoid"/> and <see cref="Tanh"/>, and a VAE's mean head (the MLP models of
/// <see cref="ModelFactory"/>); convolutional models are not (use <see cref="Autoencoder.Forward"/>).</para>
/// </summary>
/// <example><code>
/// var rows = RowInference.Create(model);                  // once, after training or loading
/// var output = new float[model.Spec.InputFeatures];
/// rows.Reconstruct(row, output);                          // per request: no allocation
/// </code></example>
public sealed class RowInference
{
    private readonly Step[] _encoder, _decoder;
    private readonly float[] _first, _second;

    private RowInference(Step[] encoder, Step[] decoder, int inputFeatures, int latent)
    {
        _encoder = encoder;
        _decoder = decoder;
        InputFeatures = inputFeatures;
        Latent = latent;
        int widest = Math.Max(inputFeatures, encoder.Concat(decoder).Max(s => s.Width));
        _first = new float[widest];
        _second = new float[widest];
    }

    /// <summary>Values per input row.</summary>
    public int InputFeatures { get; }
    /// <summary>Values per embedding.</summary>
    public int Latent { get; }

    /// <summary>Whether <see cref="Create"/> accepts <paramref name="model"/> (an MLP autoencoder or VAE).</summary>
    public static bool Supports(Autoencoder model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Layers(model.Encoder).Concat(Layers(model.Decoder)).All(l => l is Linear or ReLU or LeakyReLU or Sigmoid or Tanh);
    }

    /// <summary>The row path of <paramref name="model"/> with its current weights.</summary>
    /// <exception cref="NotSupportedException">The model has a layer other than Linear and the activations above.</exception>
    public static RowInference Create(Autoencoder model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var encoder = Layers(model.Encoder).Select(ToStep).ToList();
        if (model is VariationalAutoencoder vae) encoder.Add(ToStep(vae.MuHead));
        var decoder = Layers(model.Decoder).Select(ToStep).ToArray();
        return new RowInference([.. encoder], decoder, model.Spec.InputFeatures, model.Spec.Latent);
    }

    /// <summary>Writes the embedding of <paramref name="row"/> [InputFeatures] into <paramref name="embedding"/> [Latent] (a VAE's mean mu).</summary>
    public void Encode(ReadOnlySpan<float> row, Span<float> embedding)
    {
        Check(row, InputFeatures, nameof(row));
        Check(embedding, Latent, nameof(embedding));
        Run(_encoder, row[..InputFeatures]).CopyTo(embedding);
    }

    /// <summary>Writes the reconstruction of <paramref name="row"/> [InputFeatures] into <paramref name="output"/> [InputFeatures].</summary>
    public void Reconstruct(ReadOnlySpan<float> row, Span<float> output)
    {
        Check(row, InputFeatures, nameof(row));
        Check(output, InputFeatures, nameof(output));
        var code = Run(_encoder, row[..InputFeatures]);
        // the code lies in one of the scratch rows; the decoder's first product reads it into the other
        Run(_decoder, code).CopyTo(output);
    }

    private static void Check(ReadOnlySpan<float> span, int length, string name)
    {
        if (span.Length != length) throw new ArgumentException($"row inference: {name} holds {span.Length} values, the model needs {length}", name);
    }

    /// <summary>Runs <paramref name="steps"/> from <paramref name="input"/>, alternating between the two scratch rows; returns the last one written.</summary>
    private ReadOnlySpan<float> Run(Step[] steps, ReadOnlySpan<float> input)
    {
        ReadOnlySpan<float> current = input;
        foreach (var step in steps)
        {
            if (step.Weights is { } weights)
            {
                // write into whichever scratch row the input is not
                float[] target = current.Overlaps(_first) ? _second : _first;
                var next = target.AsSpan(0, weights.Outputs);
                weights.Multiply(current, next);
                if (step.Bias is { } bias) TensorPrimitives.Add(next, bias, next);
                current = next;
            }
            else
            {
                float[] target = current.Overlaps(_first) ? _first : current.Overlaps(_second) ? _second : _first;
                var next = target.AsSpan(0, current.Length);
                CpuBackend.Apply(step.Op, current, next, step.Alpha);
                current = next;
            }
        }
        return current;
    }

    private static IEnumerable<Module> Layers(Module module) =>
        module is Sequential sequential ? sequential.Layers.SelectMany(Layers) : [module];

    private static Step ToStep(Module layer) => layer switch
    {
        Linear linear => new Step(new PackedRowWeights(linear.Weight.ToArray(), linear.OutFeatures, linear.InFeatures),
                                  linear.Bias?.ToArray(), default, 0f, linear.OutFeatures),
        ReLU => new Step(null, null, UnaryOp.Relu, 0f, 0),
        LeakyReLU leaky => new Step(null, null, UnaryOp.LeakyRelu, leaky.NegativeSlope, 0),
        Sigmoid => new Step(null, null, UnaryOp.Sigmoid, 0f, 0),
        Tanh => new Step(null, null, UnaryOp.Tanh, 0f, 0),
        _ => throw new NotSupportedException($"row inference: the layer {layer} is not supported (MLP autoencoders only); use the model's Forward"),
    };

    /// <summary>One layer: a packed product plus bias, or an activation.</summary>
    private sealed record Step(PackedRowWeights? Weights, float[]? Bias, UnaryOp Op, float Alpha, int Width);
}
