using System.Globalization;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore detect</c>: anomaly scores by reconstruction error, a percentile threshold, and AUROC when labels are known.</summary>
internal static class DetectCommand
{
    public const string Help = """
        neuralcore detect - anomaly detection by reconstruction error

        usage: neuralcore detect --model DIR [--data SOURCE] [--out FILE.csv] [--percentile 99] [--normal-class C]
               neuralcore detect --model DIR --data FILE.csv --label-column COL [--normal-value V] [--drop COLS]

          --model DIR         a directory written by `neuralcore train` (trained on normal data)
          --data SOURCE       mnist, a directory of IDX files, or FILE.csv (all rows scored); default: the data the
                              model was trained on (for a table: its file, minus the columns the model does not use)
            --drop COLS         CSV: columns to ignore (as in training)
            --label-column COL  CSV: a column of labels; anomaly = label differs from the normal value
            --normal-value V    CSV: the normal label (default: the most frequent label)
          --normal-class C    image data: the normal digit; every other digit counts as an anomaly
          --split NAME        image data: split to score, test (default) | train
          --score NAME        mse (default; measured better on MNIST) | bce: per-row reconstruction error
          --percentile P      threshold = the P-th percentile (0..100) of the reference scores (default 99)
          --threshold X       use this threshold instead of a percentile
          --out FILE.csv      columns row, score, flagged (1 above the threshold), label when known (default DIR/scores.csv)
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)

        reference scores for the threshold: image data - the training split (only the --normal-class digit when
        given); a CSV table - its own rows (the threshold then flags the top 100 - P percent).
        prints the threshold, how many rows are flagged, and with labels the AUROC and the precision and recall
        of the flags.
        """;

    public static int Run(CommandLine cl)
    {
        string dir = cl.Required("model");
        var backend = Devices.Open(cl);
        var spec = ModelStore.LoadSpec(dir);
        var data = DataSource.Load(cl, spec);
        var split = DataSplit.Select(cl, data);
        string outPath = cl.String("out", Path.Combine(dir, "scores.csv"))!;
        double percentile = cl.Float("percentile", 99f, 0f, 100f);
        bool fixedThreshold = cl.Has("threshold");
        double threshold = cl.Float("threshold", 0f);
        var score = cl.Score();
        int? normal = NormalLabel(cl, data, split);
        cl.RejectUnknown();
        if (fixedThreshold && cl.Has("percentile"))
            throw new CliException("detect: give either --percentile or --threshold, not both", 2);

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
            }
        }
        else if (split.Labels != null)
            Console.WriteLine("AUROC: pass --normal-class C to score the labels (every other class = anomaly)");
        Console.WriteLine($"wrote {outPath}");
        return 0;
    }

    /// <summary>The normal label: --normal-class (images), --normal-value or the most frequent label (tables with labels); null when unknown.</summary>
    private static int? NormalLabel(CommandLine cl, Dataset data, DataSplit split)
    {
        bool isTable = data.Columns != null;
        if (isTable && cl.Has("normal-class"))
            throw new CliException("detect: --normal-class is for image data; for a CSV use --label-column COL with --normal-value V", 2);
        if (!isTable && cl.Has("normal-value"))
            throw new CliException("detect: --normal-value is for CSV tables; for image data use --normal-class C", 2);
        if (!isTable) return cl.Has("normal-class") ? cl.Int("normal-class", 0, 0, 9) : null;
        if (split.Labels == null)
        {
            if (cl.Has("normal-value")) throw new CliException("detect: --normal-value needs --label-column COL to know each row's label", 2);
            return null;
        }
        if (cl.Has("normal-value"))
        {
            int v = cl.Int("normal-value", 0);
            if (!split.Labels.Contains(v))
                throw new CliException($"detect: --normal-value {v} does not occur in column {cl.String("label-column")}; labels are {string.Join(", ", split.Labels.Distinct().Order())}", 2);
            return v;
        }
        return split.Labels.GroupBy(l => l).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
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
