using NeuralCore.Models.Data;

namespace NeuralCore.Models.Applications;

/// <summary>
/// k-nearest-neighbour imputation, the standard baseline (as scikit-learn's <c>KNNImputer</c>): every missing cell
/// becomes the mean of that column over the <c>k</c> rows nearest to its row among the rows where the column is
/// observed. Distances are Euclidean over the columns observed in both rows, scaled up by (columns / shared columns)
/// (the "NaN-Euclidean" distance), after min-max scaling every column by its observed values so that no column's units
/// dominate. A row that shares no observed column with any donor gets the column mean.
/// </summary>
/// <example><code>
/// float[] filled = KnnImputation.Impute(table.Values, table.Missing, table.ColumnCount, k: 5);
/// </code></example>
public static class KnnImputation
{
    /// <summary>The table [rows, features] with every missing cell filled (observed cells copied unchanged).</summary>
    public static float[] Impute(ReadOnlySpan<float> values, ReadOnlySpan<bool> missing, int features, int k = 5)
    {
        if (features < 1 || values.Length == 0 || values.Length % features != 0)
            throw new ArgumentException($"kNN imputation: expected values [rows, {features}], got {values.Length} values");
        if (missing.Length != values.Length)
            throw new ArgumentException($"kNN imputation: the missing mask has {missing.Length} cells but the table has {values.Length}");
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int rows = values.Length / features;
        var scaled = values.ToArray();
        for (int i = 0; i < scaled.Length; i++) if (missing[i]) scaled[i] = float.NaN;
        var scaler = FeatureScaler.Fit(scaled, features);
        scaler.Transform(scaled);
        float[] means = Imputer.ColumnMeans(scaled, features);
        var mask = missing.ToArray();

        var result = values.ToArray();
        var distances = new double[rows];
        var candidates = new List<int>();
        for (int r = 0; r < rows; r++)
        {
            bool any = false;
            for (int c = 0; c < features; c++) any |= mask[r * features + c];
            if (!any) continue;
            for (int other = 0; other < rows; other++) distances[other] = other == r ? double.NaN : Distance(scaled, mask, r, other, features);
            for (int c = 0; c < features; c++)
            {
                if (!mask[r * features + c]) continue;
                candidates.Clear();
                for (int other = 0; other < rows; other++)
                    if (!mask[other * features + c] && !double.IsNaN(distances[other])) candidates.Add(other);
                double fill;
                if (candidates.Count == 0) fill = means[c];
                else
                {
                    // the k smallest distances; ties broken by row order, so the result does not depend on the sort
                    var nearest = candidates.OrderBy(o => distances[o]).ThenBy(o => o).Take(k);
                    double sum = 0; int n = 0;
                    foreach (int o in nearest) { sum += scaled[o * features + c]; n++; }
                    fill = sum / n;
                }
                result[r * features + c] = (float)(scaler.Min[c] + fill * (scaler.Max[c] - scaler.Min[c]));
            }
        }
        return result;
    }

    /// <summary>NaN-Euclidean distance over the columns observed in both rows; NaN when they share none.</summary>
    private static double Distance(float[] scaled, bool[] missing, int a, int b, int features)
    {
        double sum = 0;
        int shared = 0;
        for (int c = 0; c < features; c++)
        {
            if (missing[a * features + c] || missing[b * features + c]) continue;
            double d = scaled[a * features + c] - scaled[b * features + c];
            sum += d * d;
            shared++;
        }
        return shared == 0 ? double.NaN : Math.Sqrt(sum * features / shared);
    }
}
