using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Applications;

/// <summary>How well a denoising autoencoder removes its own kind of noise.</summary>
/// <param name="NoisyMse">Mean squared error of the corrupted inputs against the clean data.</param>
/// <param name="DenoisedMse">Mean squared error of the reconstructions of the corrupted inputs against the clean data.</param>
public readonly record struct DenoisingResult(double NoisyMse, double DenoisedMse)
{
    /// <summary>How many times closer to the clean data the denoised rows are than the noisy ones.</summary>
    public double Improvement => NoisyMse / Math.Max(DenoisedMse, 1e-30);
}

/// <summary>Measures denoising on held-out rows.</summary>
public static class Denoising
{
    /// <summary>Corrupts each row with the model's noise (seeded), reconstructs it, and compares both to the clean row.</summary>
    public static DenoisingResult Measure(Autoencoder model, float[] rows, int count, ulong seed = 0, int batchSize = 500)
    {
        int f = model.Spec.InputFeatures;
        var random = SeededRandom.ForStream(seed, RandomStream.DenoisingMeasure);
        double noisy = 0, denoised = 0;
        model.ForEachBatch(rows, count, f, batchSize, (clean, _) =>
        {
            var corrupted = model.Corrupt(clean, random);
            noisy += corrupted.MseLoss(clean, Reduction.Sum).Item();
            denoised += model.Forward(corrupted).MseLoss(clean, Reduction.Sum).Item();
        });
        return new DenoisingResult(noisy / ((double)count * f), denoised / ((double)count * f));
    }
}
