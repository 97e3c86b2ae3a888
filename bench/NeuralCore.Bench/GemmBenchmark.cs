using System.Diagnostics;
using System.Globalization;
using System.Text;
using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Bench;

/// <summary>
/// GEMM throughput, measured exactly like ../shared/peers/torch_cpu_ref.py: A and B uniform in [0,1), one warm-up
/// call, then reps = max(3, 2e10 / (2mnk)) timed calls, GFLOP/s from the mean. Shapes are named m x k x n as there.
/// </summary>
public static class GemmBenchmark
{
    /// <summary>One benchmarked product: op(A) is m x k, op(B) is k x n.</summary>
    private readonly record struct Shape(string Key, int M, int K, int N, bool TransA, bool TransB, string Note);

    private static readonly Shape[] Shapes =
    [
        new("sgemm_256x256x256", 256, 256, 256, false, false, "square"),
        new("sgemm_1024x1024x1024", 1024, 1024, 1024, false, false, "square"),
        new("sgemm_2048x2048x2048", 2048, 2048, 2048, false, false, "square"),
        new("sgemm_128x784x400", 128, 784, 400, false, false, "AE: x[128,784] W[784,400]"),
        new("sgemm_128x400x784", 128, 400, 784, false, false, "AE: h[128,400] W[400,784]"),
        // Training variants of a Linear layer y = x W^T with W [out, in] (PyTorch layout):
        new("nt_128x784x400", 128, 784, 400, false, true, "fwd x W^T, fc1"),
        new("nt_128x400x784", 128, 400, 784, false, true, "fwd h W^T, fc4"),
        new("tn_400x128x784", 400, 128, 784, true, false, "dW1 = dy^T x"),
        new("tn_784x128x400", 784, 128, 400, true, false, "dW4 = dy^T h"),
        new("nn_128x400x784", 128, 400, 784, false, false, "dx = dy W (fc1 input grad)"),
        new("tt_400x128x784", 400, 128, 784, true, true, "A^T B^T"),
    ];

    public static int Run(string[] args)
    {
        string? json = Program.Option(args, "--json");
        if (Program.Option(args, "--threads") is string t) CpuGemm.MaxThreads = int.Parse(t, CultureInfo.InvariantCulture);

        var (peak1, peakAll) = PeakBenchmark.Measure();
        Console.WriteLine($"CpuGemm kernel {CpuGemm.KernelName}, {CpuGemm.MaxThreads} threads; " +
                          $"FMA peak ({PeakBenchmark.Width()}): 1 thread {peak1:F1} GFLOP/s, {Environment.ProcessorCount} threads {peakAll:F1} GFLOP/s");
        Console.WriteLine();
        Console.WriteLine($"{"shape (m x k x n)",-24} {"op",-5} {"GFLOP/s",8} {"%peak1",7} {"%peakN",7} {"ms/call",9}  note");

        var results = new List<(string Key, double Gflops)>();
        foreach (var s in Shapes)
        {
            double g = Measure(s.M, s.K, s.N, s.TransA, s.TransB, out double seconds);
            results.Add((s.Key, g));
            string op = (s.TransA ? "T" : "N") + (s.TransB ? "T" : "N");
            Console.WriteLine($"{$"{s.M}x{s.K}x{s.N}",-24} {op,-5} {g,8:F1} {100 * g / peak1,6:F0}% {100 * g / peakAll,6:F0}% {seconds * 1e3,9:F3}  {s.Note}");
        }

        if (json is not null)
        {
            var sb = new StringBuilder("{\n");
            sb.Append(CultureInfo.InvariantCulture, $"  \"fma_peak_1thread_gflops\": {peak1:F2},\n");
            sb.Append(CultureInfo.InvariantCulture, $"  \"fma_peak_all_gflops\": {peakAll:F2},\n");
            sb.Append(CultureInfo.InvariantCulture, $"  \"threads\": {CpuGemm.MaxThreads},\n");
            for (int i = 0; i < results.Count; i++)
                sb.Append(CultureInfo.InvariantCulture, $"  \"{results[i].Key}_gflops\": {results[i].Gflops:F2}{(i + 1 < results.Count ? "," : "")}\n");
            sb.Append("}\n");
            File.WriteAllText(json, sb.ToString());
        }
        return 0;
    }

    /// <summary>Mean GFLOP/s of C = op(A) op(B), op(A) m x k, op(B) k x n.</summary>
    public static double Measure(int m, int k, int n, bool transA, bool transB, out double secondsPerCall)
    {
        var rng = new Random(42);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle();
        for (int i = 0; i < b.Length; i++) b[i] = rng.NextSingle();

        double flops = 2.0 * m * n * k;
        CpuGemm.Multiply(a, 0, b, 0, c, 0, m, n, k, transA, transB, false); // warm-up
        int reps = Math.Max(3, (int)(2e10 / flops));
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < reps; r++) CpuGemm.Multiply(a, 0, b, 0, c, 0, m, n, k, transA, transB, false);
        secondsPerCall = sw.Elapsed.TotalSeconds / reps;
        return flops / secondsPerCall / 1e9;
    }
}
