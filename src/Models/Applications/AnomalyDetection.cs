using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Applications;

/// <summary>How a row's reconstruction error is measured.</summary>
public enum ReconstructionScore
{
    /// <summary>Binary cross-entropy summed over the row's features (logs clamped at -100, like the training loss); needs values in [0, 1].</summary>
    Bce,
    /// <summary>Mean squared error over the row's features.</summary>
    Mse,
}

/// <summary>
/// Anomaly detection by reconstruction error: an autoencoder trained on normal data rebuilds normal rows well
/// and unusual rows badly, so the per-row reconstruction error is an anomaly score. A threshold at a
/// percentile of the scores of normal (training) rows flags the rest; AUROC measures the ranking against
/// known labels without any threshold.
/// </summary>
/// <example>
/// <code>
/// double[] train = AnomalyDetection.Scores(model, trainRows, trainCount, ReconstructionScore.Mse);
/// double threshold = AnomalyDetection.Percentile(train, 99);          // flags ~1% of normal rows
/// double[] test = AnomalyDetection.Scores(model, testRows, testCount, ReconstructionScore.Mse);
/// double auroc = AnomalyDetection.Auroc(test, isAnomaly);             // 1 = perfect, 0.5 = chance
/// </code>
/// </example>
public static class AnomalyDetection
{
    /// <summary>The reconstruction error of each row of <paramref name="rows"/> [count, features] under <paramref name="model"/>: [count].</summary>
    public static double[] Scores(Autoencoder model, float[] rows, int count, ReconstructionScore score, int batchSize = 500)
    {
        var reconstructions = Features.Reconstruct(model, rows, count, batchSize);
        return Scores(rows, reconstructions, count, model.Spec.InputFeatures, score);
    }

    /// <summary>Per-row error between <paramref name="rows"/> and <paramref name="reconstructions"/>, both [count, features]: [count].</summary>
    public static double[] Scores(ReadOnlySpan<float> rows, ReadOnlySpan<float> reconstructions, int count, int features, ReconstructionScore score)
    {
        if (rows.Length < (long)count * features || reconstructions.Length < (long)count * features)
            throw new ArgumentException($"scores: expected rows and reconstructions [{count}, {features}], got {rows.Length} and {reconstructions.Length} values");
        var result = new double[count];
        for (int r = 0; r < count; r++)
        {
            var x = rows.Slice(r * features, features);
            var y = reconstructions.Slice(r * features, features);
            double s = 0;
            if (score == ReconstructionScore.Mse)
            {
                for (int f = 0; f < features; f++) { double d = y[f] - x[f]; s += d * d; }
                s /= features;
            }
            else
            {
                for (int f = 0; f < features; f++)
                    s -= x[f] * Math.Max(Math.Log(y[f]), -100) + (1 - x[f]) * Math.Max(Math.Log(1 - y[f]), -100);
            }
            result[r] = s;
        }
        return result;
    }

    /// <summary>
    /// The <paramref name="percentile"/>-th percentile (0..100) of <paramref name="values"/>, interpolating linearly
    /// between the two nearest ranks (NumPy's default), e.g. percentile 99 of the training scores as a threshold.
    /// </summary>
    public static double Percentile(ReadOnlySpan<double> values, double percentile)
    {
        if (values.Length == 0) throw new ArgumentException("percentile of an empty set of scores");
        if (!(percentile >= 0 && percentile <= 100)) throw new ArgumentOutOfRangeException(nameof(percentile), $"percentile must be between 0 and 100, got {percentile}");
        var sorted = values.ToArray();
        Array.Sort(sorted);
        double position = percentile / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }

    /// <summary>
    /// Area under the ROC curve of <paramref name="scores"/> (higher = more anomalous) against
    /// <paramref name="isAnomaly"/>: the probability that a random anomaly scores above a random normal row.
    /// Computed from ranks (Mann-Whitney U); tied scores share their average rank, so they count one half.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, or the labels hold only one class.</exception>
    public static double Auroc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> isAnomaly)
    {
        if (scores.Length != isAnomaly.Length)
            throw new ArgumentException($"AUROC: {scores.Length} scores but {isAnomaly.Length} labels");
        long positives = 0;
        foreach (bool a in isAnomaly) if (a) positives++;
        long negatives = scores.Length - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"AUROC needs both normal and anomalous rows; got {positives} anomalies and {negatives} normal rows");
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        double positiveRankSum = 0;
        for (int i = 0; i < keys.Length;)
        {
            int j = i;
            while (j + 1 < keys.Length && keys[j + 1] == keys[i]) j++;
            double averageRank = (i + j) / 2.0 + 1;   // ranks are 1-based
            for (int k = i; k <= j; k++) if (isAnomaly[order[k]]) positiveRankSum += averageRank;
            i = j + 1;
        }
        double u = positiveRankSum - positives * (positives + 1) / 2.0;
        return u / ((double)positives * negatives);
    }
}
