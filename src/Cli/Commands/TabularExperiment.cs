using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;

namespace NeuralCore.Cli.Commands;

/// <summary>
/// <c>neuralcore experiment tabular</c>: anomaly detection (autoencoder vs PCA) and imputation (autoencoder vs kNN) over
/// a set of real tables, per table and on average.
/// </summary>
internal static class TabularExperiment
{
    /// <summary>The bundled tables (data/README.md has their sources and licences).</summary>
    public static readonly string[] BundledTables = ["wine.csv", "breast-cancer.csv", "iris.csv", "digits.csv", "glass.csv", "sonar.csv", "vehicle.csv"];

    /// <summary>The imputer's hidden layers here: wider than `impute`'s default 64, 64, which measured level with kNN (docs/applications.md).</summary>
    private static readonly int[] ImputerHidden = [128, 128];

    private static readonly Option<string[]> Tables = CliOption.StringList("--tables",
        "comma-separated CSV files, each with a label column (default: the seven bundled tables, data/README.md)", "FILES");
    private static readonly Option<string> LabelColumn = CliOption.String("--label-column", "the column holding each row's class", "COL", "class");
    private static readonly Option<int> Repeats = CliOption.Int("--repeats", "seeds per table (seed, seed + 1, ...); figures are their means", 1, 1, 100);
    private static readonly Option<float> Fraction = CliOption.Float("--fraction", "imputation: share of the observed cells hidden and scored", 0.2f, 0.01f, 0.9f, "F");
    private static readonly Option<int> Ensemble = CliOption.Int("--ensemble", "models per detector and per imputer (seeds averaged)", 3, 1, 50);
    private static readonly Option<string> Score = CliOption.Choice("--score",
        "the detector's score: robust (per-feature error over its median on normal rows) | mse", "NAME", ["robust", "mse"],
        (command, name) => $"{command}: --score must be robust or mse, got '{name}'", "mse");

