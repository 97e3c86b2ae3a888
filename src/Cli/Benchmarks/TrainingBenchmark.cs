using System.Diagnostics;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Layers;
using NeuralCore.Models.Training;

namespace NeuralCore.Benchmarks;

/// <summary>Figures of one end-to-end training workload; <c>GflopPerEpoch</c> is the matrix-product work of one epoch
/// (see <see cref="TrainingBenchmark.MatMulFlopsPerRow"/>), NaN when not counted.</summary>
internal sealed record TrainingResult(string Name, int Epochs, double EpochSecondsMedian, double[] EpochSeconds, double TestLossPerSample,
    double AllocatedBytesPerStep, int StepsPerEpoch, double GflopPerEpoch = double.NaN)
{
    /// <summary>Matrix-product GFLOP per second of the median epoch.</summary>
    public double Gflops => GflopPerEpoch / EpochSecondsMedian;
}

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
        double gflop = MatMulFlopsPerRow(model) is long perRow ? (double)perRow * tr.Count / 1e9 : double.NaN;
        return new TrainingResult(workload, epochs, median, seconds, eval.Loss, perStep, steps, gflop);
    }

    /// <summary>
    /// Floating-point operations of the matrix products of one training row of an MLP model, counted from its layers'
    /// shapes: each <see cref="Linear"/> layer (in -> out) does 2·in·out for its output, 2·in·out for its weight gradient
    /// and 2·in·out for its input gradient, except the encoder's first layer, whose input is the data and gets no
    /// gradient. Elementwise work (activations, loss, optimizer) is not counted. Null for models with convolutions.
    /// </summary>
    public static long? MatMulFlopsPerRow(Autoencoder model)
    {
        long flops = 0;
        bool first = true;
        foreach (var module in Walk(model))
        {
            if (module is ConvolutionLayer) return null;
            if (module is not Linear linear) continue;
            long products = 2L * linear.InFeatures * linear.OutFeatures;
            flops += first ? 2 * products : 3 * products;
            first = false;
        }
        return flops;

        // the encoder's layers come first in registration order (encoder, decoder, then a VAE's heads)
        static IEnumerable<Module> Walk(Module m)
        {
            yield return m;
            foreach (var (_, child) in m.Children())
                foreach (var inner in Walk(child)) yield return inner;
        }
    }
}
