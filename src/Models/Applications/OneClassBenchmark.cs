using System.Diagnostics;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Applications;

/// <summary>The result of one class of a one-class benchmark.</summary>
/// <param name="NormalClass">The class trained on; every other class of the test set is an anomaly.</param>
/// <param name="TrainCount">Training rows of that class.</param>
/// <param name="AutoencoderAuroc">AUROC of the autoencoder's reconstruction error on the whole test set.</param>
/// <param name="PcaAuroc">AUROC of PCA's reconstruction error (same number of components as the latent size).</param>
/// <param name="FinalTrainLoss">Training loss per sample of the last epoch.</param>
/// <param name="Seconds">Wall time of training and scoring both.</param>
public sealed record OneClassResult(int NormalClass, int TrainCount, double AutoencoderAuroc, double PcaAuroc, double FinalTrainLoss, double Seconds);

/// <summary>
/// One-class anomaly detection benchmark: for a class c, train an autoencoder on the training rows of class c
/// only, score every test row by reconstruction error, and measure the AUROC with "not class c" as the anomaly
/// label; a PCA with as many components as the latent size, fitted to the same rows, is the baseline.
/// </summary>
/// <example>
/// <code>
/// var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 };
/// var r = OneClassBenchmark.Run(backend, spec, new TrainingOptions { Epochs = 100 }, train, trainLabels, test, testLabels, normalClass: 3);
/// Console.WriteLine($"AE {r.AutoencoderAuroc:F4} vs PCA {r.PcaAuroc:F4}");
/// </code>
/// </example>
public static class OneClassBenchmark
{
    /// <summary>Runs class <paramref name="normalClass"/>: rows are [labels.Length, spec.InputFeatures] for both splits.</summary>
    /// <param name="backend">Where the model trains.</param>
    /// <param name="spec">The autoencoder to train (its latent size is also PCA's number of components).</param>
    /// <param name="options">Training settings; the model's initialisation is seeded with options.Seed + normalClass.</param>
    /// <param name="train">Training rows of all classes, [trainLabels.Length, features].</param>
    /// <param name="trainLabels">Class of each training row.</param>
    /// <param name="test">Test rows, [testLabels.Length, features]; all of them are scored.</param>
    /// <param name="testLabels">Class of each test row; any class but <paramref name="normalClass"/> is an anomaly.</param>
    /// <param name="normalClass">The class to train on.</param>
    /// <param name="score">The autoencoder's per-row reconstruction error (PCA always uses the mean squared error).</param>
    /// <param name="ensemble">Autoencoders trained with different seeds whose scores are averaged (1 = a single model).</param>
    /// <param name="progress">Called after each epoch with (epoch counted over all members, train loss per sample).</param>
    public static OneClassResult Run(IBackend backend, ModelSpec spec, TrainingOptions options, float[] train, int[] trainLabels,
                                     float[] test, int[] testLabels, int normalClass, ReconstructionScore score = ReconstructionScore.Mse,
                                     int ensemble = 1, Action<int, double>? progress = null)
    {
        int f = spec.InputFeatures;
        var clock = Stopwatch.StartNew();
        var keep = Enumerable.Range(0, trainLabels.Length).Where(i => trainLabels[i] == normalClass).ToArray();
        if (keep.Length < 2) throw new ArgumentException($"one-class: class {normalClass} has {keep.Length} training rows; needs at least 2");
        var rows = new float[keep.Length * f];
        for (int i = 0; i < keep.Length; i++) Array.Copy(train, keep[i] * f, rows, i * f, f);
        var isAnomaly = testLabels.Select(l => l != normalClass).ToArray();

        ArgumentOutOfRangeException.ThrowIfLessThan(ensemble, 1);
        var scores = new double[testLabels.Length];
        double lastLoss = double.NaN;
        for (int m = 0; m < ensemble; m++)
        {
            // each member differs only in its seed (initialisation and shuffling)
            ulong seed = options.Seed + (ulong)normalClass + 1000UL * (ulong)m;
            var trainer = Trainer.ForNewModel(spec, backend, options with { Seed = seed });
            var model = trainer.Model;
            for (int e = 0; e < options.Epochs; e++)
            {
                lastLoss = trainer.RunEpoch(rows, keep.Length, test, 0).TrainLoss;
                progress?.Invoke(m * options.Epochs + e + 1, lastLoss);
            }
            var memberScores = AnomalyDetection.Scores(model, test, testLabels.Length, score);
            for (int i = 0; i < scores.Length; i++) scores[i] += memberScores[i] / ensemble;
        }
        double aeAuroc = AnomalyDetection.Auroc(scores, isAnomaly);

        var pca = Pca.Fit(rows, keep.Length, f, Math.Min(spec.Latent, f), options.Seed);
        double pcaAuroc = AnomalyDetection.Auroc(pca.ReconstructionErrors(test, testLabels.Length), isAnomaly);
        return new OneClassResult(normalClass, keep.Length, aeAuroc, pcaAuroc, lastLoss, clock.Elapsed.TotalSeconds);
    }
}
