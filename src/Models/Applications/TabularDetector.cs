using NeuralCore.Kernels;
using NeuralCore.Models.Layers;
using NeuralCore.Models.Optimizers;

namespace NeuralCore.Models.Applications;

/// <summary>Settings of <see cref="TabularDetector"/>; the defaults were chosen by measurement across several tables (docs/applications.md).</summary>
public sealed class TabularDetectorOptions
{
    /// <summary>Embedding size; null = the number of principal components that explain <see cref="ExplainedVariance"/> of the normal rows, at most <see cref="MaxLatentShare"/> x rows.</summary>
    public int? Latent { get; init; }
    /// <summary>The share of variance the chosen latent size must explain (when <see cref="Latent"/> is null).</summary>
    public double ExplainedVariance { get; init; } = 0.99;
    /// <summary>
    /// The most embedding dimensions per normal row when the size comes from the data: with fewer rows than features the
    /// sample's principal components spread its variance over as many directions as there are rows, and a code that wide
    /// passes rows through instead of summarising them.
    /// </summary>
    public double MaxLatentShare { get; init; } = 0.5;
    /// <summary>Width of the one hidden layer on each side; null = max(8, 2 x features).</summary>
    public int? Hidden { get; init; }
    /// <summary>Most passes over the training rows (early stopping usually ends sooner).</summary>
    public int Epochs { get; init; } = 400;
    /// <summary>Rows per mini-batch.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>AdamW learning rate.</summary>
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>AdamW decoupled weight decay.</summary>
    public float WeightDecay { get; init; } = 1e-3f;
    /// <summary>Share of the normal rows held out to stop training when their error stops falling (the best epoch's weights are kept).</summary>
    public double ValidationFraction { get; init; } = 0.2;
    /// <summary>Epochs without a better validation error before training stops.</summary>
    public int Patience { get; init; } = 40;
    /// <summary>Models trained from different seeds; their reconstructions are averaged.</summary>
    public int Ensemble { get; init; } = 3;
    /// <summary>Score each row by per-feature errors divided by that feature's median absolute error on normal rows (true), or by plain mean squared error (false).</summary>
    public bool RobustScore { get; init; }
    /// <summary>Seed of the split, the weights and the batch order (model i uses seed + i).</summary>
    public ulong Seed { get; init; }
}

/// <summary>
/// Anomaly detection on a small numeric table by an autoencoder trained on normal rows, with what small tables need:
/// features standardised by the normal rows' mean and standard deviation; the embedding size taken from the data
/// (principal components that explain 99% of the normal rows' variance, at most one per two rows); a validation share
/// of the normal rows that stops training, a different share for each member of the ensemble; weight decay; an ensemble of seeds whose reconstructions are averaged. The score is the mean squared
/// error of the standardised row, or with <see cref="TabularDetectorOptions.RobustScore"/> the mean over features of
/// (error / that feature's median absolute error on the normal rows)^2 (measured worse across tables).
/// </summary>
/// <example><code>
/// var detector = TabularDetector.Fit(new CpuBackend(), normalRows, normalCount, features, new TabularDetectorOptions());
/// double[] scores = detector.Scores(rows, count);   // higher = more anomalous
/// </code></example>
public sealed class TabularDetector
{
    private readonly Sequential[] _models;
    private readonly IBackend _backend;
    private readonly float[] _mean, _std;
    private float[] _errorScale;

    private TabularDetector(IBackend backend, Sequential[] models, float[] mean, float[] std, int latent, int features, bool robust)
    {
        _backend = backend;
        _models = models;
        _mean = mean;
        _std = std;
        Latent = latent;
        Features = features;
        Robust = robust;
        _errorScale = Enumerable.Repeat(1f, features).ToArray();
    }

    /// <summary>Embedding size in use.</summary>
    public int Latent { get; }
    /// <summary>Values per row.</summary>
    public int Features { get; }
    private bool Robust { get; }

