using System.CommandLine;
using System.Globalization;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore detect</c>: anomaly scores by reconstruction error, a percentile threshold, and AUROC when labels are known.</summary>
internal static class DetectCommand
{
    private static readonly Option<int?> NormalValue = CliOption.OptionalInt("--normal-value",
        "CSV with --label-column: the normal label; anomaly = any other label", "the most frequent label", helpName: "V");
    private static readonly Option<int?> NormalClass = CliOption.OptionalInt("--normal-class",
        "image data: the normal digit; every other digit counts as an anomaly (without it: no AUROC)", null, 0, 9, "C");
    private static readonly Option<float> Percentile = CliOption.Float("--percentile",
        "threshold = the P-th percentile (0..100) of the reference scores", 99f, 0f, 100f, "P");
    private static readonly Option<float?> Threshold = CliOption.OptionalFloat("--threshold", "use this threshold instead of a percentile");
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "CSV with the columns row, score, flagged (1 above the threshold), label when known; - for standard output", "FILE.csv", "DIR/scores.csv");

    public static CliCommand Create() => new CliCommand("detect", "anomaly scores by reconstruction error, a percentile threshold, AUROC", Run)
    {
        Title = "anomaly detection by reconstruction error",
        Usage =
        [
            "--model DIR [--data SOURCE] [--out FILE.csv] [--percentile 99] [--normal-class C]",
            "--model DIR --data FILE.csv --label-column COL [--normal-value V] [--drop COLS]",
        ],
        Notes = """
            --model: trained on normal data. Reference scores for the threshold: image data - the training split (only
            the --normal-class digit when given); a CSV table - its own rows (the threshold then flags the top 100 - P percent).
            prints the threshold, how many rows are flagged, and with labels the AUROC and the precision and recall
            of the flags.
            """,
    }.With([CommonOptions.ModelDirectory, .. CommonOptions.DataOptions, NormalValue, NormalClass, CommonOptions.Split, CommonOptions.Score,
        Percentile, Threshold, Out, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        var (dir, backend, spec, data) = SavedModel.Open(args);
        var split = DataSplit.Select(args, data);
        string outPath = args.Get(Out) ?? Path.Combine(dir, "scores.csv");
        double percentile = args.Get(Percentile);
        double? givenThreshold = args.Get(Threshold);
        bool fixedThreshold = givenThreshold != null;
        double threshold = givenThreshold ?? 0;
        var score = args.Get(CommonOptions.Score);
        int? normal = NormalLabel(args, data, split);
        if (fixedThreshold && args.Has(Percentile))
            throw new CliException("detect: give either --percentile or --threshold, not both", 2);
        Outputs.Check("detect", Outputs.ModelInputs(dir, args.Get(CommonOptions.Data) ?? spec.Data), new Outputs.Output("--out", outPath));

        var model = ModelStore.Load(dir, backend);
        Console.Error.WriteLine($"scoring {split.Count} rows of {data.Description} ({split.Name}) with {spec.Kind} ...");
        double[] scores = AnomalyDetection.Scores(model, split.Rows, split.Count, score);
        string reference = "";
        if (!fixedThreshold)
        {
            double[] referenceScores = ReferenceScores(model, data, split, scores, normal, score, out reference);
            threshold = AnomalyDetection.Percentile(referenceScores, percentile);
        }
        var flagged = scores.Select(s => s > threshold).ToArray();
        int flaggedCount = flagged.Count(f => f);

        var header = new List<string> { "row", "score", "flagged" };
        if (split.Labels != null) header.Add("label");
        CsvTable.Write(outPath, header, Enumerable.Range(0, split.Count).Select(r =>
        {
            var row = new List<float> { split.RowNumbers[r], (float)scores[r], flagged[r] ? 1 : 0 };
            if (split.Labels != null) row.Add(split.Labels[r]);
            return (IReadOnlyList<float>)row;
        }));

        string scoreName = score == ReconstructionScore.Mse ? "mean squared error" : "summed BCE";
        Console.WriteLine($"scored {split.Count} rows of {data.Description} ({split.Name}) by reconstruction {scoreName} with {spec.Kind}");
        Console.WriteLine(fixedThreshold
            ? $"threshold: {threshold.ToString("G6", CultureInfo.InvariantCulture)} (given)"
            : $"threshold: {threshold.ToString("G6", CultureInfo.InvariantCulture)} ({percentile.ToString(CultureInfo.InvariantCulture)}th percentile of {reference})");
        Console.WriteLine($"flagged: {flaggedCount} of {split.Count} rows ({(double)flaggedCount / split.Count:P1})");
        var worst = Enumerable.Range(0, split.Count).OrderByDescending(i => scores[i]).Take(5)
            .Select(i => $"{split.RowNumbers[i]} ({scores[i].ToString("G4", CultureInfo.InvariantCulture)})");
        Console.WriteLine($"highest scores: rows {string.Join(", ", worst)}");
        if (normal is { } n && split.Labels != null)
        {
            var isAnomaly = split.Labels.Select(l => l != n).ToArray();
            int anomalies = isAnomaly.Count(a => a);
            if (anomalies == 0 || anomalies == split.Count)
                Console.WriteLine($"AUROC: not defined, all {split.Count} rows are {(anomalies == 0 ? "normal" : "anomalies")} (normal label {n})");
            else
            {
                double auroc = AnomalyDetection.Auroc(scores, isAnomaly);
                int truePositives = Enumerable.Range(0, split.Count).Count(i => flagged[i] && isAnomaly[i]);
                double precision = flaggedCount == 0 ? 0 : (double)truePositives / flaggedCount;
                double recall = (double)truePositives / anomalies;
                Console.WriteLine($"AUROC: {auroc:F4} (anomaly = label other than {n}; {anomalies} anomalies, {split.Count - anomalies} normal rows)");
                Console.WriteLine($"flags: precision {precision:P1}, recall {recall:P1}");
                var (pcaAuroc, components, fittedOn) = PcaBaseline(spec.Latent, data, split, n, isAnomaly);
                Console.WriteLine($"PCA baseline: AUROC {pcaAuroc:F4} by the reconstruction error of {components} principal components (the latent size), fitted on {fittedOn}");
            }
        }
        else if (split.Labels != null)
            Console.WriteLine("AUROC: pass --normal-class C to score the labels (every other class = anomaly)");
        Console.WriteLine($"wrote {Outputs.Name(outPath)}");
        return 0;
    }

    /// <summary>The normal label: --normal-class (images), --normal-value or the most frequent label (tables with labels); null when unknown.</summary>
    private static int? NormalLabel(Args args, Dataset data, DataSplit split)
    {
        bool isTable = data.Columns != null;
        if (isTable && args.Has(NormalClass))
            throw new CliException("detect: --normal-class is for image data; for a CSV use --label-column COL with --normal-value V", 2);
        if (!isTable && args.Has(NormalValue))
            throw new CliException("detect: --normal-value is for CSV tables; for image data use --normal-class C", 2);
        if (!isTable) return args.Get(NormalClass);
        if (split.Labels == null)
        {
            if (args.Has(NormalValue)) throw new CliException("detect: --normal-value needs --label-column COL to know each row's label", 2);
            return null;
        }
        if (args.Get(NormalValue) is { } v)
        {
            if (!split.Labels.Contains(v))
                throw new CliException($"detect: --normal-value {v} does not occur in column {args.Get(CommonOptions.LabelColumn)}; labels are {string.Join(", ", split.Labels.Distinct().Order())}", 2);
            return v;
        }
        return split.Labels.GroupBy(l => l).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
    }

    /// <summary>
    /// AUROC of PCA's reconstruction error with as many components as the model's embedding, fitted on normal rows: the
    /// normal class of the training split for image data, the normal rows of the scored table for a CSV (which favours
    /// PCA: it has seen the normal rows it scores).
    /// </summary>
    private static (double Auroc, int Components, string FittedOn) PcaBaseline(int latent, Dataset data, DataSplit split, int normal, bool[] isAnomaly)
    {
        bool isTable = data.Columns != null;
        float[] source = isTable ? split.Rows : data.Train;
        int[]? labels = isTable ? split.Labels : data.TrainLabels;
        int sourceCount = isTable ? split.Count : data.TrainCount;
        var keep = Enumerable.Range(0, sourceCount).Where(i => labels == null || labels[i] == normal).ToArray();
        var rows = new float[keep.Length * data.Features];
        for (int i = 0; i < keep.Length; i++) Array.Copy(source, keep[i] * data.Features, rows, i * data.Features, data.Features);
        int components = Math.Clamp(latent, 1, data.Features);
        if (keep.Length < 2) return (double.NaN, components, $"{keep.Length} normal row (PCA needs 2)");
        var pca = Pca.Fit(rows, keep.Length, data.Features, components);
        double auroc = AnomalyDetection.Auroc(pca.ReconstructionErrors(split.Rows, split.Count), isAnomaly);
        return (auroc, components, isTable ? $"the {keep.Length} normal rows of the table" : $"the {keep.Length} training images of class {normal}");
    }

    private static double[] ReferenceScores(Models.Autoencoders.Autoencoder model, Dataset data, DataSplit split, double[] scores,
                                            int? normal, ReconstructionScore score, out string description)
    {
        if (data.Columns != null)
        {
            description = $"the {split.Count} scored rows";
            return scores;
        }
        var rows = data.Train;
        int count = data.TrainCount;
        if (normal is { } n && data.TrainLabels != null)
        {
            var keep = Enumerable.Range(0, data.TrainCount).Where(i => data.TrainLabels[i] == n).ToArray();
            rows = new float[keep.Length * data.Features];
            for (int i = 0; i < keep.Length; i++) Array.Copy(data.Train, keep[i] * data.Features, rows, i * data.Features, data.Features);
            count = keep.Length;
        }
        if (count == 0) throw new CliException($"detect: the training split has no rows of class {normal}; cannot set a threshold, pass --threshold X");
        description = normal is { } c ? $"{count} training scores of class {c}" : $"{count} training scores";
        return AnomalyDetection.Scores(model, rows, count, score);
    }
}
