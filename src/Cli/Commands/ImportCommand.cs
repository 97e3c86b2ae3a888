using System.CommandLine;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore import</c>: turns a PyTorch state_dict (safetensors) into a model directory the other commands use.</summary>
internal static class ImportCommand
{
    private static readonly Option<string> StateDict = CliOption.RequiredString("--state-dict",
        "a PyTorch state_dict saved as safetensors (F32, F16, BF16 or F64)", "FILE");
    private static readonly Option<string> Kind = CommonOptions.ModelKind("vae");
    private static readonly Option<int?> Latent = CliOption.OptionalInt("--latent", "embedding size", "read from the state_dict", 1);
    private static readonly Option<int[]?> Hidden = CliOption.OptionalIntList("--hidden", "MLP hidden layer sizes, e.g. 400 or 512,256", "400");
    private static readonly Option<string?> Loss = CliOption.OptionalString("--loss", "bce (images) | mse (tables)", "NAME", "bce for images, mse for tables");
    private static readonly Option<string[]> Map = CliOption.StringList("--map",
        "torch.name=our.name pairs, comma-separated, for whole tensors or modules (fc1=encoder.0); the reference models of " +
        "bench/peer_models.py need none", "PAIRS");
    private static readonly Option<string> Out = CliOption.RequiredString("--out", "the model directory to write", "DIR");

    public static CliCommand Create() => new CliCommand("import", "make a model directory from a PyTorch state_dict (safetensors)", Run)
    {
        Title = "import weights trained in PyTorch",
        Usage = ["--state-dict FILE.safetensors --model KIND [--hidden ..] [--latent ..] [--map torch.name=our.name,..] --out DIR"],
        Notes = """
            the architecture is the one `neuralcore train --model KIND` builds, for the data given with --data (default
            the bundled MNIST); eval, detect, encode and sample then use DIR. Parameters follow PyTorch's layouts, so
            tensors are only renamed, never transposed.
            """,
    }.With([StateDict, Kind, Latent, Hidden, Loss, Map, .. CommonOptions.DataOptions, Out, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string path = args.Get(StateDict), kind = args.Get(Kind), outDir = args.Get(Out);
        if (kind == "vqvae")
            throw new CliException("import: --model vqvae has no PyTorch state_dict map here (its codebook and EMA state are NeuralCore's own); import an ae, dae, vae or conv model", 2);
        var map = ParseMap(args.Get(Map));
        Outputs.Check("import", [new("--state-dict", path), new("--data", args.Get(CommonOptions.Data))], new Outputs.Output("--out", outDir, IsDirectory: true));
        // --out is a directory: what would be replaced is the state_dict as one of the model files written into it.
        string stateDictFile = Outputs.Canonical(path);
        foreach (string written in new[] { ModelStore.WeightsFile, ModelStore.SpecFile })
            if (Outputs.Canonical(Path.Combine(outDir, written)) == stateDictFile)
                throw new CliException($"import: --out {Text.Safe(outDir)} would replace the --state-dict file with the imported {written}; choose another directory", 2);
        var file = SafeTensors.Read(path);
        var data = DataSource.Load(args, null, 0);
        bool isTable = data.Columns != null;
        var spec = new ModelSpec
        {
            Kind = kind,
            InputFeatures = data.Features,
            ImageShape = data.ImageShape,
            Latent = args.Get(Latent) ?? LatentOf(file, map, kind),
            Hidden = args.Get(Hidden) ?? (isTable ? [64] : [400]),
            Loss = args.Get(Loss) ?? (isTable ? "mse" : "bce"),
            Data = data.Description,
            Columns = data.Columns,
            Scaler = data.Scaler,
        };
        try { spec.Validate(); } catch (ArgumentException e) { throw new CliException("import: " + Cli.InCommandLineTerms(e), 2); }
        OutputDirectory.EnsureWritable(outDir);
        var model = StateDictImport.Import(file, spec, Devices.Open(args), map);
        ModelStore.Save(model, outDir);
        Console.WriteLine($"imported {file.Names.Count} tensors from {path} as a {kind} model ({model.ParameterCount():N0} parameters, latent {spec.Latent}) into {outDir}");
        return 0;
    }

    private static Dictionary<string, string>? ParseMap(string[] pairs)
    {
        if (pairs.Length == 0) return null;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || eq == pair.Length - 1)
                throw new CliException($"import: --map entry '{Text.Safe(pair)}' is not torch.name=our.name (e.g. fc1=encoder.0)", 2);
            if (!map.TryAdd(pair[..eq], pair[(eq + 1)..]))
                throw new CliException($"import: --map names '{Text.Safe(pair[..eq])}' twice", 2);
        }
        return map;
    }

    /// <summary>The latent size a state_dict implies: the output size of the layer that makes the code (its bias length).</summary>
    private static int LatentOf(SafeTensorsFile file, IReadOnlyDictionary<string, string>? map, string kind)
    {
        var names = (map ?? StateDictImport.BuiltInMap(file)).ToDictionary(kv => kv.Value, kv => kv.Key);
        // The decoder's first layer takes the code: its weight is [out, latent].
        string ours = "decoder.0.weight";
        string theirs = names.TryGetValue("decoder.0", out var module) ? module + ".weight" : names.GetValueOrDefault(ours, ours);
        if (file.Tensors.TryGetValue(theirs, out var weight) && weight.Shape.Length == 2) return weight.Shape[1];
        throw new CliException($"import: cannot tell the latent size of {file.Path} (no 2-D tensor '{theirs}' for a {kind} model's first decoder layer); give --latent N", 2);
    }
}
