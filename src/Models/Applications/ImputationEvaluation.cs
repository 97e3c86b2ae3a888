using NeuralCore.Models.Data;

namespace NeuralCore.Models.Applications;

/// <summary>Errors on deliberately hidden cells, in min-max scaled units (every column mapped to [0, 1]).</summary>
/// <param name="ImputerRmse">Root mean squared error of the autoencoder's fills.</param>
/// <param name="MeanRmse">The same for column-mean imputation (the baseline).</param>
/// <param name="HiddenCells">How many observed cells were hidden and scored.</param>
public readonly record struct ImputationScore(double ImputerRmse, double MeanRmse, int HiddenCells)
{
    /// <summary>The same for k-nearest-neighbour imputation (<see cref="KnnImputation"/>, k = 5), the standard baseline.</summary>
    public double KnnRmse { get; init; }

    /// <summary>KnnRmse / ImputerRmse: how many times smaller the imputer's error is than kNN's.</summary>
    public double ImprovementOverKnn => KnnRmse / Math.Max(ImputerRmse, 1e-30);

    /// <summary>MeanRmse / ImputerRmse: how many times smaller the imputer's error is.</summary>
    public double Improvement => MeanRmse / Math.Max(ImputerRmse, 1e-30);
}

/// <summary>
/// Measures imputation on cells whose true value is known: hides a seeded random fraction of the observed
/// cells, imputes them, and compares with the truth, with column-mean imputation and with k-nearest-neighbour imputation.
/// </summary>
/// <example><code>
/// var table = CsvTable.Read("data/wine.csv", dropColumns: ["class"]);
/// var score = ImputationEvaluation.Evaluate(new Imputer(new CpuBackend()), table.Values, table.Missing, table.ColumnCount, 0.2f, seed: 0);
/// Console.WriteLine($"imputer RMSE {score.ImputerRmse:F4}, mean RMSE {score.MeanRmse:F4}");
/// </code></example>
public static class ImputationEvaluation
{
    /// <summary>
    /// Hides round(<paramref name="fraction"/> x observed cells) observed cells of the table [rows, features] (chosen by
    /// <paramref name="seed"/>), imputes them with <paramref name="imputer"/>, with column means and with the 5 nearest rows, and returns the RMSEs
    /// after scaling every column to [0, 1] by the min and max of its originally observed values.
    /// </summary>
    /// <exception cref="ArgumentException">Fraction outside (0, 1), shapes disagree, or too few observed cells to hide one.</exception>
    public static ImputationScore Evaluate(Imputer imputer, ReadOnlySpan<float> values, ReadOnlySpan<bool> missing, int features, float fraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(imputer);
        if (!(fraction > 0f && fraction < 1f)) throw new ArgumentException($"evaluate: the fraction of cells to hide must be between 0 and 1 (exclusive), got {fraction}");
        if (missing.Length != values.Length) throw new ArgumentException($"evaluate: the missing mask has {missing.Length} cells but the table has {values.Length}");
        int[] hidden = ChooseHidden(missing, fraction, seed);
        if (hidden.Length == 0) throw new ArgumentException($"evaluate: hiding {fraction} of {CountObserved(missing)} observed cells hides none; use a larger table or fraction");

        var truth = values.ToArray();
        for (int i = 0; i < truth.Length; i++) if (missing[i]) truth[i] = float.NaN;
        var scaler = FeatureScaler.Fit(truth, features);

        var withHoles = missing.ToArray();
        foreach (int i in hidden) withHoles[i] = true;
        var filled = imputer.Impute(values, withHoles, features).Values;

        var remaining = (float[])truth.Clone();
        foreach (int i in hidden) remaining[i] = float.NaN;
        float[] means = Imputer.ColumnMeans(remaining, features);

        var knn = KnnImputation.Impute(values, withHoles, features, k: 5);

        double imputerSum = 0, meanSum = 0, knnSum = 0;
        foreach (int i in hidden)
        {
            int f = i % features;
            double range = scaler.Max[f] - scaler.Min[f];
            if (range <= 0) continue;   // a constant column scales to 0 everywhere: no error either way
            double t = truth[i];
            imputerSum += Square((filled[i] - t) / range);
            meanSum += Square((means[f] - t) / range);
            knnSum += Square((knn[i] - t) / range);
        }
        return new ImputationScore(Math.Sqrt(imputerSum / hidden.Length), Math.Sqrt(meanSum / hidden.Length), hidden.Length)
        {
            KnnRmse = Math.Sqrt(knnSum / hidden.Length),
        };
    }

    /// <summary>Indices of round(fraction x observed) observed cells, chosen by a seeded shuffle.</summary>
    public static int[] ChooseHidden(ReadOnlySpan<bool> missing, float fraction, ulong seed)
    {
        var candidates = new List<int>();
        for (int i = 0; i < missing.Length; i++) if (!missing[i]) candidates.Add(i);
        var order = candidates.ToArray();
        SeededRandom.ForStream(seed, RandomStream.HiddenCells).Shuffle(order);
        int count = (int)Math.Round(fraction * order.Length);
        var chosen = order[..count];
        Array.Sort(chosen);
        return chosen;
    }

    private static int CountObserved(ReadOnlySpan<bool> missing)
    {
        int n = 0;
        foreach (bool m in missing) if (!m) n++;
        return n;
    }

    private static double Square(double x) => x * x;
}
