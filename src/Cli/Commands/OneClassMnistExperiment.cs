using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore experiment oneclass-mnist</c>: one-class anomaly detection per digit, autoencoder against PCA.</summary>
internal static class OneClassMnistExperiment
{
    private static readonly Option<string> Model = CommonOptions.ModelKind("conv-ae");
    private static readonly TrainingOptionSet Training = new("training passes over the ~800 images of one digit", 300, 32, 1e-3f);
    private static readonly Option<int> Latent = CliOption.Int("--latent", "embedding size; PCA keeps as many components", 12, 1, 784);
    private static readonly Option<int[]> Digits = CliOption.Of("--digits", "digits to run, e.g. 0-9, 3 or 1,4,7", "LIST",
        (text, _) => ParseDigits(text), () => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "0-9");
    private static readonly Option<int> Ensemble = CliOption.Int("--ensemble",
        "autoencoders per digit (different seeds) whose scores are averaged", 2, 1, 20);
    private static readonly Option<int[]> Hidden = CliOption.IntList("--hidden", "MLP hidden sizes for ae/dae/vae", [400]);
    private static readonly Option<string> Out = CliOption.String("--out", "results.json and results.md", "DIR", Path.Combine("runs", "oneclass-mnist"));

    public static CliCommand Create() => new CliCommand("oneclass-mnist",
        "per digit: train on that digit only, detect the other digits by reconstruction error (AUROC vs PCA)", Run)
    {
        Title = "one-class anomaly detection on MNIST, autoencoder vs PCA",
        Usage = ["[--model conv-ae] [--epochs N] [--latent 12] [--digits 0-9] [--out DIR]"],
        Notes = """
            for each digit d: train on the training images of d only, score all test images by reconstruction error
            (the other digits are the anomalies) and report the AUROC; the baseline is a PCA with the same number of
            components fitted to the same images. Prints a table digit | AE AUROC | PCA AUROC and the means.
            defaults (measured on MNIST-10k, see README): a small embedding (12), many steps (300 epochs of batch 32) and
            the mean score of 2 seeds; training uses summed BCE, the score is the mean squared error (BCE ranks worse).
            --data: mnist or a directory of IDX files.
            """,
    }.With([Model, .. Training.All, Latent, Digits, CommonOptions.Score, Ensemble, Hidden, CommonOptions.Data, CommonOptions.Seed, Out,
        .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string kind = args.Get(Model);
        if (kind == "vqvae")
            throw new CliException("experiment oneclass-mnist: --model vqvae is not one of its detectors (it trains a fixed architecture with its own loss); use ae, dae, vae, conv-ae, conv-dae or conv-vae", 2);
        var options = Training.Read(args);
        int latent = args.Get(Latent);
        var digits = args.Get(Digits);
        var score = args.Get(CommonOptions.Score);
        int ensemble = args.Get(Ensemble);
        int[] hidden = args.Get(Hidden);
        string outDir = args.Get(Out);
        OutputDirectory.EnsureWritable(outDir);
        var backend = Devices.Open(args);
        var data = DataSource.Load(args);
        if (data.ImageShape == null || data.TrainLabels == null || data.TestLabels == null)
            throw new CliException($"experiment oneclass-mnist: --data must be labelled images (mnist or an IDX directory), got {data.Description}", 2);
        var spec = new ModelSpec { Kind = kind, InputFeatures = data.Features, ImageShape = data.ImageShape, Latent = latent, Hidden = hidden, Data = data.Description };
        try { spec.Validate(); } catch (ArgumentException e) { throw new CliException("experiment oneclass-mnist: " + e.Message, 2); }

        Console.WriteLine($"one-class MNIST: {kind}, latent {latent}, {options.Epochs} epochs per digit, batch {options.BatchSize}, lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                          $"score {score.ToString().ToLowerInvariant()}" + (ensemble > 1 ? $", mean of {ensemble} models" : "") + $"; PCA with {latent} components; {data.Description}: {data.TestCount} test images");
        var clock = Stopwatch.StartNew();
        var results = new List<OneClassResult>();
        bool interactive = !Console.IsErrorRedirected;
        foreach (int d in digits)
        {
            int totalEpochs = ensemble * options.Epochs;
            var r = OneClassBenchmark.Run(backend, spec, options, data.Train, data.TrainLabels, data.Test, data.TestLabels, d, score, ensemble, (epoch, loss) =>
            {
                if (interactive && (epoch % 10 == 0 || epoch == totalEpochs))
                    Console.Error.Write($"\rdigit {d}: epoch {epoch}/{totalEpochs}, train loss {loss:F2}   ");
            });
            if (interactive) Console.Error.Write("\r" + new string(' ', 60) + "\r");
            results.Add(r);
            Console.WriteLine($"digit {d}: AE AUROC {100 * r.AutoencoderAuroc:F2}  PCA AUROC {100 * r.PcaAuroc:F2}  ({r.TrainCount} training images, {r.Seconds:F1} s)");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        string table = Table(results, kind);
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine($"wall time {seconds:F0} s");

        Directory.CreateDirectory(outDir);
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.md"),
            $"# One-class MNIST: {kind} vs PCA\n\n{kind}, latent {latent}, {options.Epochs} epochs per digit, batch {options.BatchSize}, " +
            $"score {score.ToString().ToLowerInvariant()}, ensemble {ensemble}, data {data.Description}; AUROC in percent (anomaly = any other digit).\n\n{table}\nwall time {seconds:F0} s\n");
        WriteJson(Path.Combine(outDir, "results.json"), spec, options, score, ensemble, results, seconds);
        Console.WriteLine($"wrote {Path.Combine(outDir, "results.md")} and results.json");
        return 0;
    }

    /// <summary>The markdown table digit | AE AUROC | PCA AUROC, with the means as the last row.</summary>
    private static string Table(List<OneClassResult> results, string kind)
    {
        var sb = new StringBuilder();
        sb.Append($"| digit | {kind} AUROC | PCA AUROC |\n|---|---|---|\n");
        foreach (var r in results)
            sb.Append(CultureInfo.InvariantCulture, $"| {r.NormalClass} | {100 * r.AutoencoderAuroc:F2} | {100 * r.PcaAuroc:F2} |\n");
        sb.Append(CultureInfo.InvariantCulture, $"| mean | {100 * results.Average(r => r.AutoencoderAuroc):F2} | {100 * results.Average(r => r.PcaAuroc):F2} |\n");
        return sb.ToString();
    }

    private static void WriteJson(string path, ModelSpec spec, TrainingOptions options, ReconstructionScore score, int ensemble, List<OneClassResult> results, double seconds)
    {
        var json = ExperimentResults.Start("oneclass-mnist", new RunSettings(spec, options));
        json["score"] = score.ToString().ToLowerInvariant();
        json["ensemble"] = ensemble;
        json["mean_ae_auroc"] = results.Average(r => r.AutoencoderAuroc);
        json["mean_pca_auroc"] = results.Average(r => r.PcaAuroc);
        json["seconds"] = seconds;
        var digits = results.Select(r => new DigitResult(r.NormalClass, r.TrainCount, r.AutoencoderAuroc, r.PcaAuroc, r.FinalTrainLoss, r.Seconds)).ToList();
        json["digits"] = JsonSerializer.SerializeToNode(digits, ExperimentJson.Default.ListDigitResult);
        ExperimentResults.Write(path, json);
    }

    /// <summary>"0-9", "3", "1,4,7" or "0-2,5" -> distinct digits in the order given.</summary>
    public static int[] ParseDigits(string text)
    {
        var digits = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length is < 1 or > 2 || !ends.All(e => e.Length == 1 && char.IsAsciiDigit(e[0])))
                throw new CliException($"experiment oneclass-mnist: --digits expects digits 0-9 such as 0-9, 3 or 1,4,7; got '{text}'", 2);
            int lo = ends[0][0] - '0', hi = ends[^1][0] - '0';
            if (lo > hi) throw new CliException($"experiment oneclass-mnist: --digits range '{part}' runs backwards; write {hi}-{lo}", 2);
            for (int d = lo; d <= hi; d++) if (!digits.Contains(d)) digits.Add(d);
        }
        if (digits.Count == 0) throw new CliException($"experiment oneclass-mnist: --digits is empty; e.g. --digits 0-9", 2);
        return digits.ToArray();
    }
}
