using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;

namespace NeuralCore.Cli;

/// <summary>Rows ready for a model: train and test splits [count, features] in [0, 1], with labels when known.</summary>
internal sealed class Dataset
{
    public required string Description { get; init; }
    public required float[] Train { get; init; }
    public required int TrainCount { get; init; }
    public required float[] Test { get; init; }
    public required int TestCount { get; init; }
    public required int Features { get; init; }
    /// <summary>[channels, height, width] for image data.</summary>
    public int[]? ImageShape { get; init; }
    public int[]? TrainLabels { get; init; }
    public int[]? TestLabels { get; init; }
    /// <summary>Feature names of a table.</summary>
    public string[]? Columns { get; init; }
    public FeatureScaler? Scaler { get; init; }
    /// <summary>Original row numbers (in the file) of the test rows, for tables.</summary>
    public int[]? TestRowNumbers { get; init; }
}

/// <summary>Loads --data: "mnist" (the bundled MNIST-10k), a directory of IDX files, or a CSV table.</summary>
internal static class DataSource
{
    /// <summary>
    /// --data, --drop and --label-column. Without --data, a saved model's own training data is used: its IDX directory,
    /// or its CSV table with the columns it was not trained on dropped (unless --drop is given).
    /// </summary>
    public static Dataset Load(Args args, ModelSpec? spec = null, ulong seed = 0)
    {
        string? trainedOn = spec?.Data;
        bool trainedOnTable = trainedOn != null && trainedOn.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        if (!args.Has(CommonOptions.Data) && trainedOn != null && spec!.DataSha256 != null) RequireUnchanged(trainedOn, spec.DataSha256);
        string source = args.Get(CommonOptions.Data) ?? (trainedOn != null && !trainedOnTable ? trainedOn : "mnist");
        var drop = args.Get(CommonOptions.Drop);
        string? labelColumn = args.Get(CommonOptions.LabelColumn);
        if (!args.Has(CommonOptions.Data) && trainedOnTable && spec!.Columns != null)
        {
            if (!File.Exists(trainedOn))
                throw new CliException($"--data not given, and the table the model was trained on ({trainedOn}) is gone; pass --data FILE.csv");
            if (!args.Has(CommonOptions.Drop))
                drop = CsvTable.ReadHeader(trainedOn!).Where(c => c != labelColumn && !spec.Columns.Contains(c)).ToArray();
            source = trainedOn!;
        }
        return Load(source, drop, labelColumn, spec, seed);
    }

    /// <summary>What a model records as its data: "mnist" as it is, a file or directory by its absolute path.</summary>
    public static string AbsoluteSource(string source) => source == "mnist" || !Path.Exists(source) ? source : Path.GetFullPath(source);

    /// <summary>SHA-256 of the data <paramref name="source"/> names ("mnist": the bundled files).</summary>
    public static string Fingerprint(string source) => DataFingerprint.Sha256(source == "mnist"
        ? MnistDataset.FindBundledDirectory() ?? throw new CliException("bundled MNIST not found; pass --data DIR")
        : source);

    /// <summary>
    /// Refuses to go on with the data a model or checkpoint recorded when it is no longer what was trained on: a command
    /// that defaults to it would otherwise report figures for other rows as if they were the model's own.
    /// </summary>
    public static void RequireUnchanged(string source, string expectedSha256,
        string what = "--data not given, so the model's training data is used, but",
        string fix = "restore the original data, or pass --data explicitly to use the file as it is now")
    {
        if (source != "mnist" && !Path.Exists(source)) return;   // reported as missing where it is loaded
        string actual = Fingerprint(source);
        if (actual != expectedSha256)
            throw new CliException($"{what} {source} has changed since training (SHA-256 {expectedSha256[..Math.Min(12, expectedSha256.Length)]}..., now {actual[..12]}...); " +
                                   fix);
    }