    /// <summary>Trains on <paramref name="normalRows"/> [count, features] (at least 4 rows).</summary>
    public static TabularDetector Fit(IBackend backend, ReadOnlySpan<float> normalRows, int count, int features, TabularDetectorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new TabularDetectorOptions();
        if (count < 4) throw new ArgumentException($"tabular detector: needs at least 4 normal rows, got {count}");
        if (features < 1 || normalRows.Length < (long)count * features)
            throw new ArgumentException($"tabular detector: rows holds {normalRows.Length} values but [{count}, {features}] needs {(long)count * features}");
        var (mean, std) = Standardisation(normalRows, count, features);
        float[] x = Standardise(normalRows[..(count * features)], mean, std);
        int latent = options.Latent ?? Math.Max(1, Math.Min(LatentFromData(x, count, features, options.ExplainedVariance, options.Seed),
                                                            (int)(count * options.MaxLatentShare)));
        int hidden = options.Hidden ?? Math.Max(8, 2 * features);

        var order = Enumerable.Range(0, count).ToArray();
        SeededRandom.ForStream(options.Seed, RandomStream.DataSplit).Shuffle(order);
        int validation = Math.Clamp((int)Math.Round(count * options.ValidationFraction), 1, count - 2);
        var models = new Sequential[options.Ensemble];
        for (int m = 0; m < models.Length; m++)
        {
            // Each member holds out the next block of the shuffled rows, so that between them the members learn from
            // every normal row instead of all missing the same validation share (measured: digits 0.9729 -> 0.9766).
            int shift = (int)((long)m * validation % count);
            int[] rotated = [.. order[shift..], .. order[..shift]];
            float[] valRows = Gather(x, rotated[..validation], features), fitRows = Gather(x, rotated[validation..], features);
            models[m] = Train(backend, fitRows, count - validation, valRows, validation, features, latent, hidden, options, options.Seed + (ulong)m);
        }
        var detector = new TabularDetector(backend, models, mean, std, latent, features, options.RobustScore);
        if (options.RobustScore) detector._errorScale = detector.MedianAbsoluteErrors(x, count);
        return detector;
    }

    /// <summary>Anomaly score of each row [count, Features]: higher = less like the normal rows.</summary>
    public double[] Scores(ReadOnlySpan<float> rows, int count)
    {
        float[] x = Standardise(rows[..(count * Features)], _mean, _std);
        float[] reconstruction = Reconstruct(x, count);
        var scores = new double[count];
        for (int r = 0; r < count; r++)
        {
            double s = 0;
            for (int f = 0; f < Features; f++)
            {
                double e = (x[r * Features + f] - reconstruction[r * Features + f]) / _errorScale[f];
                s += e * e;
            }
            scores[r] = s / Features;
        }
        return scores;
    }

    /// <summary>Per-feature mean and standard deviation (1 for a constant feature), [features] each.</summary>
    public static (float[] Mean, float[] Std) Standardisation(ReadOnlySpan<float> rows, int count, int features)
    {
        var mean = new float[features];
        var std = new float[features];
        for (int f = 0; f < features; f++)
        {
            double s = 0, ss = 0;
            for (int r = 0; r < count; r++) s += rows[r * features + f];
            double m = s / count;
            for (int r = 0; r < count; r++) ss += Math.Pow(rows[r * features + f] - m, 2);
            double sd = Math.Sqrt(ss / Math.Max(1, count - 1));
            mean[f] = (float)m;
            std[f] = sd > 1e-12 ? (float)sd : 1f;
        }
        return (mean, std);
    }

    /// <summary>Rows [count, features] standardised by <paramref name="mean"/> and <paramref name="std"/> (a copy).</summary>
    public static float[] Standardise(ReadOnlySpan<float> rows, float[] mean, float[] std)
    {
        int features = mean.Length;
        var result = rows.ToArray();
        for (int i = 0; i < result.Length; i++) result[i] = (result[i] - mean[i % features]) / std[i % features];
        return result;
    }

    /// <summary>The number of principal components of standardised rows that explain <paramref name="share"/> of their variance, 1..features-1.</summary>
    public static int LatentFromData(ReadOnlySpan<float> standardisedRows, int count, int features, double share, ulong seed = 0)
    {
        if (features == 1) return 1;
        var pca = Pca.Fit(standardisedRows, count, features, features, seed);
        double total = pca.TotalVariance, cumulative = 0;
        for (int k = 0; k < pca.ComponentCount; k++)
        {
            cumulative += pca.ExplainedVariance[k];
            if (cumulative >= share * total) return Math.Clamp(k + 1, 1, features - 1);
        }
        return features - 1;
    }

