using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class AnomalyDetectionTests
{
    [Fact]
    public void Auroc_PerfectInvertedAndTiedRankings()
    {
        bool[] labels = [false, false, true, true];
        Assert.Equal(1.0, AnomalyDetection.Auroc([0.1, 0.2, 0.8, 0.9], labels));
        Assert.Equal(0.0, AnomalyDetection.Auroc([0.9, 0.8, 0.2, 0.1], labels));
        Assert.Equal(0.5, AnomalyDetection.Auroc([3.0, 3.0, 3.0, 3.0], labels));
    }

    [Fact]
    public void Auroc_CountsTiesAsOneHalf()
    {
        // pairs (anomaly, normal): (0.5 vs 0.5) tie = 1/2, (0.5 vs 0.1) win, (0.9 vs both) wins -> 3.5 / 4
        Assert.Equal(0.875, AnomalyDetection.Auroc([0.1, 0.5, 0.5, 0.9], [false, false, true, true]), 12);
        // one anomaly ranked between three normal rows: beats 2 of 3
        Assert.Equal(2.0 / 3, AnomalyDetection.Auroc([1, 2, 3, 2.5], [false, false, false, true]), 12);
    }

    [Fact]
    public void Auroc_NeedsBothClasses()
    {
        var e = Assert.Throws<ArgumentException>(() => AnomalyDetection.Auroc([1.0, 2.0], [false, false]));
        Assert.Contains("both normal and anomalous", e.Message);
    }

    [Fact]
    public void Percentile_InterpolatesLinearlyLikeNumPy()
    {
        double[] values = [5, 1, 4, 2, 3];                   // sorted 1..5
        Assert.Equal(1.0, AnomalyDetection.Percentile(values, 0));
        Assert.Equal(3.0, AnomalyDetection.Percentile(values, 50));
        Assert.Equal(5.0, AnomalyDetection.Percentile(values, 100));
        Assert.Equal(4.96, AnomalyDetection.Percentile(values, 99), 12);   // 1 + 0.99 * 4 = position 3.96
        Assert.Throws<ArgumentOutOfRangeException>(() => AnomalyDetection.Percentile(values, 101));
    }

    [Fact]
    public void Scores_PerRowMseAndBce()
    {
        float[] rows = [1, 0, 0.5f, 0.5f];
        float[] rebuilt = [0.5f, 0, 0.5f, 1];
        var mse = AnomalyDetection.Scores(rows, rebuilt, 2, 2, ReconstructionScore.Mse);
        Assert.Equal(0.125, mse[0], 6);                       // (0.25 + 0) / 2
        Assert.Equal(0.125, mse[1], 6);
        var bce = AnomalyDetection.Scores(rows, rebuilt, 2, 2, ReconstructionScore.Bce);
        Assert.Equal(Math.Log(2), bce[0], 5);                 // -log 0.5 for the first value, 0 for the exact zero
        Assert.Equal(Math.Log(2) + 50, bce[1], 4);            // -0.5 log 0.5 - 0.5 log 0.5, then log(1 - 1) clamped at -100: 0.5 * 100
    }
}
