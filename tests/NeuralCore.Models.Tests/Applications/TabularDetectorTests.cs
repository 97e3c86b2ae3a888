using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class TabularDetectorTests
{
    [Fact]
    public void LatentFromData_CountsTheComponentsThatExplainTheShare()
    {
        // three features: a wide one, a copy of it, and independent noise. Standardised, each has variance 1: the pair puts
        // 2 of the 3 units on one direction, the noise 1 on another, so one component explains 2/3 and two explain all.
        var random = new SeededRandom(2);
        var rows = new float[200 * 3];
        for (int i = 0; i < 200; i++)
        {
            float a = random.NextGaussian() * 5;
            rows[3 * i] = a; rows[3 * i + 1] = a; rows[3 * i + 2] = random.NextGaussian();
        }
        var (mean, std) = TabularDetector.Standardisation(rows, 200, 3);
        float[] x = TabularDetector.Standardise(rows, mean, std);
        Assert.Equal(1, TabularDetector.LatentFromData(x, 200, 3, 0.6));
        Assert.Equal(2, TabularDetector.LatentFromData(x, 200, 3, 0.9));
    }

    [Fact]
    public void FewerRowsThanFeatures_TheEmbeddingIsAtMostHalfTheRows()
    {
        // 12 rows of 40 independent features: 99% of their variance needs 11 components (the rank of 12 centred rows),
        // a code that could copy the rows through; the default share caps it at 6
        var random = new SeededRandom(3);
        var rows = new float[12 * 40];
        for (int i = 0; i < rows.Length; i++) rows[i] = random.NextGaussian();
        var (mean, std) = TabularDetector.Standardisation(rows, 12, 40);
        Assert.Equal(11, TabularDetector.LatentFromData(TabularDetector.Standardise(rows, mean, std), 12, 40, 0.99));
        var detector = TabularDetector.Fit(new CpuBackend(), rows, 12, 40, new TabularDetectorOptions { Ensemble = 1, Epochs = 2 });
        Assert.Equal(6, detector.Latent);
    }

    [Fact]
    public void RowsOffTheNormalSurface_ScoreHigher()
    {
        // normal rows lie on the curve (t, t^2, -t); anomalies break the relation
        var random = new SeededRandom(1);
        var normal = new float[120 * 3];
        for (int i = 0; i < 120; i++) { float t = random.NextFloat() * 2 - 1; normal[3 * i] = t; normal[3 * i + 1] = t * t; normal[3 * i + 2] = -t; }
        var detector = TabularDetector.Fit(new CpuBackend(), normal, 120, 3, new TabularDetectorOptions { Ensemble = 2, Epochs = 200 });
        double[] scores = detector.Scores([0.5f, 0.25f, -0.5f, 0.5f, 0.9f, 0.5f], 2);
        Assert.True(scores[1] > 5 * scores[0], $"normal {scores[0]}, anomaly {scores[1]}");
        Assert.InRange(detector.Latent, 1, 2);
    }
}
