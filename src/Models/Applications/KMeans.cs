namespace NeuralCore.Models.Applications;

/// <summary>The outcome of <see cref="KMeans.Fit"/>.</summary>
/// <param name="Assignments">The cluster 0..K-1 of each row, [count].</param>
/// <param name="Centroids">Cluster centres, [K, features].</param>
/// <param name="Inertia">Sum over rows of the squared distance to their centre (what k-means minimises).</param>
/// <param name="Iterations">Lloyd iterations of the best restart.</param>
public sealed record KMeansResult(int[] Assignments, float[] Centroids, double Inertia, int Iterations);

/// <summary>
/// k-means clustering: k-means++ seeding (each new centre drawn with probability proportional to its squared distance
/// from the nearest centre so far) followed by Lloyd's iterations, repeated from several seeded starts; the run with the
/// lowest inertia wins. Deterministic for a given seed.
/// </summary>
/// <example><code>
/// var result = KMeans.Fit(embeddings, count, latent, k: 10, restarts: 10, seed: 0);
/// double nmi = ClusterMetrics.NormalizedMutualInformation(labels, result.Assignments);
/// </code></example>
public static class KMeans
{
    /// <summary>Clusters <paramref name="rows"/> [count, features] into <paramref name="k"/> groups.</summary>
    /// <param name="rows">Row-major data.</param>
    /// <param name="count">Number of rows (at least <paramref name="k"/>).</param>
    /// <param name="features">Values per row.</param>
    /// <param name="k">Number of clusters, 1..count.</param>
    /// <param name="restarts">Independent k-means++ starts; the lowest inertia is kept.</param>
    /// <param name="seed">Seed of the k-means++ draws.</param>
    /// <param name="maxIterations">Lloyd iterations per start at most.</param>
    public static KMeansResult Fit(ReadOnlySpan<float> rows, int count, int features, int k, int restarts = 10, ulong seed = 0, int maxIterations = 300)
    {
        if (features < 1 || count < 1 || rows.Length < (long)count * features)
            throw new ArgumentException($"k-means: rows holds {rows.Length} values but [{count}, {features}] needs {(long)count * features}");
        if (k < 1 || k > count) throw new ArgumentOutOfRangeException(nameof(k), $"k-means: k must be between 1 and the number of rows ({count}), got {k}");
        ArgumentOutOfRangeException.ThrowIfLessThan(restarts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        var data = rows[..(count * features)].ToArray();
        var random = new SeededRandom(seed);
        KMeansResult? best = null;
        for (int run = 0; run < restarts; run++)
        {
            var result = Lloyd(data, count, features, k, PlusPlus(data, count, features, k, random), maxIterations);
            if (best is null || result.Inertia < best.Inertia) best = result;
        }
        return best!;
    }

    /// <summary>k-means++ seeding: the first centre uniformly, each next one with probability proportional to D(x)^2.</summary>
    private static float[] PlusPlus(float[] data, int count, int features, int k, SeededRandom random)
    {
        var centroids = new float[k * features];
        var nearest = new double[count];
        int first = random.NextInt(count);
        Array.Copy(data, first * features, centroids, 0, features);
        for (int i = 0; i < count; i++) nearest[i] = Distance(data, i, centroids, 0, features);
        for (int c = 1; c < k; c++)
        {
            double total = 0;
            foreach (double d in nearest) total += d;
            int chosen;
            if (total <= 0) chosen = random.NextInt(count);   // every row sits on a centre: any row will do
            else
            {
                double target = random.NextFloat() * total, sum = 0;
                chosen = count - 1;
                for (int i = 0; i < count; i++)
                {
                    sum += nearest[i];
                    if (sum > target) { chosen = i; break; }
                }
            }
            Array.Copy(data, chosen * features, centroids, c * features, features);
            for (int i = 0; i < count; i++) nearest[i] = Math.Min(nearest[i], Distance(data, i, centroids, c, features));
        }
        return centroids;
    }

    private static KMeansResult Lloyd(float[] data, int count, int features, int k, float[] centroids, int maxIterations)
    {
        var assignments = new int[count];
        Array.Fill(assignments, -1);
        var distances = new double[count];
        int iteration = 0;
        while (iteration < maxIterations)
        {
            iteration++;
            bool changed = false;
            Parallel.For(0, count, () => false, (i, _, anyChange) =>
            {
                int bestCluster = 0;
                double bestDistance = double.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    double d = Distance(data, i, centroids, c, features);
                    if (d < bestDistance) { bestDistance = d; bestCluster = c; }
                }
                distances[i] = bestDistance;
                if (assignments[i] == bestCluster) return anyChange;
                assignments[i] = bestCluster;
                return true;
            }, anyChange => { if (anyChange) changed = true; });
            if (!changed) break;
            UpdateCentroids(data, count, features, k, assignments, distances, centroids);
        }
        double inertia = 0;
        foreach (double d in distances) inertia += d;
        return new KMeansResult(assignments, centroids, inertia, iteration);
    }

    /// <summary>Each centre becomes the mean of its rows; an empty cluster takes the row farthest from its own centre.</summary>
    private static void UpdateCentroids(float[] data, int count, int features, int k, int[] assignments, double[] distances, float[] centroids)
    {
        var sums = new double[k * features];
        var sizes = new int[k];
        for (int i = 0; i < count; i++)
        {
            int c = assignments[i];
            sizes[c]++;
            for (int f = 0; f < features; f++) sums[c * features + f] += data[i * features + f];
        }
        for (int c = 0; c < k; c++)
        {
            if (sizes[c] == 0)
            {
                int farthest = 0;
                for (int i = 1; i < count; i++) if (distances[i] > distances[farthest]) farthest = i;
                Array.Copy(data, farthest * features, centroids, c * features, features);
                distances[farthest] = 0;   // a second empty cluster takes another row
                continue;
            }
            for (int f = 0; f < features; f++) centroids[c * features + f] = (float)(sums[c * features + f] / sizes[c]);
        }
    }

    private static double Distance(float[] data, int row, float[] centroids, int centroid, int features)
    {
        double sum = 0;
        int a = row * features, b = centroid * features;
        for (int f = 0; f < features; f++)
        {
            double d = data[a + f] - centroids[b + f];
            sum += d * d;
        }
        return sum;
    }
}
