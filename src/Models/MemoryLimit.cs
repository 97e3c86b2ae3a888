namespace NeuralCore.Models;

/// <summary>
/// The memory a model may need before it is built. Sizes from options, headers and files are checked against these
/// limits in 64-bit arithmetic before anything large is allocated, so a typo or a corrupt file gets a one-line error
/// instead of gigabytes of allocation (the engine's whole budget is about 2 GB).
/// </summary>
public static class MemoryLimit
{
    /// <summary>Largest estimated memory of a training run (weights, gradients, two optimiser moments and the
    /// activations of a batch): 1.5 GiB, leaving room for the data within a 2 GB budget.</summary>
    public const long MaxTrainingBytes = 3L << 29;

    /// <summary>Rows evaluated at once by the library's evaluation loops (no gradients, so counted at half weight).</summary>
    internal const int EvaluationRows = 500;

    /// <summary>
    /// Estimated bytes to train a chain of dense layers <paramref name="widths"/> (input, hidden..., output) on
    /// <paramref name="rows"/> rows at once: 4 floats per parameter (weight, gradient, two Adam moments) and 4 per
    /// activation (a layer's output, its ReLU, and both gradients). Saturates instead of overflowing.
    /// </summary>
    internal static long DenseTrainingBytes(IReadOnlyList<int> widths, long rows, out long parameters)
    {
        parameters = 0;
        long activations = 0;
        for (int i = 0; i < widths.Count; i++)
        {
            activations = SaturatingAdd(activations, widths[i]);
            if (i > 0) parameters = SaturatingAdd(parameters, SaturatingMultiply((long)widths[i - 1] + 1, widths[i]));
        }
        return SaturatingMultiply(4 * sizeof(float), SaturatingAdd(parameters, SaturatingMultiply(rows, activations)));
    }

    /// <summary>Human-readable size, "1.5 GiB" or "12 MiB".</summary>
    internal static string Describe(long bytes) => bytes >= 1L << 30
        ? $"{bytes / (double)(1L << 30):0.#} GiB"
        : $"{Math.Max(1, bytes >> 20):N0} MiB";

    internal static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    internal static long SaturatingMultiply(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;
}
