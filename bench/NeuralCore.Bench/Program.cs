namespace NeuralCore.Bench;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/NeuralCore.Bench -- &lt;benchmark&gt; [options]</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "help";
        string[] rest = args.Length > 0 ? args[1..] : [];
        switch (command)
        {
            case "gemm":
                return GemmBenchmark.Run(rest);
            case "peak":
                return PeakBenchmark.Run(rest);
            case "conv":
                return ConvBenchmark.Run(rest);
            case "allocprobe2":
                return AllocProbe2.Run(rest);
            case "allocprobe":
                return AllocProbe.Run(rest);
            case "train":
            {
                var data = NeuralCore.Models.Data.MnistDataset.LoadBundled();
                int epochs = Option(rest, "--epochs") is string ep ? int.Parse(ep) : 10;
                foreach (var w in TrainingBenchmark.Workloads)
                {
                    using var cpu = new NeuralCore.Kernels.Cpu.CpuBackend();
                    var r = TrainingBenchmark.Run(cpu, data, w, epochs);
                    Console.WriteLine($"{w}: median {r.EpochSecondsMedian:F3} s/epoch, test {r.TestLossPerSample:F3}, {r.AllocatedBytesPerStep:F0} B/step; epochs {string.Join(" ", r.EpochSeconds.Select(x => x.ToString("F3")))}");
                }
                return 0;
            }
            default:
                Console.WriteLine("usage: NeuralCore.Bench <benchmark> [options]");
                Console.WriteLine("  gemm [--json FILE] [--threads N]  GEMM GFLOP/s: square sizes, autoencoder shapes, training transposes, FMA peak");
                Console.WriteLine("  peak                             measured FMA peak only (one thread and all threads)");
                Console.WriteLine("  conv                             conv autoencoder layers (forward, backward data, backward weight)");
                return command == "help" ? 0 : 2;
        }
    }

    /// <summary>Value following <paramref name="name"/> in args, or null.</summary>
    internal static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
