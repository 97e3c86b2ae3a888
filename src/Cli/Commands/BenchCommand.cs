using System.CommandLine;
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
    private static readonly Option<int?> Epochs = CliOption.OptionalInt("--epochs",
        "epochs of each training workload (0 skips them)", "3; with --quick 0", 0, 1000);
    private static readonly Option<bool> Quick = CliOption.Flag("--quick",
        "skip the big square GEMMs and time each kernel briefly (a smoke test; use it with --device reference)");
    private static readonly Option<bool> Batch1 = CliOption.Flag("--batch1",
        "only the batch-1 rows: one MNIST row reconstructed through the 784-400-20-400-784 AE, us and bytes per call");

    public static CliCommand Create() => new CliCommand("bench", "time the kernels of a device (GEMM, convolution, elementwise)", Run)
    {
        Title = """
            time the kernels of a device: GEMM and convolution in GFLOP/s (and % of the measured
            FMA peak), elementwise ops in GB/s, at the shapes the autoencoders train with; then train the peer's two
            workloads (MLP VAE 784-400-20 and the conv AE; batch 128, Adam 1e-3, bundled MNIST-10k, seed 0) and print
            seconds per epoch (median) and the test loss
            """,
        Usage = ["[--device NAME] [--epochs N] [--quick]", "--batch1 [--quick]"],
        Notes = """
            on cuda, opencl and ilgpu-cpu each GEMM kernel is also timed alone at n = 4096. On cpu the kernel table is
            followed by batch-1 reconstruction: RowInference (the caller's span, no allocation) beside the model's tensor
            path, each call timed alone (p50, p99) and the bytes it allocates.
            The side-by-side comparison with PyTorch on this CPU is bench/compare.sh in the repository.
            """,
    }.With([.. CommonOptions.DeviceOptions, Epochs, Quick, Batch1]);

    private static int Run(Args args)
    {
        bool quick = args.Get(Quick);
        int epochs = args.Get(Epochs) ?? (quick ? 0 : 3);
        using var backend = Devices.Open(args);
        if (args.Get(Batch1))
        {
            Console.WriteLine(RowLatencyBenchmark.FormatMarkdown(RowLatencyBenchmark.Run(backend, quick), backend.Name));
            return 0;
        }
        var data = epochs > 0 ? MnistDataset.LoadBundled() : null;   // fail on missing data before the long part
        Console.WriteLine($"device {backend.Name}{(quick ? " (quick)" : "")}: measuring the FMA peak...");
        var peak = KernelBenchmarks.MeasurePeak(quick);
        var gemmKernels = backend is IlgpuBackend gpu ? new GemmKernelChoice(gpu.GemmKernels, kernel => gpu.ForcedGemmKernel = kernel) : null;
        var results = KernelBenchmarks.Run(backend, quick, gemmKernels);
        Console.WriteLine(KernelBenchmarks.FormatMarkdown(results, peak, onCpu: backend.Name is "cpu" or "reference"));
        if (backend.Name == "cpu")
        {
            Console.WriteLine();
            Console.WriteLine(RowLatencyBenchmark.FormatMarkdown(RowLatencyBenchmark.Run(backend, quick), backend.Name));
        }
        if (data == null) return 0;

        Console.WriteLine();
        Console.WriteLine($"end to end on {backend.Name}: {epochs} epochs each, batch 128, Adam 1e-3, MNIST-10k ({data.TrainImages.Count} train / {data.TestImages.Count} test), seed 0");
        Console.WriteLine();
        Console.WriteLine("| workload | s/epoch (median) | epochs (s) | test loss per sample | managed bytes per step | matrix-product GFLOP/s (% of all-core FMA peak) |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        foreach (string workload in TrainingBenchmark.Workloads)
        {
            var r = TrainingBenchmark.Run(backend, data, workload, epochs);
            string each = string.Join(", ", r.EpochSeconds.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)));
            string bytes = double.IsNaN(r.AllocatedBytesPerStep) ? "-" : r.AllocatedBytesPerStep.ToString("N0", CultureInfo.InvariantCulture);
            string rate = double.IsNaN(r.GflopPerEpoch) ? "-"
                : string.Create(CultureInfo.InvariantCulture, $"{r.Gflops:F0} ({100 * r.Gflops / peak.AllThreads:F0}%) of {r.GflopPerEpoch:F2} GFLOP/epoch");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {workload}: {TrainingBenchmark.Describe(workload)} | {r.EpochSecondsMedian:F3} | {each} | {r.TestLossPerSample:F3} | {bytes} | {rate} |"));
        }
        return 0;
    }
}
