using System.Diagnostics;
using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Bench;

/// <summary>Time per call of the conv autoencoder's convolutions at batch 128 (MNIST 28x28).</summary>
public static class ConvBenchmark
{
    public static int Run(string[] args)
    {
        var layers = new (string Name, ConvGeometry G)[]
        {
            ("conv1 1->16 28->14", new ConvGeometry(128, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1)),
            ("conv2 16->32 14->7", new ConvGeometry(128, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1)),
        };
        Console.WriteLine($"{"layer",-22} {"forward ms",11} {"bwd data ms",12} {"bwd weight ms",14}   (bwd data = transposed-conv forward)");
        foreach (var (name, g) in layers)
        {
            var rng = new Random(1);
            float[] x = Fill(rng, g.InputSize), w = Fill(rng, g.WeightSize), y = Fill(rng, g.OutputSize);
            float[] dx = new float[g.InputSize], dw = new float[g.WeightSize];
            double f = Time(() => CpuConvolution.Forward(x, w, y, g));
            double d = Time(() => CpuConvolution.BackwardData(y, w, dx, g));
            double wt = Time(() => CpuConvolution.BackwardWeight(x, y, dw, g));
            Console.WriteLine($"{name,-22} {f,11:F3} {d,12:F3} {wt,14:F3}");
        }
        return 0;
    }

    private static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextSingle() - 0.5f;
        return a;
    }

    private static double Time(Action action)
    {
        for (int i = 0; i < 5; i++) action();
        int reps = 50;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) action();
        return sw.Elapsed.TotalMilliseconds / reps;
    }
}
