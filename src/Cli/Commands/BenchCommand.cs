using System.Globalization;
using NeuralCore.Benchmarks;
using NeuralCore.Kernels.Gpu;
using NeuralCore.Models.Data;

namespace NeuralCore.Cli.Commands;

/// <summary>
/// <c>neuralcore bench</c>: the kernel table (GEMM, convolution, elementwise) of one device, with the measured FMA peak,
/// then the peer's end-to-end training workloads on that device.
/// </summary>
internal static class BenchCommand
{
    public const string Help = """
        neuralcore bench - time the kernels of a device: GEMM and convolution in GFLOP/s (and % of the measured
        FMA peak), elementwise ops in GB/s, at the shapes the autoencoders train with; then train the peer's two
        workloads (MLP VAE 784-400-20 and the conv AE; batch 128, Adam 1e-3, bundled MNIST-10k, seed 0) and print
        seconds per epoch (median) and the test loss

        usage: neuralcore bench [--device NAME] [--epochs N] [--quick]

          --device NAME       cpu (default, SIMD) | reference (naive oracle, slow: use --quick) |
                              cuda | opencl | ilgpu-cpu (ILGPU; at n = 4096 each GEMM kernel is also timed alone)
          --threads N         CPU threads with --device cpu (default: every core)
          --epochs N          epochs of each training workload (default 3; 0 skips them; --quick: default 0)
          --quick             skip the big square GEMMs and time each kernel briefly (a smoke test)

        The side-by-side comparison with PyTorch on this CPU is bench/compare.sh in the repository.
        """;

    public static int Run(CommandLine cl)
    {
        bool quick = cl.Flag("quick");
        int epochs = cl.Int("epochs", quick ? 0 : 3, 0, 1000);
        using var backend = Devices.Open(cl);
        cl.RejectUnknown();
        var data = epochs > 0 ? MnistDataset.LoadBundled() : null;   // fail on missing data before the long part
        Console.WriteLine($"device {backend.Name}{(quick ? " (quick)" : "")}: measuring the FMA peak...");
        var peak = KernelBenchmarks.MeasurePeak(quick);
        var gemmKernels = backend is IlgpuBackend gpu ? new GemmKernelChoice(gpu.GemmKernels, kernel => gpu.ForcedGemmKernel = kernel) : null;
        var results = KernelBenchmarks.Run(backend, quick, gemmKernels);
        Console.WriteLine(KernelBenchmarks.FormatMarkdown(results, peak, onCpu: backend.Name is "cpu" or "reference"));
        if (data == null) return 0;

        Console.WriteLine();
        Console.WriteLine($"end to end on {backend.Name}: {epochs} epochs each, batch 128, Adam 1e-3, MNIST-10k ({data.TrainImages.Count} train / {data.TestImages.Count} test), seed 0");
        Console.WriteLine();
        Console.WriteLine("| workload | s/epoch (median) | epochs (s) | test loss per sample | managed bytes per step |");
        Console.WriteLine("|---|---:|---|---:|---:|");
        foreach (string workload in TrainingBenchmark.Workloads)
        {
            var r = TrainingBenchmark.Run(backend, data, workload, epochs);
            string each = string.Join(", ", r.EpochSeconds.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)));
            string bytes = double.IsNaN(r.AllocatedBytesPerStep) ? "-" : r.AllocatedBytesPerStep.ToString("N0", CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {workload}: {TrainingBenchmark.Describe(workload)} | {r.EpochSecondsMedian:F3} | {each} | {r.TestLossPerSample:F3} | {bytes} |"));
        }
        return 0;
    }
}
