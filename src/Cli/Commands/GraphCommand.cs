using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore graph</c>: the autograd graph of one batch's loss as Graphviz DOT (and SVG).</summary>
internal static class GraphCommand
{
    private static readonly Option<string> Model = CliOption.String("--model",
        $"a model kind built fresh ({string.Join(" | ", ModelSpec.Kinds)}) or a directory written by `neuralcore train`", "KIND|DIR", "vae");
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "the Graphviz file; FILE.svg is rendered next to it when Graphviz `dot` is on PATH (apt-get install graphviz)", "FILE.dot",
        "graph-KIND.dot");
    private static readonly Option<int> Batch = CliOption.Int("--batch", "rows in the batch", 4, 1, 4096);
    private static readonly Option<bool> NoBackward = CliOption.Flag("--no-backward", "draw the graph before backward: ops and values, no gradients");
    private static readonly Option<int?> Latent = CliOption.OptionalInt("--latent", "fresh models: embedding size", "20 for VAEs, 32 otherwise", 1, SizeLimits.MaxLayerWidth);
    private static readonly Option<int[]> Hidden = CliOption.IntList("--hidden", "fresh MLP models: hidden layer sizes", [400]);

    public static CliCommand Create() => new CliCommand("graph", "draw the autograd graph of one batch (Graphviz DOT/SVG, values and gradients)", Run)
    {
        Title = "draw the autograd graph of one training batch, with values and gradients",
        Usage = ["[--model KIND|DIR] [--out FILE.dot] [--batch N] [--no-backward] [options]"],
        Notes = """
            computes the loss of the first N training rows, keeps every intermediate gradient (RetainGrad), runs
            backward and writes one node per op (op, shape, module path, value and gradient mean/std/min/max/L2)
            and per parameter (its full name), grouped in one box per module.
            """,
    }.With([Model, Out, Batch, NoBackward, Latent, Hidden, .. CommonOptions.DataOptions, CommonOptions.Seed, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string modelArg = args.Get(Model);
        bool isDirectory = Directory.Exists(modelArg);
        if (!isDirectory && !ModelSpec.Kinds.Contains(modelArg))
            throw new CliException($"graph: --model '{modelArg}' is neither a model kind ({string.Join(", ", ModelSpec.Kinds)}) nor a model directory", 2);
        string kindName = isDirectory ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelArg))) : modelArg;
        string outPath = args.Get(Out) ?? $"graph-{kindName}.dot";
        int batch = args.Get(Batch);
        bool backward = !args.Get(NoBackward);
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        int? latent = args.Get(Latent);
        int[] hidden = args.Get(Hidden);
        var backend = Devices.Open(args);

        var spec = isDirectory ? ModelStore.LoadSpec(modelArg) : null;
        Outputs.Check("graph", isDirectory ? Outputs.ModelInputs(modelArg, args.Get(CommonOptions.Data) ?? spec!.Data) : [new("--data", args.Get(CommonOptions.Data))],
            new Outputs.Output("--out", outPath));
        var data = DataSource.Load(args, spec, seed);
        Autoencoder model;
        if (spec != null) model = ModelStore.Load(modelArg, backend);
        else
        {
            bool table = data.Columns != null;
            if (modelArg.StartsWith("conv-", StringComparison.Ordinal) && data.ImageShape == null)
                throw new CliException($"graph: --model {modelArg} needs image data; tables use ae, dae or vae", 2);
            bool vq = modelArg == "vqvae";
            if (vq && data.ImageShape is not { Length: 3 })
                throw new CliException("graph: --model vqvae needs image data; tables use ae, dae or vae", 2);
            var fresh = new ModelSpec
            {
                Kind = modelArg,
                InputFeatures = data.Features,
                ImageShape = data.ImageShape,
                Latent = vq ? new VqSettings().CodeDim * (data.ImageShape![1] / 4) * (data.ImageShape[2] / 4)
                    : latent ?? (table ? Math.Max(2, data.Features / 4) : modelArg.EndsWith("vae", StringComparison.Ordinal) ? 20 : 32),
                Hidden = hidden,
                Vq = vq ? new VqSettings() : null,
                Loss = table || vq ? "mse" : "bce",
                Data = data.Description,
                Columns = data.Columns,
                Scaler = data.Scaler,
            };
            try { fresh.Validate(); } catch (ArgumentException e) { throw new CliException("graph: " + e.Message, 2); }
            model = ModelFactory.Create(fresh, backend, new SeededRandom(seed));
        }

        // the first rows of the training split (a saved table model scores all rows as test rows)
        var (rows, count) = data.TrainCount > 0 ? (data.Train, data.TrainCount) : (data.Test, data.TestCount);
        batch = Math.Min(batch, count);
        var x = Tensor.FromArray(backend, rows.AsSpan(0, batch * data.Features), batch, data.Features);
        var loss = model.ComputeLoss(x, new SeededRandom(seed));
        if (backward)
        {
            GraphExport.RetainAll(loss.Total);
            loss.Total.Backward(retainGraph: true);
        }
        var graph = GraphExport.Capture(loss.Total, [.. model.NamedParameters(), ("input batch", x)]);
        string lossText = string.Create(CultureInfo.InvariantCulture, $"loss {loss.Total.Item():G6}")
            + (loss.Kl != null ? string.Create(CultureInfo.InvariantCulture, $" = reconstruction {loss.Reconstruction.Item():G6} + {model.Spec.Beta:G3} x KL {loss.Kl.Item():G6}") : "");
        string title = $"{model.Spec.Kind} on {batch} rows of {data.Description}: {lossText} (summed)";

        AtomicFile.WriteAllText(outPath, graph.ToDot(title));
        Console.WriteLine($"graph of the {model.Spec.Kind} loss: {graph.OpCount} ops, {graph.ParameterCount} parameters, {graph.ConstantCount} constant{(graph.ConstantCount == 1 ? "" : "s")}; {lossText}");
        Console.WriteLine(backward ? "gradients: every node (RetainGrad on all intermediates, then Backward)" : "no gradients (--no-backward)");
        Console.WriteLine($"wrote {Outputs.Name(outPath)}");
        if (!Outputs.IsStream(outPath)) RenderSvg(outPath);
        return 0;
    }

    /// <summary>Runs Graphviz `dot -Tsvg` when it is on PATH; otherwise says how to get it.</summary>
    private static void RenderSvg(string dotPath)
    {
        string svgPath = Path.ChangeExtension(dotPath, ".svg");
        string? dot = FindOnPath("dot");
        if (dot == null)
        {
            Console.WriteLine($"no SVG: Graphviz `dot` is not on PATH; install it (apt-get install graphviz) and run: dot -Tsvg {dotPath} -o {svgPath}");
            return;
        }
        var start = new ProcessStartInfo(dot) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-Tsvg");
        start.ArgumentList.Add(dotPath);
        start.ArgumentList.Add("-o");
        start.ArgumentList.Add(svgPath);
        using var process = Process.Start(start) ?? throw new CliException($"graph: could not start {dot}");
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new CliException($"graph: `dot -Tsvg {dotPath}` failed with exit code {process.ExitCode}: {errors.Trim()}");
        Console.WriteLine($"wrote {svgPath}");
    }

    private static string? FindOnPath(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
            if (OperatingSystem.IsWindows() && File.Exists(candidate + ".exe")) return candidate + ".exe";
        }
        return null;
    }
}
