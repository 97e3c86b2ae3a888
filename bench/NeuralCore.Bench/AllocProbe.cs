using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Optimizers;

namespace NeuralCore.Bench;

/// <summary>Managed bytes allocated by each part of a training step (ZeroGrad, forward, backward, Adam step), per step after warm-up: where the garbage comes from.</summary>
public static class AllocProbe
{
    public static int Run(string[] args)
    {
        var data = MnistDataset.LoadBundled();
        foreach (var kind in new[] { "vae", "conv-ae" })
        {
            using var cpu = Program.NewCpu(args);
            var spec = kind == "vae" ? new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 20 }
                : new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 };
            var model = ModelFactory.Create(spec, cpu, new SeededRandom(0));
            var opt = new Adam(model.Parameters(), 1e-3f);
            var rnd = new SeededRandom(2);
            var batch = data.TrainImages.Pixels.AsSpan(0, 128 * 784).ToArray();
            long[] acc = new long[7];
            long total0 = 0;
            for (int it = 0; it < 60; it++)
            {
                if (it == 10) total0 = GC.GetTotalAllocatedBytes(true);
                long t0 = GC.GetTotalAllocatedBytes(true);
                using (TensorScope.Begin())
                {
                    var x = Tensor.FromArray(cpu, batch, new Shape(128, 784));
                    long t1 = GC.GetTotalAllocatedBytes(true);
                    opt.ZeroGrad();
                    long t2 = GC.GetTotalAllocatedBytes(true);
                    var parts = model.ComputeLoss(x, rnd);
                    long t3 = GC.GetTotalAllocatedBytes(true);
                    parts.Total.Backward();
                    long t4 = GC.GetTotalAllocatedBytes(true);
                    parts.Total.Item();
                    opt.Step();
                    long t5 = GC.GetTotalAllocatedBytes(true);
                    if (it >= 10) { acc[0] += t1 - t0; acc[1] += t2 - t1; acc[2] += t3 - t2; acc[3] += t4 - t3; acc[4] += t5 - t4; }
                }
            }
            long total = (GC.GetTotalAllocatedBytes(true) - total0) / 50;
            Console.WriteLine($"{kind}: whole step incl. scope disposal {total} B; fromArray {acc[0] / 50} zeroGrad {acc[1] / 50} forward {acc[2] / 50} backward {acc[3] / 50} step {acc[4] / 50}");
        }
        return 0;
    }
}

/// <summary>Per-step managed allocation inside Trainer.RunEpoch (via its progress callback), to find outliers.</summary>
public static class TrainerAllocProbe
{
    public static int Run(string[] args)
    {
        var data = MnistDataset.LoadBundled();
        using var cpu = Program.NewCpu(args);
        var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 };
        var model = ModelFactory.Create(spec, cpu, new SeededRandom(0));
        var trainer = new NeuralCore.Models.Training.Trainer(model, new NeuralCore.Models.Training.TrainingOptions());
        var deltas = new List<(int Epoch, int Step, long Bytes)>();
        long last = 0;
        for (int e = 0; e < 3; e++)
        {
            last = GC.GetTotalAllocatedBytes(true);
            long start = last;
            trainer.RunEpoch(data.TrainImages.Pixels, data.TrainImages.Count, data.TestImages.Pixels, 0, p =>
            {
                long now = GC.GetTotalAllocatedBytes(true);
                deltas.Add((p.Epoch, p.Step, now - last));
                last = GC.GetTotalAllocatedBytes(true);
            });
            Console.WriteLine($"epoch {e + 1}: total {GC.GetTotalAllocatedBytes(true) - start} B");
        }
        foreach (var d in deltas.Where(d => d.Epoch > 1).OrderByDescending(d => d.Bytes).Take(8)) Console.WriteLine($"  epoch {d.Epoch} step {d.Step}: {d.Bytes} B");
        Console.WriteLine($"  median {deltas.Where(d => d.Epoch > 1).Select(d => d.Bytes).Order().ElementAt(deltas.Count(d => d.Epoch > 1) / 2)} B");
        return 0;
    }
}
