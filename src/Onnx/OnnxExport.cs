using System.Runtime.InteropServices;
using Google.Protobuf;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Layers;
using Onnx;

namespace NeuralCore.Onnx;

/// <summary>Which function of an autoencoder an ONNX file computes.</summary>
public enum OnnxPart
{
    /// <summary>Rows [batch, features] to embeddings [batch, latent]; for a VAE the mean, as <see cref="Autoencoder.Encode"/>.</summary>
    Encoder,
    /// <summary>Embeddings [batch, latent] to rows [batch, features], as <see cref="Autoencoder.Decode"/> (a VAE's generator).</summary>
    Decoder,
    /// <summary>Rows to their reconstructions, as <see cref="Autoencoder.Forward"/> (a VAE through its mean: no sampling).</summary>
    Reconstruct,
}

/// <summary>
/// Writes a model as an ONNX graph (opset <see cref="Opset"/>, batch dimension dynamic) that ONNX Runtime and other
/// ONNX engines run. Each layer becomes its standard operator: Linear -> Gemm (transB), Conv2d -> Conv,
/// ConvTranspose2d -> ConvTranspose, the activations, Flatten and Reshape; weights are stored as float32 initializers.
/// A table model (one whose spec has a scaler) takes and returns rows in their original units: the min-max scaling
/// that <c>neuralcore</c> applies before the encoder, and its inverse after the decoder, are part of the graph.
/// </summary>
public static class OnnxExport
{
    /// <summary>The operator set the graphs use.</summary>
    public const int Opset = 13;

    // IR version 7 is the one that came with opset 13; ONNX Runtime and onnx.checker accept it.
    private const long IrVersion = 7;

    /// <summary>Writes <paramref name="part"/> of <paramref name="model"/> to <paramref name="path"/> atomically.</summary>
    /// <exception cref="NotSupportedException">The model holds a layer with no ONNX counterpart here.</exception>
    public static void Write(Autoencoder model, OnnxPart part, string path)
    {
        var proto = Build(model, part);
        AtomicFile.Write(path, stream => proto.WriteTo(stream));
    }

    /// <summary>Writes <paramref name="part"/> of <paramref name="model"/> to <paramref name="stream"/>, which is left open.</summary>
    /// <exception cref="NotSupportedException">The model holds a layer with no ONNX counterpart here.</exception>
    public static void Write(Autoencoder model, OnnxPart part, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Build(model, part).WriteTo(stream);
    }

    /// <summary>The ONNX file's bytes.</summary>
    /// <exception cref="NotSupportedException">The model holds a layer with no ONNX counterpart here.</exception>
    public static byte[] ToBytes(Autoencoder model, OnnxPart part) => Build(model, part).ToByteArray();

