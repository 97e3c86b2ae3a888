using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Training;

/// <summary>
/// Saves and loads a model directory: <c>model.safetensors</c> (weights, standard format, PyTorch layouts and
/// names such as "encoder.0.weight") and <c>model.json</c> (architecture and scaling). Both are written
/// atomically; a directory written by <c>neuralcore train</c> reloads with no code.
/// The weights file also carries the spec in its metadata, so that file alone - as a stream or bytes, e.g. an
/// embedded resource of a native app - rebuilds the model too (<see cref="Load(Stream, IBackend, string)"/>).
/// </summary>
public static class ModelStore
{
    /// <summary>File name of the weights inside a model directory (safetensors; its metadata also holds the spec).</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>File name of the architecture and scaling inside a model directory (JSON).</summary>
    public const string SpecFile = "model.json";

    /// <summary>Value of the <see cref="Checkpoint.ContentKey"/> metadata entry of a model's weights file.</summary>
    public const string ModelContent = "model";

    /// <summary>Metadata key of the model spec (model.json's text) in the weights file.</summary>
    public const string SpecMetadataKey = "spec";

    /// <summary>
    /// Writes weights and spec into <paramref name="directory"/> (created if needed). Each file is written atomically;
    /// the weights file also carries the spec in its metadata, so a crash between the two writes (new weights next to an
    /// old model.json) is detected by <see cref="Load(string, IBackend)"/> instead of producing a silently wrong model.
    /// </summary>
    public static void Save(Autoencoder model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        var (tensors, metadata) = WeightsContent(model);
        SafeTensors.Write(Path.Combine(directory, WeightsFile), tensors, metadata);
        AtomicFile.WriteAllText(Path.Combine(directory, SpecFile), model.Spec.ToJson());
    }

