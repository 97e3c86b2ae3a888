using System.Globalization;
using NeuralCore.Kernels;
using NeuralCore.Models.Training;
using NeuralCore.Models.Data;
using NeuralCore.Models.Layers;
using NeuralCore.Models.Optimizers;

namespace NeuralCore.Models.Applications;

/// <summary>The outcome of <see cref="Imputer.Impute"/>.</summary>
/// <param name="Values">The completed table [rows, features] in the original units: observed cells bit-identical to the input, missing cells filled.</param>
/// <param name="FilledCount">Number of cells that were missing and are now filled.</param>
/// <param name="TrainLoss">Masked mean squared error (scaled units) of the last training epoch, on the observed cells; 0 when nothing was missing (no training).</param>
public sealed record ImputationResult(float[] Values, int FilledCount, double TrainLoss);

/// <summary>
/// Fills missing cells of a numeric table with a denoising autoencoder (an MLP) trained on the table itself:
/// <list type="number">
/// <item>min-max scale every column to [0, 1] using its observed values; start every missing cell at its column mean;</item>
/// <item>train with masking noise: in every batch a random <see cref="ImputerOptions.MaskFraction"/> of the observed cells
///   is hidden (set to the column mean) and the model learns to rebuild them from the rest of the row; the loss is the
///   <see cref="MaskedMse"/> over observed cells only, so the unknown cells never act as targets;</item>
/// <item>replace every missing cell by the reconstruction, repeated <see cref="ImputerOptions.FillIterations"/> times so that
///   later passes see better inputs than the column means; clip to the observed range and un-scale.</item>
/// </list>
/// Observed cells are copied from the input unchanged. Every column needs at least one observed value.
/// </summary>
/// <example><code>
/// var table = CsvTable.Read("in.csv", dropColumns: ["class"]);
/// var imputer = new Imputer(new CpuBackend(), new ImputerOptions { Seed = 0 });
/// var result = imputer.Impute(table.Values, table.Missing, table.ColumnCount);   // [rows, features]
/// CsvTable.Write("filled.csv", table.ColumnNames, result.Values);
/// </code></example>
public sealed class Imputer
{
    private readonly IBackend _backend;