    internal static ModelProto Build(Autoencoder model, OnnxPart part)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is VqVae)
            throw new NotSupportedException("a VQ-VAE's quantiser (nearest code) has no ONNX form here; export an ae, dae, vae or conv model");
        var spec = model.Spec;
        var graph = new GraphBuilder($"{spec.Kind}_{part.ToString().ToLowerInvariant()}");
        bool takesRows = part != OnnxPart.Decoder, givesRows = part != OnnxPart.Encoder;
        string x = graph.Input("input", takesRows ? spec.InputFeatures : spec.Latent);
        if (takesRows)
        {
            if (spec.Scaler != null) x = Scale(graph, x, spec.Scaler);
            x = graph.Module(model.Encoder, x, "encoder");
            if (model is VariationalAutoencoder vae) x = graph.Module(vae.MuHead, x, "mu");
        }
        if (givesRows)
        {
            x = graph.Module(model.Decoder, x, "decoder");
            if (spec.Scaler != null) x = Unscale(graph, x, spec.Scaler);
        }
        graph.Output(x, "output", givesRows ? spec.InputFeatures : spec.Latent);
        return new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "NeuralCore",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "",
            DocString = $"NeuralCore {spec.Kind} model, {part.ToString().ToLowerInvariant()}",
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
            Graph = graph.Graph,
        };
    }

    // (x - min) * (1 / range), with a constant column (range 0) mapped to 0 as FeatureScaler.Transform does.
    private static string Scale(GraphBuilder graph, string x, FeatureScaler scaler)
    {
        var inverse = scaler.Min.Zip(scaler.Max, (lo, hi) => hi > lo ? 1f / (hi - lo) : 0f).ToArray();
        string shifted = graph.Node("Sub", [x, graph.Constant("scaler.min", [.. scaler.Min], scaler.FeatureCount)], "scale.sub");
        return graph.Node("Mul", [shifted, graph.Constant("scaler.inverse_range", inverse, scaler.FeatureCount)], "scale.mul");
    }

    private static string Unscale(GraphBuilder graph, string x, FeatureScaler scaler)
    {
        var range = scaler.Min.Zip(scaler.Max, (lo, hi) => hi - lo).ToArray();
        string stretched = graph.Node("Mul", [x, graph.Constant("scaler.range", range, scaler.FeatureCount)], "unscale.mul");
        return graph.Node("Add", [stretched, graph.Constant("scaler.min_out", [.. scaler.Min], scaler.FeatureCount)], "unscale.add");
    }

    /// <summary>Adds nodes and initializers to one graph, naming each after the module path it comes from.</summary>
    private sealed class GraphBuilder(string name)
    {
        public GraphProto Graph { get; } = new() { Name = name };

        public string Input(string inputName, int features)
        {
            Graph.Input.Add(ValueInfo(inputName, features));
            return inputName;
        }

        public void Output(string value, string outputName, int features)
        {
            Node("Identity", [value], outputName, outputName);
            Graph.Output.Add(ValueInfo(outputName, features));
        }

        public string Constant(string constantName, float[] values, params long[] shape)
        {
            var tensor = new TensorProto { Name = constantName, DataType = (int)TensorProto.Types.DataType.Float };
            tensor.Dims.AddRange(shape);
            tensor.RawData = ByteString.CopyFrom(LittleEndianBytes(values));
            Graph.Initializer.Add(tensor);
            return constantName;
        }

        public string Constant(string constantName, long[] values)
        {
            var tensor = new TensorProto { Name = constantName, DataType = (int)TensorProto.Types.DataType.Int64 };
            tensor.Dims.Add(values.Length);
            tensor.Int64Data.AddRange(values);
            Graph.Initializer.Add(tensor);
            return constantName;
        }

        public string Node(string op, string[] inputs, string nodeName, string? output = null, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = nodeName };
            node.Input.AddRange(inputs);
            node.Output.Add(output ?? nodeName + ".out");
            node.Attribute.AddRange(attributes);
            Graph.Node.Add(node);
            return node.Output[0];
        }

        /// <summary>The nodes of <paramref name="module"/> applied to <paramref name="x"/>; returns the output's name.</summary>
        public string Module(Module module, string x, string path)
        {
            switch (module)
            {
                case Sequential sequential:
                    for (int i = 0; i < sequential.Layers.Count; i++) x = Module(sequential.Layers[i], x, $"{path}.{i}");
                    return x;
                case Linear linear:
                    string[] gemmInputs = linear.Bias is { } bias
                        ? [x, Parameter(path + ".weight", linear.Weight), Parameter(path + ".bias", bias)]
                        : [x, Parameter(path + ".weight", linear.Weight)];
                    return Node("Gemm", gemmInputs, path, null, Int("transB", 1));
                case Conv2d conv:
                    return Node("Conv", [x, Parameter(path + ".weight", conv.Weight), Parameter(path + ".bias", conv.Bias)], path, null,
                        Ints("kernel_shape", conv.KernelSize, conv.KernelSize), Ints("strides", conv.Stride, conv.Stride),
                        Ints("pads", conv.Padding, conv.Padding, conv.Padding, conv.Padding));
                case ConvTranspose2d deconv:
                    return Node("ConvTranspose", [x, Parameter(path + ".weight", deconv.Weight), Parameter(path + ".bias", deconv.Bias)], path, null,
                        Ints("kernel_shape", deconv.KernelSize, deconv.KernelSize), Ints("strides", deconv.Stride, deconv.Stride),
                        Ints("pads", deconv.Padding, deconv.Padding, deconv.Padding, deconv.Padding),
                        Ints("output_padding", deconv.OutputPadding, deconv.OutputPadding));
                case ReLU:
                    return Node("Relu", [x], path);
                case LeakyReLU leaky:
                    return Node("LeakyRelu", [x], path, null, new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = leaky.NegativeSlope });
                case Models.Layers.Sigmoid:
                    return Node("Sigmoid", [x], path);
                case Models.Layers.Tanh:
                    return Node("Tanh", [x], path);
                case Flatten:
                    return Node("Flatten", [x], path, null, Int("axis", 1));
                case Models.Layers.Reshape reshape:
                    // -1 keeps the batch dimension dynamic.
                    return Node("Reshape", [x, Constant(path + ".shape", [-1, .. reshape.Shape.Select(d => (long)d)])], path);
                default:
                    throw new NotSupportedException($"{path}: layer {module.GetType().Name} has no ONNX export; models built by ModelFactory export");
            }
        }

        private string Parameter(string parameterName, Tensor parameter) =>
            Constant(parameterName, parameter.ToArray(), [.. parameter.Shape.ToArray().Select(d => (long)d)]);

        private static ValueInfoProto ValueInfo(string valueName, int features)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = features });
            return new ValueInfoProto
            {
                Name = valueName,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        private static AttributeProto Int(string attributeName, long value) =>
            new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = value };

        private static AttributeProto Ints(string attributeName, params long[] values)
        {
            var attribute = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Ints };
            attribute.Ints.AddRange(values);
            return attribute;
        }

        private static byte[] LittleEndianBytes(float[] values)
        {
            byte[] bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < bytes.Length; i += 4) Array.Reverse(bytes, i, 4);
            return bytes;
        }
    }
}
