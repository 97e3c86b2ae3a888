namespace NeuralCore.Models.IO;

/// <summary>One F32 tensor from a safetensors file: its shape and its values, row-major, [product of Shape].</summary>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="Data">Values, row-major.</param>
public sealed record SafeTensor(int[] Shape, float[] Data)
{
    /// <summary>The shape as text, e.g. <c>[784, 256]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    internal static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}

/// <summary>The content of a safetensors file read by <see cref="SafeTensors.Read(string)"/> (or from a stream or bytes).</summary>
public sealed class SafeTensorsFile
{
    internal SafeTensorsFile(string path, IReadOnlyDictionary<string, SafeTensor> tensors, IReadOnlyList<string> names, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path; Tensors = tensors; Names = names; Metadata = metadata;
    }

    /// <summary>The file that was read; for a stream or bytes, the name given to <c>SafeTensors.Read</c> (<see cref="SafeTensors.StreamName"/> by default). Error messages start with it.</summary>
    public string Path { get; }
    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensor> Tensors { get; }
    /// <summary>Tensor names in the order of their data in the file.</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// The tensor <paramref name="name"/>, checked to have exactly <paramref name="expectedShape"/>.
    /// </summary>
    /// <exception cref="SafeTensorsFormatException">Missing tensor or different shape ("expected [784, 256], got [785, 256]").</exception>
    public SafeTensor Require(string name, params int[] expectedShape)
    {
        if (!Tensors.TryGetValue(name, out SafeTensor? tensor))
            throw new SafeTensorsFormatException($"{Path}: no tensor '{name}' (the file has {Names.Count}: {string.Join(", ", Names.Take(20))}{(Names.Count > 20 ? ", ..." : "")}); the file belongs to a different model");
        if (!tensor.Shape.AsSpan().SequenceEqual(expectedShape))
            throw new SafeTensorsFormatException($"{Path}: tensor '{name}' expected shape {SafeTensor.FormatShape(expectedShape)}, got {tensor.ShapeText}; the file belongs to a different model configuration");
        return tensor;
    }
}