    /// <summary>An imputer that trains on <paramref name="backend"/> with <paramref name="options"/> (defaults when null).</summary>
    public Imputer(IBackend backend, ImputerOptions? options = null)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        Options = options ?? new ImputerOptions();
        Options.Validate();
    }

    /// <summary>The settings in use.</summary>
    public ImputerOptions Options { get; }

    /// <summary>Completes a table.</summary>
    /// <param name="values">Row-major values [rows, features]; cells flagged in <paramref name="missing"/> are ignored (NaN is fine).</param>
    /// <param name="missing">[rows, features]: true where the value is unknown.</param>
    /// <param name="features">Columns per row.</param>
    /// <exception cref="TrainingDivergedException">The training loss or a filled value became NaN, infinite or huge.</exception>
    /// <exception cref="ArgumentException">Shapes disagree, an observed value is not finite, a column's range overflows float32, or the model would need more
    /// than <see cref="MemoryLimit.MaxTrainingBytes"/> (checked before anything is allocated).</exception>
    public ImputationResult Impute(ReadOnlySpan<float> values, ReadOnlySpan<bool> missing, int features)
    {
        if (features < 1 || values.Length == 0 || values.Length % features != 0)
            throw new ArgumentException($"imputer: expected values [rows, {features}], got {values.Length} values");
        if (missing.Length != values.Length)
            throw new ArgumentException($"imputer: the missing mask has {missing.Length} cells but the table has {values.Length}");
        int rows = values.Length / features;
        CheckMemory(rows, features);

        var observed = new float[values.Length];     // 1 where known
        var scaled = new float[values.Length];
        int filled = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (missing[i]) { scaled[i] = float.NaN; filled++; continue; }
            if (!float.IsFinite(values[i])) throw new ArgumentException($"imputer: row {i / features}, column {i % features} is {values[i]}; observed values must be finite");
            scaled[i] = values[i];
            observed[i] = 1f;
        }
        for (int c = 0; c < features; c++)
            if (!HasObserved(observed, c, features)) throw new ArgumentException($"imputer: column {c} has no observed value, so nothing can be learned about it; drop the column");
        var scaler = FeatureScaler.Fit(scaled, features);
        for (int c = 0; c < features; c++)
        {
            // min-max scaling divides by the range and multiplies by it again: a range beyond float32 gives NaN
            if (!float.IsFinite(scaler.Max[c] - scaler.Min[c]))
                throw new ArgumentException($"imputer: column {c} spans {scaler.Min[c].ToString(CultureInfo.InvariantCulture)} to {scaler.Max[c].ToString(CultureInfo.InvariantCulture)}, a range beyond float32; rescale the column");
        }
        scaler.Transform(scaled);
        float[] means = ColumnMeans(scaled, features);
        for (int i = 0; i < scaled.Length; i++) if (observed[i] == 0f) scaled[i] = means[i % features];

        var result = values.ToArray();
        if (filled == 0) return new ImputationResult(result, 0, 0);   // nothing to fill: no training
        var average = new double[scaled.Length];
        double loss = 0;
        for (int member = 0; member < Options.Ensemble; member++)
        {
            ulong seed = Options.Seed + (ulong)member;
            var model = BuildModel(features, seed);
            loss += Train(model, scaled, observed, means, rows, features, seed) / Options.Ensemble;
            var current = (float[])scaled.Clone();
            for (int iteration = 0; iteration < Options.FillIterations; iteration++) Refill(model, current, observed, rows, features);
            for (int i = 0; i < current.Length; i++) average[i] += current[i];
        }
        var fills = average.Select(v => (float)(v / Options.Ensemble)).ToArray();
        scaler.InverseTransform(fills);
        for (int i = 0; i < result.Length; i++)
        {
            if (!missing[i]) continue;
            if (!float.IsFinite(fills[i]))   // never hand back a table with NaN in it as if it were filled
                throw new TrainingDivergedException(
                    $"imputer: the model filled row {i / features}, column {i % features} with {fills[i].ToString(CultureInfo.InvariantCulture)}; lower the learning rate (ImputerOptions.LearningRate, now {Options.LearningRate.ToString(CultureInfo.InvariantCulture)}) or rescale the table");
            result[i] = fills[i];
        }
        return new ImputationResult(result, filled, loss);
    }

    /// <summary>Mean of each column over its non-NaN values, [features]; 0 for a column with none.</summary>
    public static float[] ColumnMeans(ReadOnlySpan<float> values, int features)
    {
        var sum = new double[features];
        var count = new int[features];
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsNaN(values[i])) continue;
            sum[i % features] += values[i];
            count[i % features]++;
        }
        var means = new float[features];
        for (int f = 0; f < features; f++) means[f] = count[f] > 0 ? (float)(sum[f] / count[f]) : 0f;
        return means;
    }

    private static bool HasObserved(float[] observed, int column, int features)
    {
        for (int i = column; i < observed.Length; i += features) if (observed[i] == 1f) return true;
        return false;
    }

    /// <summary>Rows reconstructed at once when refilling (the whole table would make activations as large as the table times the widest layer).</summary>
    private const int RefillRows = 4096;

    private void CheckMemory(int rows, int features)
    {
        int[] widths = [InputWidth(features), .. Options.Hidden, features];
        long rowsAtOnce = Math.Max(Math.Min(Options.BatchSize, rows), Math.Min(RefillRows, rows));
        long bytes = MemoryLimit.DenseTrainingBytes(widths, rowsAtOnce, out long parameters);
        if (bytes > MemoryLimit.MaxTrainingBytes)
            throw new ArgumentOutOfRangeException(nameof(ImputerOptions.Hidden),
                $"imputer: a {string.Join("-", widths)} model ({parameters:N0} parameters) would need about {MemoryLimit.Describe(bytes)} to train, " +
                $"above the limit of {MemoryLimit.Describe(MemoryLimit.MaxTrainingBytes)}; use smaller ImputerOptions.Hidden sizes");
    }

    private int InputWidth(int features) => Options.AppendMask ? 2 * features : features;

    /// <summary>features (+ mask) -> hidden... -> features, ReLU between layers, linear output.</summary>
    private Sequential BuildModel(int features, ulong seed)
    {
        var random = new SeededRandom(seed);
        var model = new Sequential();
        int width = InputWidth(features);
        foreach (int hidden in Options.Hidden)
        {
            model.Add(new Linear(_backend, random, width, hidden)).Add(new ReLU());
            width = hidden;
        }
        model.Add(new Linear(_backend, random, width, features));
        return model;
    }

    private void Refill(Sequential model, float[] current, float[] observed, int rows, int features)
    {
        float[] reconstruction = Reconstruct(model, current, observed, rows, features);
        for (int i = 0; i < current.Length; i++)
            if (observed[i] == 0f) current[i] = Math.Clamp(reconstruction[i], 0f, 1f);
    }

    private double Train(Sequential model, float[] table, float[] observed, float[] means, int rows, int features, ulong seed)
    {
        var optimizer = new Adam(model.Parameters(), Options.LearningRate);
        var loader = new MiniBatchLoader(table, rows, features, Math.Min(Options.BatchSize, rows), SeededRandom.ForStream(seed, RandomStream.Shuffle));
        var noise = SeededRandom.ForStream(seed, RandomStream.Noise);
        int width = InputWidth(features);
        var target = new float[loader.BatchSize * features];
        var mask = new float[loader.BatchSize * features];
        var input = new float[loader.BatchSize * width];
        double epochLoss = 0;
        for (int epoch = 0; epoch < Options.Epochs; epoch++)
        {
            loader.StartEpoch();
            epochLoss = 0;
            while (loader.TryNextBatch(target, out int n))
            {
                MiniBatchLoader.Gather<float>(observed, features, loader.CurrentIndices, mask);
                for (int r = 0; r < n; r++)
                for (int c = 0; c < features; c++)
                {
                    int i = r * features + c;
                    bool hide = mask[i] == 1f && noise.NextFloat() < Options.MaskFraction;
                    input[r * width + c] = hide ? means[c] : target[i];
                    if (Options.AppendMask) input[r * width + features + c] = hide ? 0f : mask[i];
                }
                using var _ = TensorScope.Begin();
                var x = Tensor.FromArray(_backend, input.AsSpan(0, n * width), new Shape(n, width));
                var t = Tensor.FromArray(_backend, target.AsSpan(0, n * features), new Shape(n, features));
                var m = Tensor.FromArray(_backend, mask.AsSpan(0, n * features), new Shape(n, features));
                optimizer.ZeroGrad();
                var loss = MaskedMse.Loss(model.Call(x, "imputer"), t, m);
                loss.Backward();
                optimizer.Step();
                float batchLoss = loss.Item();
                if (!(batchLoss <= Trainer.DivergedLoss))
                    throw new TrainingDivergedException(
                        $"imputer: the training loss became {batchLoss.ToString(CultureInfo.InvariantCulture)} in epoch {epoch + 1}; lower the learning rate (ImputerOptions.LearningRate, now {Options.LearningRate.ToString(CultureInfo.InvariantCulture)})");
                epochLoss += batchLoss * n;
            }
            epochLoss /= rows;
        }
        return epochLoss;
    }

    private float[] Reconstruct(Sequential model, float[] table, float[] observed, int rows, int features)
    {
        int width = InputWidth(features);
        var result = new float[rows * features];
        int chunk = Math.Min(RefillRows, rows);
        var input = new float[chunk * width];
        for (int start = 0; start < rows; start += chunk)
        {
            int n = Math.Min(chunk, rows - start);
            for (int r = 0; r < n; r++)
            {
                table.AsSpan((start + r) * features, features).CopyTo(input.AsSpan(r * width));
                if (Options.AppendMask) observed.AsSpan((start + r) * features, features).CopyTo(input.AsSpan(r * width + features));
            }
            using var _ = TensorScope.Begin();
            using var __ = Autograd.NoGrad();
            var output = model.Call(Tensor.FromArray(_backend, input.AsSpan(0, n * width), new Shape(n, width)), "imputer").ToArray();
            output.CopyTo(result, start * features);
        }
        return result;
    }
}