    /// <summary>
    /// Writes the model as one safetensors file to <paramref name="weights"/>: the bytes of a model directory's
    /// <c>model.safetensors</c>, whose metadata holds the spec, so <see cref="Load(Stream, IBackend, string)"/>
    /// rebuilds the model from it alone. The stream is left open.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="weights"/> is not writable.</exception>
    public static void Save(Autoencoder model, Stream weights)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, metadata) = WeightsContent(model);
        SafeTensors.Write(weights, tensors, metadata);
    }

    private static (List<(string Name, int[] Shape, float[] Data)> Tensors, Dictionary<string, string> Metadata) WeightsContent(Autoencoder model) =>
        (model.NamedParameters().Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.ToArray())).ToList(),
         new Dictionary<string, string> { [Checkpoint.ContentKey] = ModelContent, ["kind"] = model.Spec.Kind, [SpecMetadataKey] = model.Spec.ToJson() });

    /// <summary>Reads only the spec of a model directory.</summary>
    public static ModelSpec LoadSpec(string directory)
    {
        string specPath = Path.Combine(directory, SpecFile);
        if (!Directory.Exists(directory))
            throw new DataFormatException($"{directory}: model directory not found; pass a directory written by ModelStore.Save or TrainingRun.Fit (or `neuralcore train`)");
        if (!File.Exists(specPath))
            throw new DataFormatException($"{specPath}: not found; {directory} is not a model directory written by ModelStore.Save (or `neuralcore train`)");
        return ModelSpec.FromJson(File.ReadAllText(specPath), specPath);
    }

    /// <summary>Rebuilds the model of <paramref name="directory"/> on <paramref name="backend"/> and loads its weights.</summary>
    /// <exception cref="DataFormatException">No such directory, no model.json, or a model.json that does not describe the weights.</exception>
    /// <exception cref="SafeTensorsFormatException">The weights file is invalid or does not match the spec.</exception>
    public static Autoencoder Load(string directory, IBackend backend)
    {
        var spec = LoadSpec(directory);
        var model = ModelFactory.Create(spec, backend, new SeededRandom(0));
        var file = SafeTensors.Read(Path.Combine(directory, WeightsFile));
        if (file.Metadata.TryGetValue(SpecMetadataKey, out var saved) && saved != spec.ToJson()
            && ModelSpec.FromJson(saved, file.Path).ToJson() != spec.ToJson())
            throw new DataFormatException(
                $"{Path.Combine(directory, SpecFile)}: does not describe the weights in {WeightsFile} (they were saved by a different run); train again or restore both files together");
        LoadWeights(model, file);
        return model;
    }

    /// <summary>
    /// Rebuilds a model on <paramref name="backend"/> from a weights file given as a stream (a model directory's
    /// <c>model.safetensors</c>, or what <see cref="Save(Autoencoder, Stream)"/> wrote), e.g.
    /// <c>Assembly.GetManifestResourceStream("model.safetensors")</c>. The architecture and scaling come from the spec
    /// in the file's metadata. Reads from the stream's current position and leaves it open; a non-seekable stream works.
    /// </summary>
    /// <param name="weights">The weights file's content.</param>
    /// <param name="backend">Where the model's tensors live.</param>
    /// <param name="name">Names the stream in error messages (a stream has no path).</param>
    /// <exception cref="SafeTensorsFormatException">Not a valid safetensors file, no spec in its metadata (not written by
    /// NeuralCore, or a training checkpoint), or tensors that do not match the spec.</exception>
    /// <exception cref="DataFormatException">The spec in the metadata is invalid.</exception>
    public static Autoencoder Load(Stream weights, IBackend backend, string name = SafeTensors.StreamName) =>
        FromWeights(SafeTensors.Read(weights, name), backend);

    /// <summary>
    /// Rebuilds a model from the bytes of a weights file, as <see cref="Load(Stream, IBackend, string)"/> does from a stream.
    /// </summary>
    /// <param name="weights">The weights file's content (a <c>byte[]</c> converts implicitly).</param>
    /// <param name="backend">Where the model's tensors live.</param>
    /// <param name="name">Names the bytes in error messages.</param>
    /// <exception cref="SafeTensorsFormatException">As for <see cref="Load(Stream, IBackend, string)"/>.</exception>
    /// <exception cref="DataFormatException">The spec in the metadata is invalid.</exception>
    public static Autoencoder Load(ReadOnlyMemory<byte> weights, IBackend backend, string name = SafeTensors.BytesName) =>
        FromWeights(SafeTensors.Read(weights, name), backend);

    private static Autoencoder FromWeights(SafeTensorsFile file, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!file.Metadata.TryGetValue(SpecMetadataKey, out var json))
        {
            string why = Checkpoint.IsCheckpoint(file.Metadata)
                ? "it is a training checkpoint; read it with Checkpoint.Load and restore it into a Trainer"
                : "it was not written by ModelStore.Save or `neuralcore train`; build the model from its ModelSpec and copy the tensors with ModelStore.LoadWeights";
            throw new SafeTensorsFormatException($"{file.Path}: has no model spec in its metadata (\"{SpecMetadataKey}\"); {why}");
        }
        var spec = ModelSpec.FromJson(json, $"{file.Path} ({SpecMetadataKey})");
        var model = ModelFactory.Create(spec, backend, new SeededRandom(0));
        LoadWeights(model, file);
        return model;
    }

    /// <summary>Copies every parameter from <paramref name="file"/>, checking names, shapes and that every value is finite.</summary>
    /// <exception cref="SafeTensorsFormatException">A tensor is missing, has another shape, holds NaN or an infinity, or the
    /// file holds tensors the model does not have.</exception>
    public static void LoadWeights(Layers.Module model, SafeTensorsFile file)
    {
        var named = model.NamedParameters().ToList();
        foreach (var (name, parameter) in named)
        {
            var t = file.Require(name, parameter.Shape.ToArray());
            RequireFinite(file.Path, name, t.Data);
            parameter.CopyFrom(t.Data);
        }
        var extra = file.Names.Except(named.Select(n => n.Name)).ToList();
        if (extra.Count > 0)
            throw new SafeTensorsFormatException($"{file.Path}: holds tensors this model does not have ({string.Join(", ", extra.Take(5))}); the file belongs to a different model");
    }

    /// <summary>Refuses a tensor that holds NaN or an infinity: a model with such a weight evaluates to NaN everywhere
    /// (it was saved from a diverged run or the file is damaged), which no command should report as a result.</summary>
    internal static void RequireFinite(string path, string name, float[] data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
                throw new SafeTensorsFormatException(
                    $"{path}: tensor '{name}' holds {data[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at index {i}; the weights are damaged or come from a run that diverged; train the model again");
        }
    }
}
