using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.IO;

/// <summary>
/// Builds a model from a PyTorch state_dict saved as safetensors: the tensors are renamed to this engine's parameter
/// names (which follow PyTorch's layouts, so no tensor is transposed) and checked against the model's shapes.
/// The PyTorch reference models (bench/peer_models.py: the VAE with fc1/fc21/fc22/fc3/fc4 and the conv AE with its
/// <c>enc</c>/<c>dec</c> Sequentials) are recognised by their names and need no map.
/// </summary>
/// <example>
/// <code>
/// var spec = new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 20, Hidden = [400] };
/// var model = StateDictImport.Import(SafeTensors.Read("vae_state_dict.safetensors"), spec, new CpuBackend());
/// ModelStore.Save(model, "runs/imported");
/// </code>
/// </example>
public static class StateDictImport
{
    /// <summary>The names of the reference VAE (fc1 -> 400 -> fc21 mu, fc22 logvar; fc3, fc4 decode), by module.</summary>
    public static readonly IReadOnlyDictionary<string, string> ReferenceVae = new Dictionary<string, string>
    {
        ["fc1"] = "encoder.0", ["fc21"] = "mu", ["fc22"] = "logvar", ["fc3"] = "decoder.0", ["fc4"] = "decoder.2",
    };

    /// <summary>
    /// The names of the reference conv AE, by module: its Sequentials index layers without the reshapes this engine
    /// counts (encoder index 0 is a reshape here, PyTorch's <c>view</c> happens in <c>forward</c>).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ReferenceConvAutoencoder = new Dictionary<string, string>
    {
        ["enc.0"] = "encoder.1", ["enc.2"] = "encoder.3", ["enc.5"] = "encoder.6",
        ["dec.0"] = "decoder.0", ["dec.3"] = "decoder.3", ["dec.5"] = "decoder.5",
    };

    /// <summary>
    /// Builds <paramref name="spec"/>'s model on <paramref name="backend"/> with the weights of <paramref name="stateDict"/>.
    /// </summary>
    /// <param name="stateDict">The state_dict's tensors (any dtype <see cref="SafeTensors.Read(string)"/> reads).</param>
    /// <param name="spec">The architecture the weights belong to.</param>
    /// <param name="backend">Where the model's tensors live.</param>
    /// <param name="map">
    /// PyTorch name -> this engine's name, for whole tensors ("fc1.weight") or modules ("fc1" renames "fc1.weight" and
    /// "fc1.bias"); the longest matching entry wins. Null: the names are used as they are, unless the file holds one of the
    /// reference models (<see cref="ReferenceVae"/>, <see cref="ReferenceConvAutoencoder"/>), whose map is then used.
    /// </param>
    /// <exception cref="SafeTensorsFormatException">A tensor the model needs is missing or has another shape, or the file holds
    /// tensors the model does not have; the message lists the names so a <paramref name="map"/> can be written.</exception>
    public static Autoencoder Import(SafeTensorsFile stateDict, ModelSpec spec, IBackend backend, IReadOnlyDictionary<string, string>? map = null)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(backend);
        var model = ModelFactory.Create(spec, backend, new SeededRandom(0));
        map ??= BuiltInMap(stateDict);
        var renamed = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (string name in stateDict.Names)
        {
            string ours = Rename(name, map);
            if (!renamed.TryAdd(ours, stateDict.Tensors[name]))
                throw new SafeTensorsFormatException($"{stateDict.Path}: two tensors map to '{ours}' (one is '{name}'); fix the name map");
            names.Add(ours);
        }
        var expected = model.NamedParameters().Select(p => $"{p.Name} {SafeTensor.FormatShape(p.Parameter.Shape.ToArray())}");
        try
        {
            ModelStore.LoadWeights(model, new SafeTensorsFile(stateDict.Path, renamed, names, stateDict.Metadata));
        }
        catch (SafeTensorsFormatException e)
        {
            throw new SafeTensorsFormatException($"{e.Message}; the {spec.Kind} model has {string.Join(", ", expected)}: map the state_dict's names onto these (--map torch.name=our.name)", e);
        }
        return model;
    }

    /// <summary>The reference model's map when the file holds exactly its modules; otherwise none (names used as they are).</summary>
    public static IReadOnlyDictionary<string, string> BuiltInMap(SafeTensorsFile stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var modules = stateDict.Names.Select(n => n[..Math.Max(0, n.LastIndexOf('.'))]).ToHashSet(StringComparer.Ordinal);
        foreach (var candidate in new[] { ReferenceVae, ReferenceConvAutoencoder })
            if (modules.SetEquals(candidate.Keys)) return candidate;
        return new Dictionary<string, string>();
    }

    private static string Rename(string name, IReadOnlyDictionary<string, string> map)
    {
        if (map.TryGetValue(name, out var whole)) return whole;
        for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
            if (map.TryGetValue(name[..dot], out var module)) return module + name[dot..];
        return name;
    }
}