    private float[] Reconstruct(float[] x, int count)
    {
        var sum = new double[x.Length];
        foreach (var model in _models)
        {
            float[] y = Forward(_backend, model, x, count, Features);
            for (int i = 0; i < y.Length; i++) sum[i] += y[i];
        }
        return sum.Select(v => (float)(v / _models.Length)).ToArray();
    }

    private float[] MedianAbsoluteErrors(float[] x, int count)
    {
        float[] reconstruction = Reconstruct(x, count);
        var scale = new float[Features];
        var column = new double[count];
        for (int f = 0; f < Features; f++)
        {
            for (int r = 0; r < count; r++) column[r] = Math.Abs(x[r * Features + f] - reconstruction[r * Features + f]);
            Array.Sort(column);
            double median = count % 2 == 1 ? column[count / 2] : (column[count / 2 - 1] + column[count / 2]) / 2;
            scale[f] = (float)Math.Max(median, 1e-3);   // a feature rebuilt perfectly would otherwise divide by zero
        }
        return scale;
    }

    private static Sequential Train(IBackend backend, float[] fitRows, int fitCount, float[] valRows, int valCount, int features, int latent, int hidden,
                                    TabularDetectorOptions options, ulong seed)
    {
        var random = new SeededRandom(seed);
        var model = new Sequential();
        model.Add(new Linear(backend, random, features, hidden)).Add(new Tanh()).Add(new Linear(backend, random, hidden, latent))
             .Add(new Linear(backend, random, latent, hidden)).Add(new Tanh()).Add(new Linear(backend, random, hidden, features));
        var parameters = model.Parameters();
        var optimizer = new AdamW(parameters, options.LearningRate, weightDecay: options.WeightDecay);
        var shuffle = SeededRandom.ForStream(seed, RandomStream.Shuffle);
        var order = Enumerable.Range(0, fitCount).ToArray();
        int batch = Math.Min(options.BatchSize, fitCount);
        var input = new float[batch * features];
        double best = double.PositiveInfinity;
        float[][] bestWeights = parameters.Select(p => p.ToArray()).ToArray();
        int sinceBest = 0;
        for (int epoch = 0; epoch < options.Epochs && sinceBest < options.Patience; epoch++)
        {
            shuffle.Shuffle(order);
            for (int start = 0; start + batch <= fitCount; start += batch)
            {
                for (int i = 0; i < batch; i++) Array.Copy(fitRows, order[start + i] * features, input, i * features, features);
                using var _ = TensorScope.Begin();
                var x = Tensor.FromArray(backend, input, new Shape(batch, features));
                optimizer.ZeroGrad();
                var loss = model.Call(x, "detector").MseLoss(x);
                loss.Backward();
                optimizer.Step();
            }
            float[] y = Forward(backend, model, valRows, valCount, features);
            double error = 0;
            for (int i = 0; i < y.Length; i++) error += Math.Pow(y[i] - valRows[i], 2);
            if (error < best)
            {
                best = error;
                sinceBest = 0;
                for (int p = 0; p < parameters.Count; p++) bestWeights[p] = parameters[p].ToArray();
            }
            else sinceBest++;
        }
        for (int p = 0; p < parameters.Count; p++) parameters[p].CopyFrom(bestWeights[p]);
        return model;
    }

    private static float[] Forward(IBackend backend, Sequential model, float[] rows, int count, int features)
    {
        using var _ = TensorScope.Begin();
        using var __ = Autograd.NoGrad();
        return model.Call(Tensor.FromArray(backend, rows.AsSpan(0, count * features), new Shape(count, features)), "detector").ToArray();
    }

    private static float[] Gather(float[] rows, int[] indices, int features)
    {
        var result = new float[indices.Length * features];
        for (int i = 0; i < indices.Length; i++) Array.Copy(rows, indices[i] * features, result, i * features, features);
        return result;
    }
}
