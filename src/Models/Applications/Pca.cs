using System.Numerics.Tensors;

namespace NeuralCore.Models.Applications;

/// <summary>
/// Principal component analysis: the linear autoencoder. Fitting centres the rows, forms the covariance
/// [features, features] in double precision and keeps its top eigenvectors (<see cref="SymmetricEigen.Top"/>).
/// Encoding projects a centred row onto them; decoding maps back; the reconstruction error is the baseline
/// that a (non-linear) autoencoder should beat.
/// </summary>
/// <example>
/// <code>
/// var pca = Pca.Fit(train, trainCount, 784, components: 32);          // rows [trainCount, 784]
/// float[] codes = pca.Transform(test, testCount);                     // [testCount, 32]
/// double[] errors = pca.ReconstructionErrors(test, testCount);        // [testCount], mean squared error per row
/// </code>
/// </example>
public sealed class Pca
{
    private Pca(int features, float[] mean, float[] components, double[] variances, double totalVariance)
    {
        Features = features;
        Mean = mean;
        Components = components;
        ExplainedVariance = variances;
        TotalVariance = totalVariance;
    }

    /// <summary>Values per row.</summary>
    public int Features { get; }

    /// <summary>Number of principal components kept.</summary>
    public int ComponentCount => ExplainedVariance.Length;

    /// <summary>Mean of the training rows, [Features].</summary>
    public float[] Mean { get; }

    /// <summary>Orthonormal principal directions as rows [ComponentCount, Features], by decreasing variance (the sign of each is arbitrary).</summary>
    public float[] Components { get; }

    /// <summary>Variance of the training rows along each component (the covariance eigenvalues), [ComponentCount], decreasing.</summary>
    public double[] ExplainedVariance { get; }

    /// <summary>Total variance of the training rows (the trace of the covariance).</summary>
    public double TotalVariance { get; }

    /// <summary>Fits <paramref name="components"/> principal components to <paramref name="rows"/> [count, features].</summary>
    /// <param name="rows">Training rows, row-major.</param>
    /// <param name="count">Number of rows (at least 2).</param>
    /// <param name="features">Values per row.</param>
    /// <param name="components">Components to keep, 1..features.</param>
    /// <param name="seed">Seed of the eigen solver's random start (the result does not depend on it beyond rounding and signs).</param>
    /// <exception cref="ArgumentException">Too few rows, a size mismatch, or a value that is NaN or infinite.</exception>
    public static Pca Fit(ReadOnlySpan<float> rows, int count, int features, int components, ulong seed = 0)
    {
        if (count < 2) throw new ArgumentException($"PCA needs at least 2 rows, got {count}");
        if (features < 1 || rows.Length < (long)count * features)
            throw new ArgumentException($"PCA: rows holds {rows.Length} values but [{count}, {features}] needs {(long)count * features}");
        if (components < 1 || components > features)
            throw new ArgumentOutOfRangeException(nameof(components), $"PCA: components must be between 1 and {features}, got {components}");
        RequireFinite(rows, count, features);
        var mean = new double[features];
        for (int r = 0; r < count; r++)
            for (int f = 0; f < features; f++) mean[f] += rows[r * features + f];
        for (int f = 0; f < features; f++) mean[f] /= count;

        // centred data transposed to [features, count], so each covariance entry is one contiguous dot product
        var centred = new double[(long)features * count];
        for (int r = 0; r < count; r++)
            for (int f = 0; f < features; f++) centred[(long)f * count + r] = rows[r * features + f] - mean[f];
        var covariance = new double[features * features];
        Parallel.For(0, features, i =>
        {
            var xi = centred.AsSpan(i * count, count);
            for (int j = 0; j <= i; j++)
                covariance[i * features + j] = covariance[j * features + i] =
                    TensorPrimitives.Dot<double>(xi, centred.AsSpan(j * count, count)) / (count - 1);
        });
        double trace = 0;
        for (int f = 0; f < features; f++) trace += covariance[f * features + f];

        var (values, vectors) = SymmetricEigen.Top(covariance, features, components, seed);
        return new Pca(features, mean.Select(m => (float)m).ToArray(), vectors.Select(v => (float)v).ToArray(),
            values.Select(v => Math.Max(0, v)).ToArray(), trace);
    }

    /// <summary>Codes of <paramref name="rows"/> [count, Features]: projections of the centred rows, [count, ComponentCount].</summary>
    public float[] Transform(ReadOnlySpan<float> rows, int count)
    {
        Check(rows, count);
        RequireFinite(rows, count, Features);
        int k = ComponentCount;
        var codes = new float[count * k];
        var centred = new float[Features];
        for (int r = 0; r < count; r++)
        {
            TensorPrimitives.Subtract(rows.Slice(r * Features, Features), Mean, centred);
            for (int c = 0; c < k; c++) codes[r * k + c] = TensorPrimitives.Dot(centred, Components.AsSpan(c * Features, Features));
        }
        return codes;
    }

    /// <summary>Rows rebuilt from codes [count, ComponentCount]: mean + codes x components, [count, Features].</summary>
    public float[] InverseTransform(ReadOnlySpan<float> codes, int count)
    {
        int k = ComponentCount;
        if (codes.Length < count * k) throw new ArgumentException($"PCA: codes holds {codes.Length} values but [{count}, {k}] needs {count * k}");
        var rows = new float[count * Features];
        for (int r = 0; r < count; r++)
        {
            var row = rows.AsSpan(r * Features, Features);
            Mean.CopyTo(row);
            for (int c = 0; c < k; c++) TensorPrimitives.MultiplyAdd(Components.AsSpan(c * Features, Features), codes[r * k + c], row, row);
        }
        return rows;
    }

    /// <summary>Rows projected onto the components and back, [count, Features].</summary>
    public float[] Reconstruct(ReadOnlySpan<float> rows, int count) => InverseTransform(Transform(rows, count), count);

    /// <summary>Mean squared reconstruction error of each row, [count] (an anomaly score).</summary>
    public double[] ReconstructionErrors(ReadOnlySpan<float> rows, int count) =>
        AnomalyDetection.Scores(rows, Reconstruct(rows, count), count, Features, ReconstructionScore.Mse);

    /// <summary>Refuses NaN and infinities: one would make every covariance entry, component and code NaN.</summary>
    private static void RequireFinite(ReadOnlySpan<float> rows, int count, int features)
    {
        long n = (long)count * features;
        for (int i = 0; i < n; i++)
        {
            if (!float.IsFinite(rows[i]))
                throw new ArgumentException($"PCA: row {i / features}, value {i % features} is {rows[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}; PCA needs finite numbers (the data or the model that made these rows holds NaN or infinities)");
        }
    }

    private void Check(ReadOnlySpan<float> rows, int count)
    {
        if (count < 0 || rows.Length < (long)count * Features)
            throw new ArgumentException($"PCA: rows holds {rows.Length} values but [{count}, {Features}] needs {(long)count * Features}");
    }
}
