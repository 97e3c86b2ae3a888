using NeuralCore.Kernels.Benchmarks;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore bench</c>: the kernel table (GEMM, convolution, elementwise) of one device, with the measured FMA peak.</summary>
public static class BenchCommand
{
    public const string Help = """
        neuralcore bench - time the kernels of a device: GEMM and convolution in GFLOP/s (and % of the measured
        FMA peak), elementwise ops in GB/s, at the shapes the autoencoders train with

        usage: neuralcore bench [--device NAME] [--quick]

          --device NAME       cpu (default, SIMD) | reference (naive oracle, slow: use --quick) |
                              cuda | opencl | ilgpu-cpu (ILGPU; at n = 4096 each GEMM kernel is also timed alone)
          --threads N         CPU threads with --device cpu (default: every core)
          --quick             skip the big square GEMMs and time each kernel briefly (a smoke test)

        The end-to-end comparison with PyTorch is bench/compare.sh in the repository.
        """;

    public static int Run(CommandLine cl)
    {
        bool quick = cl.Flag("quick");
        using var backend = Devices.Open(cl);
        cl.RejectUnknown();
        Console.WriteLine($"device {backend.Name}{(quick ? " (quick)" : "")}: measuring the FMA peak...");
        var peak = KernelBenchmarks.MeasurePeak(quick);
        var results = KernelBenchmarks.Run(backend, quick);
        Console.WriteLine(KernelBenchmarks.FormatMarkdown(results, peak));
        return 0;
    }
}