    public static CliCommand Create() => new CliCommand("tabular", "detection (AE vs PCA) and imputation (AE vs kNN) across real tables", Run)
    {
        Title = "the applications on small real tables, beside the classical baselines",
        Usage = ["[--tables A.csv,B.csv] [--label-column class] [--repeats N] [--seed N]"],
        Notes = """
            detection, per table and per class c with at least 8 rows: the rows of c are normal, a seeded half of them trains
            the detector (TabularDetector: standardised by those rows, latent size = principal components explaining 99%
            of their variance, at most half the rows, one tanh hidden layer, 20% of them held out for early stopping (a
            different 20% for each seed), AdamW weight decay, an ensemble of --ensemble seeds, mean squared error
            score); the other half and every row of the other classes (the anomalies) are scored. PCA with as many
            components, fitted on the same standardised rows and scored by squared reconstruction error, is the baseline. The table's AUROC is the mean over its classes.
            imputation: the label column is left out, --fraction of the observed cells are hidden (seeded) and imputed by the
            denoising autoencoder (Imputer with hidden layers 128, 128, an ensemble of --ensemble seeds) and by kNN
            (k = 5); RMSE in min-max scaled units.
            prints both per table, their means over tables, and the ratios.
            """,
    }.With([Tables, LabelColumn, Repeats, Fraction, Ensemble, Score, CommonOptions.Seed, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string[] tables = args.Get(Tables) is { Length: > 0 } given ? given : BundledTables.Select(BundledData.Find).ToArray();
        string labelColumn = args.Get(LabelColumn);
        int repeats = args.Get(Repeats), ensemble = args.Get(Ensemble);
        float fraction = args.Get(Fraction);
        bool robust = args.Get(Score) == "robust";
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        var backend = Devices.Open(args);
        var loaded = tables.Select(path => Load(path, labelColumn)).ToList();

        var clock = Stopwatch.StartNew();
        Console.WriteLine($"{loaded.Count} tables, {repeats} seed(s) from {seed}; detector ensemble {ensemble}, score {(robust ? "robust" : "mse")}; imputation hides {fraction:P0} of the cells");
        Console.WriteLine($"{"table",-22} {"rows",5} {"cols",4} {"latent",6}  {"AE AUROC",8} {"PCA AUROC",9}  {"AE RMSE",8} {"kNN RMSE",8} {"AE/kNN",6}");
        var results = new List<(double Ae, double Pca, double AeRmse, double KnnRmse)>();
        foreach (var table in loaded)
        {
            double ae = 0, pca = 0, aeRmse = 0, knnRmse = 0;
            string latents = "";
            for (int repeat = 0; repeat < repeats; repeat++)
            {
                ulong s = seed + (ulong)repeat;
                var detection = Detect(backend, table, s, ensemble, robust);
                ae += detection.Ae / repeats;
                pca += detection.Pca / repeats;
                latents = detection.Latents;
                var imputation = ImputationEvaluation.Evaluate(new Imputer(backend, new ImputerOptions { Seed = s, Ensemble = ensemble, Hidden = ImputerHidden }),
                    table.Values, table.Missing, table.ColumnCount, fraction, s);
                aeRmse += imputation.ImputerRmse / repeats;
                knnRmse += imputation.KnnRmse / repeats;
            }
            results.Add((ae, pca, aeRmse, knnRmse));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(table.SourcePath),-22} {table.RowCount,5} {table.ColumnCount,4} {latents,6}  {ae,8:F4} {pca,9:F4}  {aeRmse,8:F4} {knnRmse,8:F4} {aeRmse / knnRmse,6:F3}"));
        }
        double meanAe = results.Average(r => r.Ae), meanPca = results.Average(r => r.Pca);
        double meanAeRmse = results.Average(r => r.AeRmse), meanKnn = results.Average(r => r.KnnRmse);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"mean",-22} {"",5} {"",4} {"",6}  {meanAe,8:F4} {meanPca,9:F4}  {meanAeRmse,8:F4} {meanKnn,8:F4} {meanAeRmse / meanKnn,6:F3}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"detection: AE - PCA = {meanAe - meanPca:+0.0000;-0.0000} AUROC on average, AE >= PCA on {results.Count(r => r.Ae >= r.Pca)} of {results.Count} tables; " +
            $"imputation: AE RMSE = {meanAeRmse / meanKnn:F3}x kNN's on average, AE <= kNN on {results.Count(r => r.AeRmse <= r.KnnRmse)} of {results.Count} tables; {clock.Elapsed.TotalSeconds:F0} s"));
        return 0;
    }

    private static CsvTable Load(string path, string labelColumn)
    {
        try { return CsvTable.Read(path, labelColumn: labelColumn); }
        catch (FileNotFoundException) { throw new CliException($"--tables: {path}: file not found"); }
        catch (DataFormatException e) { throw new CliException(e.Message); }
    }

    /// <summary>Mean AUROC over the table's classes (each normal in turn) of the detector and of PCA; the latent sizes used.</summary>
    private static (double Ae, double Pca, string Latents) Detect(Kernels.IBackend backend, CsvTable table, ulong seed, int ensemble, bool robust)
    {
        int f = table.ColumnCount;
        var labels = table.Labels!.Select(l => (int)l).ToArray();
        float[] values = table.Values;
        if (table.MissingCount > 0) throw new CliException($"{table.SourcePath}: has {table.MissingCount} empty cells; the detection protocol needs complete rows");
        var classes = labels.GroupBy(l => l).Where(g => g.Count() >= 8).Select(g => g.Key).Order().ToArray();
        if (classes.Length == 0 || classes.Length == labels.Distinct().Count() && classes.Length < 2)
            throw new CliException($"{table.SourcePath}: needs at least two classes with 8 or more rows in the label column to measure detection");
        double ae = 0, pca = 0;
        var latents = new SortedSet<int>();
        foreach (int normal in classes)
        {
            var normalRows = Enumerable.Range(0, labels.Length).Where(i => labels[i] == normal).ToArray();
            SeededRandom.ForStream(seed + (ulong)normal * 1000, RandomStream.DataSplit).Shuffle(normalRows);
            int trainCount = normalRows.Length / 2;
            var trainRows = normalRows[..trainCount];
            var testRows = normalRows[trainCount..].Concat(Enumerable.Range(0, labels.Length).Where(i => labels[i] != normal)).ToArray();
            float[] train = Gather(values, trainRows, f), test = Gather(values, testRows, f);
            var isAnomaly = testRows.Select(i => labels[i] != normal).ToArray();

            var detector = TabularDetector.Fit(backend, train, trainCount, f, new TabularDetectorOptions { Seed = seed, Ensemble = ensemble, RobustScore = robust });
            ae += AnomalyDetection.Auroc(detector.Scores(test, testRows.Length), isAnomaly);
            latents.Add(detector.Latent);

            var (mean, std) = TabularDetector.Standardisation(train, trainCount, f);
            var model = Pca.Fit(TabularDetector.Standardise(train, mean, std), trainCount, f, detector.Latent, seed);
            pca += AnomalyDetection.Auroc(model.ReconstructionErrors(TabularDetector.Standardise(test, mean, std), testRows.Length), isAnomaly);
        }
        return (ae / classes.Length, pca / classes.Length, latents.Count == 1 ? latents.Min.ToString(CultureInfo.InvariantCulture) : $"{latents.Min}-{latents.Max}");
    }

    private static float[] Gather(float[] values, int[] rows, int features)
    {
        var result = new float[rows.Length * features];
        for (int i = 0; i < rows.Length; i++) Array.Copy(values, rows[i] * features, result, i * features, features);
        return result;
    }
}
