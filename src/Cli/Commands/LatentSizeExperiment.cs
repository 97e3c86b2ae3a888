using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore experiment latent-size</c>: test reconstruction loss and KL against the embedding size.</summary>
internal static class LatentSizeExperiment
{
    private static readonly Option<string> Model = CommonOptions.ModelKind("vae");
    private static readonly Option<int[]> Sizes = CliOption.IntList("--sizes", "embedding sizes, comma-separated", [2, 5, 10, 20, 50], "LIST");
    private static readonly TrainingOptionSet Training = new("training passes per model", 10, 128, 1e-3f);
    private static readonly Option<int[]> Hidden = CliOption.IntList("--hidden", "MLP hidden sizes", [400]);
    private static readonly Option<string> Out = CliOption.String("--out", "results.json, results.md and latent-size.png", "DIR",
        Path.Combine("runs", "latent-size"));

    public static CliCommand Create() => new CliCommand("latent-size",
        "train one model per embedding size; test reconstruction loss and KL against the size", Run)
    {
        Title = "how the embedding size trades reconstruction against KL",
        Usage = ["[--model vae] [--sizes 2,5,10,20,50] [--epochs N] [--out DIR]"],
        Notes = """
            prints a table size | test reconstruction loss | KL | total, per test sample (KL is 0 for non-variational
            models), and plots the test reconstruction loss against the embedding size.
            """,
    }.With([Model, Sizes, .. Training.All, Hidden, .. CommonOptions.DataOptions, CommonOptions.Seed, Out, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string kind = args.Get(Model);
        var sizes = args.Get(Sizes).Distinct().ToArray();
        var options = Training.Read(args);
        int[] hidden = args.Get(Hidden);
        string outDir = args.Get(Out);
        OutputDirectory.EnsureWritable(outDir);
        var backend = Devices.Open(args);
        var data = DataSource.Load(args, null, options.Seed);
        bool isTable = data.Columns != null;
        if (kind.StartsWith("conv-", StringComparison.Ordinal) && data.ImageShape == null)
            throw new CliException($"experiment latent-size: --model {kind} needs image data; tables use ae, dae or vae", 2);
        if (kind == "vqvae")
            throw new CliException("experiment latent-size: --model vqvae has no latent size to sweep (its code grid is fixed; see train --code-dim)", 2);

        Console.WriteLine($"latent size sweep: {kind}, sizes {string.Join(", ", sizes)}, {options.Epochs} epochs each, {data.Description} " +
                          $"({data.TrainCount} train / {data.TestCount} test rows)");
        var clock = Stopwatch.StartNew();
        var rows = new List<SizeResult>();
        RunSettings? settings = null;   // the same for every size but the latent one
        foreach (int size in sizes)
        {
            var spec = new ModelSpec
            {
                Kind = kind, InputFeatures = data.Features, ImageShape = data.ImageShape, Latent = size, Hidden = hidden,
                Loss = isTable ? "mse" : "bce", Data = data.Description, Columns = data.Columns, Scaler = data.Scaler,
            };
            try { spec.Validate(); } catch (ArgumentException e) { throw new CliException("experiment latent-size: " + e.Message, 2); }
            var trainer = Trainer.ForNewModel(spec, backend, options);
            settings = trainer.Settings;
            var model = trainer.Model;
            var sizeClock = Stopwatch.StartNew();
            for (int e = 0; e < options.Epochs; e++)
            {
                var m = trainer.RunEpoch(data.Train, data.TrainCount, data.Test, 0);
                Console.Error.WriteLine($"size {size}: epoch {e + 1}/{options.Epochs}, train loss {m.TrainLoss:F2}");
            }
            var test = Trainer.Evaluate(model, data.Test, data.TestCount, 500, options.Seed);
            rows.Add(new SizeResult(size, test.Reconstruction, test.Kl, test.Loss, sizeClock.Elapsed.TotalSeconds));
            Console.WriteLine($"size {size,3}: test reconstruction {test.Reconstruction:F3}  KL {test.Kl:F3}  total {test.Loss:F3}  ({sizeClock.Elapsed.TotalSeconds:F1} s)");
        }
        string table = Table(rows);
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine($"wall time {clock.Elapsed.TotalSeconds:F0} s");

        Directory.CreateDirectory(outDir);
        var x = rows.Select(r => (float)r.Size).ToList();
        var series = new List<PlotSeries> { new("reconstruction", rows.Select(r => (float)r.TestReconstruction).ToList(), x) };
        if (rows.Any(r => r.TestKl != 0))
        {
            series.Add(new("KL", rows.Select(r => (float)r.TestKl).ToList(), x));
            series.Add(new("total", rows.Select(r => (float)r.TestLoss).ToList(), x));
        }
        string plot = Path.Combine(outDir, "latent-size.png");
        Plot.WriteLines(plot, series, $"{kind}: test loss per sample vs embedding size", "embedding size", "loss per sample");
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.md"),
            $"# Embedding size sweep: {kind}\n\n{options.Epochs} epochs each, data {data.Description}; losses per test sample.\n\n{table}");
        WriteJson(Path.Combine(outDir, "results.json"), settings!, rows);
        Console.WriteLine($"wrote {plot}, results.md and results.json in {outDir}");
        return 0;
    }

    private static string Table(List<SizeResult> rows)
    {
        var sb = new StringBuilder("| size | test reconstruction | KL | total |\n|---|---|---|---|\n");
        foreach (var r in rows)
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Size} | {r.TestReconstruction:F3} | {r.TestKl:F3} | {r.TestLoss:F3} |\n");
        return sb.ToString();
    }

    private static void WriteJson(string path, RunSettings settings, List<SizeResult> rows)
    {
        var json = ExperimentResults.Start("latent-size", settings);
        json.Remove("latent");   // each row has its own size
        json["sizes"] = JsonSerializer.SerializeToNode(rows, ExperimentJson.Default.ListSizeResult);
        ExperimentResults.Write(path, json);
    }
}
