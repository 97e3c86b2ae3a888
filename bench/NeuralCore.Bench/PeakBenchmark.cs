using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralCore.Bench;

/// <summary>
/// Measured FMA peak: a tight loop of independent vector FMAs (12 accumulators, far more than the FMA latency x
/// throughput product), once on one thread and once on every core at the same time.
/// </summary>
public static class PeakBenchmark
{
    public static int Run(string[] args)
    {
        var (one, all) = Measure();
        Console.WriteLine($"FMA peak ({Width()}): 1 thread {one,7:F1} GFLOP/s, {Environment.ProcessorCount} threads {all,7:F1} GFLOP/s");
        return 0;
    }

    public static string Width() => Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256";

    /// <summary>(single-thread, all-thread) peak in GFLOP/s; best of a few trials.</summary>
    public static (double One, double All) Measure()
    {
        const long iterations = 20_000_000;
        Loop(1000); // JIT
        double one = 0, all = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            var sw = Stopwatch.StartNew();
            double flops = Loop(iterations);
            one = Math.Max(one, flops / sw.Elapsed.TotalSeconds / 1e9);
        }
        int threads = Environment.ProcessorCount;
        for (int trial = 0; trial < 3; trial++)
        {
            var sw = Stopwatch.StartNew();
            var workers = new Thread[threads];
            double[] f = new double[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                workers[t] = new Thread(() => f[id] = Loop(iterations));
                workers[t].Start();
            }
            foreach (var w in workers) w.Join();
            all = Math.Max(all, f.Sum() / sw.Elapsed.TotalSeconds / 1e9);
        }
        return (one, all);
    }

    /// <summary>Runs the FMA loop and returns the flops performed (2 per lane per FMA).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Loop(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var x = Vector512.Create(0.999999f);
            var y = Vector512.Create(1e-7f);
            Vector512<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
                a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
                a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
                a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
                a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
                a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            }
            Sink = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
            return iterations * 12.0 * 16 * 2;
        }
        else
        {
            var x = Vector256.Create(0.999999f);
            var y = Vector256.Create(1e-7f);
            Vector256<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
                a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
                a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
                a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
                a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
                a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
            }
            Sink = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
            return iterations * 12.0 * 8 * 2;
        }
    }

    /// <summary>Keeps the loop result alive.</summary>
    public static float Sink;
}
