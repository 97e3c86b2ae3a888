using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class KMeansTests
{
    [Fact]
    public void TwoPairsOnALine_SplitIntoThePairs_WithTheHandComputedInertia()
    {
        // 0, 1 | 10, 11: centres 0.5 and 10.5, inertia 4 x 0.25 = 1
        var result = KMeans.Fit([0f, 1f, 10f, 11f], 4, 1, k: 2, restarts: 3, seed: 5);
        Assert.Equal(result.Assignments[0], result.Assignments[1]);
        Assert.Equal(result.Assignments[2], result.Assignments[3]);
        Assert.NotEqual(result.Assignments[0], result.Assignments[2]);
        Assert.Equal(1.0, result.Inertia, 6);
        Assert.Equal([0.5f, 10.5f], result.Centroids.Order());
    }

    [Fact]
    public void ThreeBlobs_AreRecovered_AndTheSameSeedGivesTheSameClusters()
    {
        var random = new SeededRandom(3);
        float[][] centres = [[0, 0], [8, 0], [0, 8]];
        var rows = new float[300 * 2];
        var truth = new int[300];
        for (int i = 0; i < 300; i++)
        {
            truth[i] = i % 3;
            rows[2 * i] = centres[i % 3][0] + random.NextGaussian();
            rows[2 * i + 1] = centres[i % 3][1] + random.NextGaussian();
        }
        var result = KMeans.Fit(rows, 300, 2, k: 3, restarts: 5, seed: 1);
        Assert.Equal(1.0, ClusterMetrics.AdjustedRandIndex(truth, result.Assignments), 6);
        Assert.Equal(result.Assignments, KMeans.Fit(rows, 300, 2, k: 3, restarts: 5, seed: 1).Assignments);
    }

    [Fact]
    public void MoreClustersThanDistinctPoints_StillAssignsEveryRow()
    {
        var result = KMeans.Fit([1f, 1f, 1f, 2f], 4, 1, k: 3, restarts: 2, seed: 0);
        Assert.Equal(0.0, result.Inertia, 9);
        Assert.Throws<ArgumentOutOfRangeException>(() => KMeans.Fit([1f, 2f], 2, 1, k: 3));
    }
}

public class ClusterMetricsTests
{
    [Fact]
    public void APartitionAndARefinementOfIt_MatchTheHandComputedValues()
    {
        // labels {0,1}{2,3}, clusters {0,1}{2}{3}: H(labels) = ln 2, H(clusters) = 1.5 ln 2, MI = ln 2, so NMI = ln 2 / 1.25 ln 2 = 0.8.
        // ARI: sum of pairs in the table 1, rows 2, columns 1, all pairs 6; expected 2 x 1 / 6 = 1/3, max 1.5: (1 - 1/3) / (1.5 - 1/3) = 4/7.
        int[] labels = [0, 0, 1, 1], clusters = [0, 0, 1, 2];
        Assert.Equal(0.8, ClusterMetrics.NormalizedMutualInformation(labels, clusters), 12);
        Assert.Equal(4.0 / 7, ClusterMetrics.AdjustedRandIndex(labels, clusters), 12);
    }

    [Fact]
    public void RenumberedClusters_ScoreOne_AndAnIndependentSplitScoresZero()
    {
        Assert.Equal(1.0, ClusterMetrics.NormalizedMutualInformation([0, 0, 1, 1, 2], [7, 7, 3, 3, 5]), 12);
        Assert.Equal(1.0, ClusterMetrics.AdjustedRandIndex([0, 0, 1, 1, 2], [7, 7, 3, 3, 5]), 12);
        // labels {0,1}{2,3} vs clusters {0,2}{1,3}: independent, MI = 0. ARI: table pairs 0, rows 2, columns 2, expected 4/6:
        // (0 - 2/3) / (2 - 2/3) = -0.5
        Assert.Equal(0.0, ClusterMetrics.NormalizedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1]), 12);
        Assert.Equal(-0.5, ClusterMetrics.AdjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]), 12);
    }

    [Fact]
    public void LengthsMustAgree()
    {
        Assert.Throws<ArgumentException>(() => ClusterMetrics.AdjustedRandIndex([0, 1], [0]));
    }
}
