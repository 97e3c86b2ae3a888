using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using NeuralCore.Benchmarks;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Bench;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/NeuralCore.Bench -- &lt;benchmark&gt; [options]</c>.</summary>
public static class Program
{
    private const string Usage = """
        usage: NeuralCore.Bench <benchmark> [options]
          every benchmark takes [--threads N]      CPU threads of the backend (default: every core)
          all [--out DIR] [--epochs N] [--quick] [--rng pytorch|xoshiro]
                                                   everything below on the CPU backend; writes DIR/results.json and DIR/results.md
                                                   (default DIR bench/results, 10 epochs)
          kernels [--quick]                        kernel table: GEMM, conv, elementwise, with the measured FMA peak
          train [--epochs N] [--only vae|convae] [--seeds 0,1,..] [--rng pytorch|xoshiro]
                                                   end-to-end workloads of bench/peers/torch_cpu_ref.py (seed 0 by default;
                                                   --rng pytorch, the default, draws weights and batch order as torch.manual_seed(seed))
          gemm [--json FILE]                       GEMM rows only (FILE gets the peer's sgemm_* keys)
          peak                                     measured FMA peak (one thread and all threads)
          alloc                                    managed bytes per part of a training step
          alloc-trainer                            managed bytes of every step inside Trainer.RunEpoch (outliers, median)
          torch-parity --dir DIR                   conv AE from PyTorch's initial weights in PyTorch's data order (bench/torch_parity.py)
        """;

    /// <summary>The CPU threads that <c>--threads N</c> in <paramref name="args"/> asks for (default: every core).</summary>
    internal static int Threads(string[] args) =>
        Option(args, "--threads") is string t ? int.Parse(t, CultureInfo.InvariantCulture) : Environment.ProcessorCount;

    /// <summary>A CPU backend with the threads of <c>--threads N</c> in <paramref name="args"/>.</summary>
    internal static CpuBackend NewCpu(string[] args) => new(Threads(args));

