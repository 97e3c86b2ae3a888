using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;

namespace NeuralCore.Samples.EmbeddedScoring;

/// <summary>An engine that reconstructs rows: a batch of rows in, as many rows of output out.</summary>
public interface IReconstructor : IDisposable
{
    /// <summary>Writes the reconstructions of <paramref name="batch"/> rows of <paramref name="input"/> into <paramref name="output"/>.</summary>
    void Reconstruct(float[] input, int batch, float[] output);
}

/// <summary>
/// The embedding benchmark: the same measurements for any engine that scores MNIST rows by reconstruction error, so
/// that NeuralCore (this NativeAOT app, <c>--bench</c>) and ONNX Runtime (bench/OrtScoring, which compiles this file
/// too) are measured by one piece of code. Prints one JSON line.
/// </summary>
public static class LatencyBenchmark
{
    /// <summary>Loads the engine, scores rows at batch 1, 64 and 1024 and prints what it measured.</summary>
    /// <param name="engine">The engine's name in the output.</param>
    /// <param name="threads">Threads the engine was told to use (for the output).</param>
    /// <param name="mnistDirectory">An MNIST IDX directory; its test images are the rows.</param>
    /// <param name="load">Builds the engine (reads the model); timed as part of the start-up.</param>
    /// <param name="output">Where the JSON line goes.</param>
    public static void Run(string engine, int threads, string mnistDirectory, Func<IReconstructor> load, TextWriter output)
    {
        // From process start, as a user of a command-line scorer sees it: runtime start, model load, first call.
        DateTime started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        var (rows, count, features) = ReadTestImages(mnistDirectory);
        using var engineInstance = load();
        var one = new float[features];
        engineInstance.Reconstruct(rows[..features], 1, one);
        double firstScoreMs = (DateTime.UtcNow - started).TotalMilliseconds;
        double firstError = MeanSquaredError(rows.AsSpan(0, features), one);

        // Batch 1: every test row once (after as many warm-up calls), each call timed.
        var input = new float[features];
        var latencies = new double[count];
        for (int pass = 0; pass < 2; pass++)
        {
            for (int r = 0; r < count; r++)
            {
                rows.AsSpan(r * features, features).CopyTo(input);
                long t0 = Stopwatch.GetTimestamp();
                engineInstance.Reconstruct(input, 1, one);
                latencies[r] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
        }
        Array.Sort(latencies);

        var fields = new List<string>
        {
            $"\"engine\":\"{engine}\"", $"\"threads\":{threads}", $"\"rows\":{count}",
            $"\"first_score_ms\":{F(firstScoreMs)}", $"\"first_row_mse\":{F(firstError)}",
            $"\"batch1_p50_us\":{F(Percentile(latencies, 0.50))}", $"\"batch1_p99_us\":{F(Percentile(latencies, 0.99))}",
        };
        foreach (int batch in new[] { 64, 1024 }) fields.Add($"\"batch{batch}_rows_per_s\":{F(Throughput(engineInstance, rows, count, features, batch))}");
        fields.Add($"\"peak_rss_mb\":{F(PeakRssMegabytes())}");
        output.WriteLine("{" + string.Join(",", fields) + "}");
    }

    /// <summary>Rows per second at <paramref name="batch"/>, over whole batches of the test rows for at least a second.</summary>
    private static double Throughput(IReconstructor engine, float[] rows, int count, int features, int batch)
    {
        int batches = count / batch;
        var input = new float[batch * features];
        var output = new float[batch * features];
        engine.Reconstruct(rows[..(batch * features)], batch, output);   // warm-up at this size
        long done = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 1.0)
        {
            for (int b = 0; b < batches; b++)
            {
                rows.AsSpan(b * batch * features, batch * features).CopyTo(input);
                engine.Reconstruct(input, batch, output);
                done += batch;
            }
        }
        return done / clock.Elapsed.TotalSeconds;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static double MeanSquaredError(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (a[i] - b[i]) * (double)(a[i] - b[i]);
        return sum / a.Length;
    }

    /// <summary>The process's peak resident memory (VmHWM), or NaN where /proc is not available.</summary>
    private static double PeakRssMegabytes()
    {
        const string Status = "/proc/self/status";
        if (!File.Exists(Status)) return double.NaN;
        foreach (string line in File.ReadLines(Status))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        return double.NaN;
    }

    private static string F(double v) => double.IsFinite(v) ? v.ToString("0.###", CultureInfo.InvariantCulture) : "null";

    /// <summary>
    /// The test images of an MNIST IDX directory as rows in [0, 1]: a small reader of its own, so that the ONNX Runtime
    /// side needs nothing from NeuralCore.
    /// </summary>
    public static (float[] Rows, int Count, int Features) ReadTestImages(string directory)
    {
        string path = Path.Combine(directory, "t10k-images-idx3-ubyte.gz");
        if (!File.Exists(path)) throw new ArgumentException($"{path}: not found; --mnist needs an MNIST IDX directory such as data/mnist-10k");
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new BinaryReader(stream);
        int ReadBigEndian() => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(reader.ReadInt32());
        if (ReadBigEndian() != 0x803) throw new ArgumentException($"{path}: not an IDX file of unsigned-byte images");
        int count = ReadBigEndian(), height = ReadBigEndian(), width = ReadBigEndian();
        byte[] pixels = reader.ReadBytes(checked(count * height * width));
        if (pixels.Length != count * height * width) throw new ArgumentException($"{path}: truncated");
        return (pixels.Select(p => p / 255f).ToArray(), count, height * width);
    }
}
