using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>The pictures written after training: loss curve, reconstructions, VAE samples, gradient norms.</summary>
internal static class Pictures
{
    /// <summary>codebook-usage.png: how often the test split chose each code, with the perplexity in the title.</summary>
    public static void WriteCodebookUsage(string dir, VqVae model, Dataset data)
    {
        var split = data.TestCount > 0 ? (data.Test, data.TestCount, "test") : (data.Train, data.TrainCount, "train");
        var codes = model.CodesOf(split.Item1, split.Item2);
        var counts = new long[model.CodebookSize];
        foreach (int c in codes) counts[c]++;
        double perplexity = VectorQuantizer.Perplexity(counts);
        var shares = counts.Select(c => (float)(100.0 * c / codes.Length)).ToList();
        Plot.WriteBars(Path.Combine(dir, "codebook-usage.png"), shares,
            $"{split.Item3} codes: perplexity {perplexity:F1}, {counts.Count(c => c > 0)}/{counts.Length} used", "code", "% of cells");
    }

    public static void WriteAll(string dir, Autoencoder model, Dataset data, IReadOnlyList<EpochMetrics> history, ulong seed)
    {
        if (history.Count > 0)
        {
            var series = new List<PlotSeries>
            {
                new("train", history.Select(h => (float)h.TrainLoss).ToList()),
                new("test", history.Select(h => (float)h.TestLoss).ToList()),
            };
            Plot.WriteLines(Path.Combine(dir, "loss.png"), series, "loss per sample", "epoch", "loss");
            if (history[^1].GradientNorms is { } last)
            {
                var grads = last.Keys.Where(k => k.EndsWith("weight", StringComparison.Ordinal))
                    .Select(k => new PlotSeries(k, history.Select(h => (float)Math.Log10(Math.Max(1e-12, h.GradientNorms![k]))).ToList()))
                    .ToList();
                Plot.WriteLines(Path.Combine(dir, "grad-norms.png"), grads, "log10 gradient norm per layer", "epoch", "log10 norm");
            }
        }
        if (data.ImageShape is not { } image) return;
        int h = image[1], w = image[2], features = data.Features;
        int count = Math.Min(10, data.TestCount);
        var clean = data.Test.AsSpan(0, count * features).ToArray();
        var backend = model.Parameters()[0].Backend;
        var rows = new List<float[]> { clean };
        using (Autograd.NoGrad())
        using (TensorScope.Begin())
        {
            var x = Tensor.FromArray(backend, clean, new Shape(count, features));
            var input = x;
            if (model.Spec.IsDenoising)
            {
                input = model.Corrupt(x, SeededRandom.ForStream(seed, RandomStream.Pictures));
                rows.Add(input.ToArray());
            }
            model.Eval();
            rows.Add(model.Forward(input).ToArray());
            model.Train();
            var all = rows.SelectMany(r => r).ToArray();
            ImageGrid.Write(Path.Combine(dir, "reconstructions.png"), all, count * rows.Count, h, w, columns: count, scale: 2);
            if (model is VqVae vq) WriteCodebookUsage(dir, vq, data);
            if (model is VariationalAutoencoder vae)
            {
                var samples = vae.Generate(64, SeededRandom.ForStream(seed, RandomStream.Pictures)).ToArray();
                ImageGrid.Write(Path.Combine(dir, "samples.png"), samples, 64, h, w, columns: 8, scale: 2);
            }
        }
    }
}
