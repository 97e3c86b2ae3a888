namespace NeuralCore.Models.Applications;

/// <summary>
/// The nearest-centroid classifier: each class is represented by the mean of its training rows, and a row is
/// given the class whose mean is closest in Euclidean distance. It has no parameters to tune, so it measures
/// how well a representation (raw pixels, autoencoder features) separates the classes by itself.
/// </summary>
/// <example>
/// <code>
/// var classifier = NearestCentroid.Fit(trainFeatures, trainLabels, latent);   // [n, latent], [n]
/// double accuracy = classifier.Accuracy(testFeatures, testLabels);
/// </code>
/// </example>
public sealed class NearestCentroid
{
    private NearestCentroid(int[] classes, float[] centroids, int features)
    {
        Classes = classes;
        Centroids = centroids;
        Features = features;
    }

    /// <summary>The class labels seen in training, ascending.</summary>
    public IReadOnlyList<int> Classes { get; }

    /// <summary>Class means, [Classes.Count, Features], in the order of <see cref="Classes"/>.</summary>
    public float[] Centroids { get; }

    /// <summary>Values per row.</summary>
    public int Features { get; }

    /// <summary>Computes the class means of <paramref name="rows"/> [labels.Length, features].</summary>
    public static NearestCentroid Fit(ReadOnlySpan<float> rows, ReadOnlySpan<int> labels, int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (labels.Length == 0) throw new ArgumentException("nearest centroid: needs at least one training row");
        if (rows.Length != labels.Length * features)
            throw new ArgumentException($"nearest centroid: rows has {rows.Length} values but [{labels.Length}, {features}] needs {labels.Length * features}");
        var classes = labels.ToArray().Distinct().Order().ToArray();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        var sums = new double[classes.Length * features];
        var counts = new int[classes.Length];
        for (int r = 0; r < labels.Length; r++)
        {
            int k = index[labels[r]];
            counts[k]++;
            var row = rows.Slice(r * features, features);
            for (int f = 0; f < features; f++) sums[k * features + f] += row[f];
        }
        var centroids = new float[sums.Length];
        for (int i = 0; i < sums.Length; i++) centroids[i] = (float)(sums[i] / counts[i / features]);
        return new NearestCentroid(classes, centroids, features);
    }

    /// <summary>The predicted class of each row of <paramref name="rows"/> [count, Features].</summary>
    public int[] Predict(ReadOnlySpan<float> rows)
    {
        if (rows.Length % Features != 0)
            throw new ArgumentException($"nearest centroid: rows has {rows.Length} values, not a multiple of the {Features} features it was trained on");
        int count = rows.Length / Features;
        var result = new int[count];
        for (int r = 0; r < count; r++)
        {
            var row = rows.Slice(r * Features, Features);
            double best = double.PositiveInfinity;
            for (int k = 0; k < Classes.Count; k++)
            {
                var centroid = Centroids.AsSpan(k * Features, Features);
                double d = 0;
                for (int f = 0; f < Features; f++) { double v = row[f] - centroid[f]; d += v * v; }
                if (d < best) { best = d; result[r] = Classes[k]; }
            }
        }
        return result;
    }

    /// <summary>The fraction of rows [labels.Length, Features] whose predicted class equals the label.</summary>
    public double Accuracy(ReadOnlySpan<float> rows, ReadOnlySpan<int> labels)
    {
        var predicted = Predict(rows);
        if (predicted.Length != labels.Length)
            throw new ArgumentException($"nearest centroid: {predicted.Length} rows but {labels.Length} labels");
        int correct = 0;
        for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) correct++;
        return labels.Length == 0 ? 0 : (double)correct / labels.Length;
    }
}
