using System.Diagnostics;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Benchmarks;

/// <summary>Figures of one end-to-end training workload.</summary>
internal sealed record TrainingResult(string Name, int Epochs, double EpochSecondsMedian, double[] EpochSeconds, double TestLossPerSample,
    double AllocatedBytesPerStep, int StepsPerEpoch);

/// <summary>
/// The peer's end-to-end workloads (bench/peers/torch_cpu_ref.py), built with the library exactly as
/// <c>neuralcore train</c> builds them: "vae" = MLP VAE 784-400-20 (summed BCE + KL), "convae" = conv AE latent 32
/// (summed BCE); Adam 1e-3, batch 128, the 8,000-image MNIST-10k train split, seed 0
/// drawn by PyTorch's generator (so both start from the same weights and batch order as the peer's <c>torch.manual_seed(0)</c>). Reports the median wall-clock
/// seconds of one epoch (training steps only, like the peer), the test loss per sample on the 2,000 test images after
/// the last epoch, and the managed bytes allocated per training step after the first epoch (all threads:
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/>, so that the kernels' worker threads count too).
/// Used by <c>bench/NeuralCore.Bench</c> (the CPU comparison with PyTorch) and <c>neuralcore bench --device NAME</c>
/// (this file is compiled into both).
/// </summary>
internal static class TrainingBenchmark
{
    public static readonly string[] Workloads = ["vae", "convae"];

    /// <summary>What each workload is, for tables.</summary>
    public static string Describe(string workload) => workload switch
    {
        "vae" => "MLP VAE 784-400-20",
        "convae" => "conv AE (16, 32 channels, latent 32)",
        _ => workload,
    };

    public static TrainingResult Run(IBackend backend, MnistDataset data, string workload, int epochs, ulong seed = 0,
        RandomAlgorithm rng = RandomAlgorithm.PyTorch)
    {
        var tr = data.TrainImages;
        var te = data.TestImages;
        var spec = workload switch
        {
            "vae" => new ModelSpec { Kind = "vae", InputFeatures = tr.PixelsPerImage, Latent = 20, Hidden = [400] },
            "convae" => new ModelSpec { Kind = "conv-ae", InputFeatures = tr.PixelsPerImage, ImageShape = [1, tr.Rows, tr.Cols], Latent = 32 },
            _ => throw new ArgumentException($"unknown workload '{workload}'; choose vae or convae"),
        };
        var trainer = Trainer.ForNewModel(spec, backend, new TrainingOptions { Epochs = epochs, BatchSize = 128, LearningRate = 1e-3f, Seed = seed, Rng = rng });
        var model = trainer.Model;
        int steps = (tr.Count + 127) / 128;
        var seconds = new double[epochs];
        long allocated = 0;
        for (int e = 0; e < epochs; e++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            trainer.RunEpoch(tr.Pixels, tr.Count, te.Pixels, 0);
            seconds[e] = clock.Elapsed.TotalSeconds;
            long after = GC.GetTotalAllocatedBytes(precise: true);
            if (e > 0) allocated += after - before;
        }
        double perStep = epochs > 1 ? (double)allocated / ((epochs - 1) * steps) : double.NaN;
        var eval = Trainer.Evaluate(model, te.Pixels, te.Count, 500, seed);
        var sorted = seconds.Order().ToArray();
        double median = epochs == 0 ? double.NaN : epochs % 2 == 1 ? sorted[epochs / 2] : 0.5 * (sorted[epochs / 2 - 1] + sorted[epochs / 2]);
        return new TrainingResult(workload, epochs, median, seconds, eval.Loss, perStep, steps);
    }
}
