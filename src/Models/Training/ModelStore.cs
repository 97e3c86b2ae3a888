using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Training;

/// <summary>
/// Saves and loads a model directory: <c>model.safetensors</c> (weights, standard format, PyTorch layouts and
/// names such as "encoder.0.weight") and <c>model.json</c> (architecture and scaling). Both are written
/// atomically; a directory written by <c>neuralcore train</c> reloads with no code.
/// </summary>
public static class ModelStore
{
    public const string WeightsFile = "model.safetensors";
    public const string SpecFile = "model.json";

    /// <summary>
    /// Writes weights and spec into <paramref name="directory"/> (created if needed). Each file is written atomically;
    /// the weights file also carries the spec in its metadata, so a crash between the two writes (new weights next to an
    /// old model.json) is detected by <see cref="Load"/> instead of producing a silently wrong model.
    /// </summary>
    public static void Save(Autoencoder model, string directory)
    {
        Directory.CreateDirectory(directory);
        var tensors = model.NamedParameters().Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.ToArray())).ToList();
        var metadata = new Dictionary<string, string> { ["format"] = "neuralcore", ["kind"] = model.Spec.Kind, ["spec"] = model.Spec.ToJson() };
        SafeTensors.Write(Path.Combine(directory, WeightsFile), tensors, metadata);
        AtomicFile.WriteAllText(Path.Combine(directory, SpecFile), model.Spec.ToJson());
    }

    /// <summary>Reads only the spec of a model directory.</summary>
    public static ModelSpec LoadSpec(string directory)
    {
        string specPath = Path.Combine(directory, SpecFile);
        if (!Directory.Exists(directory))
            throw new DataFormatException($"{directory}: model directory not found; pass the --out directory of a `neuralcore train` run");
        if (!File.Exists(specPath))
            throw new DataFormatException($"{specPath}: not found; {directory} is not a model directory written by `neuralcore train`");
        return ModelSpec.FromJson(File.ReadAllText(specPath), specPath);
    }

    /// <summary>Rebuilds the model of <paramref name="directory"/> on <paramref name="backend"/> and loads its weights.</summary>
    public static Autoencoder Load(string directory, IBackend backend)
    {
        var spec = LoadSpec(directory);
        var model = ModelFactory.Create(spec, backend, new SeededRandom(0));
        var file = SafeTensors.Read(Path.Combine(directory, WeightsFile));
        if (file.Metadata.TryGetValue("spec", out var saved) && saved != spec.ToJson()
            && ModelSpec.FromJson(saved, file.Path).ToJson() != spec.ToJson())
            throw new DataFormatException(
                $"{Path.Combine(directory, SpecFile)}: does not describe the weights in {WeightsFile} (they were saved by a different run); train again or restore both files together");
        LoadWeights(model, file);
        return model;
    }

    /// <summary>Copies every parameter from <paramref name="file"/>, checking names and shapes.</summary>
    public static void LoadWeights(Layers.Module model, SafeTensorsFile file)
    {
        var named = model.NamedParameters().ToList();
        foreach (var (name, parameter) in named)
        {
            var t = file.Require(name, parameter.Shape.ToArray());
            parameter.CopyFrom(t.Data);
        }
        var extra = file.Names.Except(named.Select(n => n.Name)).ToList();
        if (extra.Count > 0)
            throw new SafeTensorsFormatException($"{file.Path}: holds tensors this model does not have ({string.Join(", ", extra.Take(5))}); the file belongs to a different model");
    }
}
