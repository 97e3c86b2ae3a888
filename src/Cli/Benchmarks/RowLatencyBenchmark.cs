using System.Diagnostics;
using System.Globalization;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Benchmarks;

/// <summary>One way of reconstructing a single row, timed call by call.</summary>
/// <param name="Path">What was called.</param>
/// <param name="P50Microseconds">Median time per call.</param>
/// <param name="P99Microseconds">99th percentile per call.</param>
/// <param name="BytesPerCall">Managed bytes the calling thread allocated per call, after warm-up.</param>
internal sealed record RowLatencyResult(string Path, double P50Microseconds, double P99Microseconds, double BytesPerCall);

/// <summary>
/// Batch-1 reconstruction through the 784-400-20-400-784 autoencoder (the embedding benchmark's model shape, weights
/// as initialised: the time does not depend on their values): the row path (<see cref="RowInference.Reconstruct"/>,
/// into the caller's span) beside the model's tensor path (<see cref="Autoencoder.Forward"/> on a batch of one).
/// Each call is timed alone after warm-up calls; allocation is counted on the calling thread over all timed calls.
/// </summary>
internal static class RowLatencyBenchmark
{
    public const string Shape = "784-400-20-400-784";

    public static IReadOnlyList<RowLatencyResult> Run(IBackend backend, bool quick)
    {
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 784, Hidden = [400], Latent = 20 };
        var model = ModelFactory.Create(spec, backend, new SeededRandom(0));
        model.Eval();
        const int distinctRows = 64;
        var random = new SeededRandom(1);
        var rows = new float[distinctRows * 784];
        for (int i = 0; i < rows.Length; i++) rows[i] = random.NextFloat();
        var output = new float[784];
        int calls = quick ? 300 : 5000, warmUp = quick ? 50 : 500;

        var rowPath = RowInference.Create(model);
        var results = new List<RowLatencyResult>
        {
            Time("RowInference.Reconstruct (span in, span out)", calls, warmUp, r => rowPath.Reconstruct(rows.AsSpan(r % distinctRows * 784, 784), output)),
            Time("Autoencoder.Forward, batch of 1 (tensors)", calls, warmUp, r =>
            {
                using var scope = TensorScope.Begin();
                using var noGrad = Autograd.NoGrad();
                model.Forward(Tensor.FromArray(backend, rows.AsSpan(r % distinctRows * 784, 784), new Shape(1, 784))).CopyTo(output);
            }),
        };
        return results;
    }

    public static string FormatMarkdown(IReadOnlyList<RowLatencyResult> results, string device)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(inv, $"batch-1 reconstruction, {Shape} autoencoder, {device}, calling thread:");
        sb.AppendLine();
        sb.AppendLine("| path | p50 us/call | p99 us/call | bytes/call |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var r in results)
            sb.AppendLine(inv, $"| {r.Path} | {r.P50Microseconds:F1} | {r.P99Microseconds:F1} | {r.BytesPerCall:N0} |");
        return sb.ToString();
    }

    private static RowLatencyResult Time(string path, int calls, int warmUp, Action<int> call)
    {
        for (int i = 0; i < warmUp; i++) call(i);
        var times = new double[calls];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            call(i);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        double bytes = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / calls;
        Array.Sort(times);
        return new RowLatencyResult(path, times[calls / 2], times[Math.Min(calls - 1, (int)(calls * 0.99))], bytes);
    }
}
