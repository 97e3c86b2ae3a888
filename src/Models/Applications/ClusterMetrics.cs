namespace NeuralCore.Models.Applications;

/// <summary>
/// Agreement between a clustering and known labels, both invariant to how the clusters are numbered:
/// normalised mutual information (1 = the same partition, about 0 = independent) and the adjusted Rand index
/// (1 = the same partition, 0 = what random assignments with these cluster sizes score on average).
/// </summary>
/// <example><code>
/// double nmi = ClusterMetrics.NormalizedMutualInformation([0, 0, 1, 1], [0, 0, 1, 2]);   // 0.8
/// double ari = ClusterMetrics.AdjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]);              // 4/7
/// </code></example>
public static class ClusterMetrics
{
    /// <summary>
    /// Mutual information of the two partitions divided by the arithmetic mean of their entropies (scikit-learn's default
    /// normalisation); 1 when both put everything in one group.
    /// </summary>
    public static double NormalizedMutualInformation(ReadOnlySpan<int> labels, ReadOnlySpan<int> clusters)
    {
        var (table, rowSums, columnSums, n) = Contingency(labels, clusters);
        double hLabels = Entropy(rowSums, n), hClusters = Entropy(columnSums, n);
        if (hLabels == 0 && hClusters == 0) return 1;
        double mutual = 0;
        foreach (var ((row, column), count) in table)
            mutual += (double)count / n * Math.Log((double)count * n / ((double)rowSums[row] * columnSums[column]));
        double result = mutual / ((hLabels + hClusters) / 2);
        return Math.Clamp(result, 0, 1);
    }

    /// <summary>The Rand index (share of row pairs both partitions treat alike) corrected for chance (Hubert and Arabie).</summary>
    public static double AdjustedRandIndex(ReadOnlySpan<int> labels, ReadOnlySpan<int> clusters)
    {
        var (table, rowSums, columnSums, n) = Contingency(labels, clusters);
        double pairs = 0, rowPairs = 0, columnPairs = 0;
        foreach (long count in table.Values) pairs += Pairs(count);
        foreach (long count in rowSums.Values) rowPairs += Pairs(count);
        foreach (long count in columnSums.Values) columnPairs += Pairs(count);
        double expected = rowPairs * columnPairs / Pairs(n);
        double maximum = (rowPairs + columnPairs) / 2;
        if (maximum == expected) return 1;   // both partitions trivial (one group each, or all singletons)
        return (pairs - expected) / (maximum - expected);
    }

    private static (Dictionary<(int, int), long> Table, Dictionary<int, long> RowSums, Dictionary<int, long> ColumnSums, long N) Contingency(
        ReadOnlySpan<int> labels, ReadOnlySpan<int> clusters)
    {
        if (labels.Length != clusters.Length)
            throw new ArgumentException($"cluster metrics: {labels.Length} labels but {clusters.Length} cluster assignments");
        if (labels.Length == 0) throw new ArgumentException("cluster metrics need at least one row");
        var table = new Dictionary<(int, int), long>();
        var rowSums = new Dictionary<int, long>();
        var columnSums = new Dictionary<int, long>();
        for (int i = 0; i < labels.Length; i++)
        {
            table[(labels[i], clusters[i])] = table.GetValueOrDefault((labels[i], clusters[i])) + 1;
            rowSums[labels[i]] = rowSums.GetValueOrDefault(labels[i]) + 1;
            columnSums[clusters[i]] = columnSums.GetValueOrDefault(clusters[i]) + 1;
        }
        return (table, rowSums, columnSums, labels.Length);
    }

    private static double Entropy(Dictionary<int, long> sizes, long n)
    {
        double h = 0;
        foreach (long size in sizes.Values) { double p = (double)size / n; h -= p * Math.Log(p); }
        return h;
    }

    private static double Pairs(long count) => count * (count - 1) / 2.0;
}
