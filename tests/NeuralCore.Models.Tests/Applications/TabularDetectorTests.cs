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