    public static Dataset Load(string source, string[] drop, string? labelColumn, ModelSpec? spec, ulong seed)
    {
        if (source == "mnist" || Directory.Exists(source))
        {
            MnistDataset mnist;
            try
            {
                mnist = source == "mnist" ? MnistDataset.LoadBundled() : MnistDataset.Load(source);
            }
            catch (DirectoryNotFoundException e) { throw new CliException(e.Message); }
            catch (FileNotFoundException e) { throw new CliException(e.Message.StartsWith(source, StringComparison.Ordinal) ? e.Message : $"{source}: {e.Message}"); }
            var tr = mnist.TrainImages;
            var te = mnist.TestImages;
            var ds = new Dataset
            {
                Description = source == "mnist" ? "mnist" : source,
                Train = tr.Pixels, TrainCount = tr.Count, Test = te.Pixels, TestCount = te.Count,
                Features = tr.Rows * tr.Cols, ImageShape = [1, tr.Rows, tr.Cols],
                TrainLabels = mnist.TrainLabels.Select(b => (int)b).ToArray(),
                TestLabels = mnist.TestLabels.Select(b => (int)b).ToArray(),
            };
            if (spec != null && spec.InputFeatures != ds.Features)
                throw new CliException($"{source}: images have {ds.Features} pixels but the model expects {spec.InputFeatures} features");
            return ds;
        }
        if (!File.Exists(source))
            throw new CliException($"--data {source}: file not found; pass mnist, a directory of IDX files, or a CSV file");
        if (!source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            // maybe a single IDX file given by mistake, or some other file
            throw new CliException($"--data {source}: not a CSV file (expected a .csv table) and not a directory of MNIST IDX files");
        }
        var table = CsvTable.Read(source, drop, labelColumn);
        return FromTable(table, spec, seed);
    }

    /// <summary>Largest label kept exactly: float32 holds every whole number up to 2^24, and no further.</summary>
    private const int MaxExactLabel = 1 << 24;

    /// <summary>
    /// Labels name classes (--normal-value, the colours of a plot, the label column of scores.csv): a label of 0.5 or
    /// 1e20 would silently become another class, so a label column must hold whole numbers a float holds exactly.
    /// </summary>
    private static void RequireWholeLabels(CsvTable table)
    {
        var labels = table.Labels!;
        for (int r = 0; r < labels.Length; r++)
        {
            float label = labels[r];
            if (label != MathF.Round(label) || Math.Abs(label) > MaxExactLabel)
                throw new CliException($"{table.SourcePath}: label column '{table.LabelColumn}' holds {label.ToString(System.Globalization.CultureInfo.InvariantCulture)} in data row {r + 1}; " +
                                       $"labels are classes and must be whole numbers between -{MaxExactLabel} and {MaxExactLabel} (map other values to class numbers first)");
        }
    }

    /// <summary>Scales a table (fitting the scaler unless the model has one) and splits 80/20 by <paramref name="seed"/>.</summary>
    public static Dataset FromTable(CsvTable table, ModelSpec? spec, ulong seed)
    {
        var columns = table.ColumnNames.ToArray();
        if (spec != null)
        {
            if (spec.Columns == null)
                throw new CliException($"{table.SourcePath}: the model was trained on images, not on a table; pass --data mnist");
            if (!spec.Columns.SequenceEqual(columns))
                throw new CliException($"{table.SourcePath}: columns [{string.Join(", ", columns)}] do not match the model's [{string.Join(", ", spec.Columns)}]; use --drop to remove extra columns");
        }
        int n = table.RowCount, f = columns.Length;
        var scaler = spec?.Scaler ?? FeatureScaler.Fit(table.Values, f);
        var values = scaler.Transformed(table.Values);
        // missing cells: the column's mean of observed (scaled) values
        var means = new float[f];
        for (int c = 0; c < f; c++)
        {
            double s = 0; int k = 0;
            for (int r = 0; r < n; r++) if (!float.IsNaN(values[r * f + c])) { s += values[r * f + c]; k++; }
            means[c] = k > 0 ? (float)(s / k) : 0.5f;
        }
        for (int i = 0; i < values.Length; i++) if (float.IsNaN(values[i])) values[i] = means[i % f];

        var order = Enumerable.Range(0, n).ToArray();
        SeededRandom.ForStream(seed, RandomStream.DataSplit).Shuffle(order);
        int testCount = spec == null ? Math.Max(1, n / 5) : n;   // evaluating a model: all rows are test rows
        if (n < 2 && spec == null) throw new CliException($"{table.SourcePath}: needs at least 2 rows to train, found {n}");
        var testRows = spec == null ? order.Take(testCount).Order().ToArray() : Enumerable.Range(0, n).ToArray();
        var trainRows = spec == null ? order.Skip(testCount).Order().ToArray() : Array.Empty<int>();
        float[] Gather(int[] rows)
        {
            var result = new float[rows.Length * f];
            for (int i = 0; i < rows.Length; i++) Array.Copy(values, rows[i] * f, result, i * f, f);
            return result;
        }
        if (table.Labels != null) RequireWholeLabels(table);
        int[]? Labels(int[] rows) => table.Labels == null ? null : rows.Select(r => (int)table.Labels[r]).ToArray();
        return new Dataset
        {
            Description = table.SourcePath,
            Train = Gather(trainRows), TrainCount = trainRows.Length,
            Test = Gather(testRows), TestCount = testRows.Length,
            Features = f, Columns = columns, Scaler = scaler,
            TrainLabels = Labels(trainRows), TestLabels = Labels(testRows), TestRowNumbers = testRows,
        };
    }
}