    public static int Main(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "help";
        string[] rest = args.Length > 0 ? args[1..] : [];
        string rngName = Option(rest, "--rng") ?? "pytorch";
        if (!RandomAlgorithmNames.TryParse(rngName, out var rng))
            throw new ArgumentException($"--rng {rngName}: choose {RandomAlgorithmNames.Choices}");
        switch (command)
        {
            case "all": return All(rest, rng);
            case "kernels":
            {
                bool quick = rest.Contains("--quick");
                var peak = KernelBenchmarks.MeasurePeak(quick);
                using var cpu = NewCpu(rest);
                Console.WriteLine(KernelBenchmarks.FormatMarkdown(KernelBenchmarks.Run(cpu, quick), peak));
                return 0;
            }
            case "gemm":
            {
                var peak = KernelBenchmarks.MeasurePeak();
                using var cpu = NewCpu(rest);
                var gemm = KernelBenchmarks.Run(cpu, quick: false).Where(r => r.Group == "gemm").ToList();
                Console.WriteLine(KernelBenchmarks.FormatMarkdown(gemm, peak));
                if (Option(rest, "--json") is string json) File.WriteAllText(json, ToJson(peak, gemm, [], Threads(rest)));
                return 0;
            }
            case "peak":
            {
                var p = KernelBenchmarks.MeasurePeak();
                Console.WriteLine($"FMA peak ({p.Width}): 1 thread {p.OneThread:F1} GFLOP/s, {p.Threads} threads {p.AllThreads:F1} GFLOP/s");
                return 0;
            }
            case "train":
            {
                int epochs = Option(rest, "--epochs") is string e ? int.Parse(e, CultureInfo.InvariantCulture) : 10;
                var only = Option(rest, "--only");
                var seeds = (Option(rest, "--seeds") ?? "0").Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture));
                var data = MnistDataset.LoadBundled();
                foreach (var w in TrainingBenchmark.Workloads.Where(w => only == null || w == only))
                foreach (ulong seed in seeds)
                {
                    Console.Write($"seed {seed} ");
                    Print(RunTraining(rest, data, w, epochs, seed, rng));
                }
                return 0;
            }
            case "alloc": return AllocProbe.Run(rest);
            case "alloc-trainer": return TrainerAllocProbe.Run(rest);
            case "torch-parity": return TorchParity.Run(rest);
            default:
                Console.WriteLine(Usage);
                return command == "help" ? 0 : 2;
        }
    }

    /// <summary>The one command of issue 6: peak, kernels and both training workloads, written as JSON and markdown.</summary>
    private static int All(string[] args, RandomAlgorithm rng)
    {
        string outDir = Option(args, "--out") ?? Path.Combine("bench", "results");
        int epochs = Option(args, "--epochs") is string e ? int.Parse(e, CultureInfo.InvariantCulture) : 10;
        bool quick = args.Contains("--quick");
        Directory.CreateDirectory(outDir);
        var data = MnistDataset.LoadBundled();

        // Training first, on a quiet process; then the kernels.
        var training = new List<TrainingResult>();
        foreach (var w in TrainingBenchmark.Workloads)
        {
            var r = RunTraining(args, data, w, epochs, rng: rng);
            Print(r);
            training.Add(r);
        }
        var peak = KernelBenchmarks.MeasurePeak(quick);
        List<KernelResult> kernels;
        using (var cpu = NewCpu(args)) kernels = KernelBenchmarks.Run(cpu, quick);

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"NeuralCore benchmarks, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Machine()}");
        md.AppendLine();
        md.AppendLine("| workload | epochs | s/epoch (median) | test loss / sample | managed bytes / step after epoch 1 | GFLOP / epoch (matrix products) | GFLOP/s | % of all-core FMA peak |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in training)
        {
            string rate = double.IsNaN(r.GflopPerEpoch) ? "- | - | -"
                : string.Create(CultureInfo.InvariantCulture, $"{r.GflopPerEpoch:F2} | {r.Gflops:F0} | {100 * r.Gflops / peak.AllThreads:F0}%");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Epochs} | {r.EpochSecondsMedian:F3} | {r.TestLossPerSample:F3} | {r.AllocatedBytesPerStep:F0} | {rate} |");
        }
        md.AppendLine();
        md.Append(KernelBenchmarks.FormatMarkdown(kernels, peak));
        string markdown = md.ToString();
        File.WriteAllText(Path.Combine(outDir, "results.md"), markdown);
        File.WriteAllText(Path.Combine(outDir, "results.json"), ToJson(peak, kernels, training, Threads(args)));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"written {Path.Combine(outDir, "results.json")} and {Path.Combine(outDir, "results.md")}");
        return 0;
    }

    private static TrainingResult RunTraining(string[] args, MnistDataset data, string workload, int epochs, ulong seed = 0,
        RandomAlgorithm rng = RandomAlgorithm.PyTorch)
    {
        using var cpu = NewCpu(args);
        return TrainingBenchmark.Run(cpu, data, workload, epochs, seed, rng);
    }

    private static void Print(TrainingResult r)
    {
        string rate = double.IsNaN(r.GflopPerEpoch) ? ""
            : string.Create(CultureInfo.InvariantCulture, $"; matrix products {r.GflopPerEpoch:F2} GFLOP per epoch, {r.Gflops:F0} GFLOP/s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Name}: {r.EpochSecondsMedian:F3} s/epoch (median of {r.Epochs}), test loss {r.TestLossPerSample:F3}/sample, " +
            $"{r.AllocatedBytesPerStep:F0} managed bytes per step after epoch 1; epochs [{string.Join(", ", r.EpochSeconds.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)))}] s{rate}"));
    }

    private static string Machine() =>
        $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}, {RuntimeInformation.FrameworkDescription}, " +
        $"GEMM kernel {CpuGemm.KernelName}";

    /// <summary>Flat keys for compare.sh (the peer's sgemm_*_gflops, vae/convae objects) plus every kernel row.</summary>
    private static string ToJson(PeakResult peak, IReadOnlyList<KernelResult> kernels, IReadOnlyList<TrainingResult> training, int threads)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("date_utc", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture));
            w.WriteString("machine", Machine());
            w.WriteNumber("threads", threads);
            w.WriteNumber("fma_peak_1thread_gflops", Math.Round(peak.OneThread, 2));
            w.WriteNumber("fma_peak_all_gflops", Math.Round(peak.AllThreads, 2));
            foreach (var k in kernels.Where(k => k.Group == "gemm"))
                w.WriteNumber(k.Key + "_gflops", Math.Round(k.Gflops, 2));
            foreach (var r in training)
            {
                w.WriteStartObject(r.Name);
                w.WriteNumber("epochs", r.Epochs);
                w.WriteNumber("epoch_s_median", Math.Round(r.EpochSecondsMedian, 4));
                w.WriteNumber("test_loss_per_sample", Math.Round(r.TestLossPerSample, 3));
                w.WriteNumber("alloc_bytes_per_step", Math.Round(r.AllocatedBytesPerStep));
                if (!double.IsNaN(r.GflopPerEpoch))
                {
                    w.WriteNumber("gflop_per_epoch", Math.Round(r.GflopPerEpoch, 4));
                    w.WriteNumber("gflops", Math.Round(r.Gflops, 2));
                    w.WriteNumber("pct_peak_all", Math.Round(100 * r.Gflops / peak.AllThreads, 1));
                }
                w.WriteStartArray("epoch_s");
                foreach (double s in r.EpochSeconds) w.WriteNumberValue(Math.Round(s, 4));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteStartArray("kernels");
            foreach (var k in kernels)
            {
                w.WriteStartObject();
                w.WriteString("group", k.Group);
                w.WriteString("key", k.Key);
                w.WriteString("shape", k.Shape);
                w.WriteNumber("ms", Math.Round(k.Milliseconds, 4));
                if (!double.IsNaN(k.Gflops))
                {
                    w.WriteNumber("gflops", Math.Round(k.Gflops, 2));
                    w.WriteNumber("pct_peak_1thread", Math.Round(100 * k.Gflops / peak.OneThread, 1));
                    w.WriteNumber("pct_peak_all", Math.Round(100 * k.Gflops / peak.AllThreads, 1));
                }
                if (!double.IsNaN(k.GBps)) w.WriteNumber("gbps", Math.Round(k.GBps, 2));
                w.WriteString("note", k.Note);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Value following <paramref name="name"/> in args, or null.</summary>
    internal static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
