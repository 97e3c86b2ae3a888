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
