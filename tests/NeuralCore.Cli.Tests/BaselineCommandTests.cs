using System.Globalization;

namespace NeuralCore.CliTests;

/// <summary>The applications that answer with a classical baseline beside the autoencoder: cluster, detect, impute.</summary>
public class BaselineCommandTests(TrainedModels models) : IClassFixture<TrainedModels>
{
    [Fact]
    public void Detect_PrintsPcaAurocBesideTheModels()
    {
        var r = CliRunner.Run("detect", "--model", models.WineAe, "--data", models.Wine, "--label-column", "class", "--normal-value", "1",
            "--out", Path.Combine(CliRunner.TempDir(), "scores.csv"));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.InRange(CliRunner.NumberAfter(r.Out, "PCA baseline: AUROC"), 0.5, 1.0);
        Assert.Contains("reconstruction error of 3 principal components (the latent size), fitted on the 71 normal rows", r.Out);
        var images = CliRunner.Run("detect", "--model", models.Vae, "--normal-class", "1", "--out", Path.Combine(CliRunner.TempDir(), "scores.csv"));
        Assert.InRange(CliRunner.NumberAfter(images.Out, "PCA baseline: AUROC"), 0.9, 1.0);   // 1s are easy for a 2-D PCA too
    }

    [Fact]
    public void ImputeEvaluate_PrintsKnnBesideTheMeanAndTheAutoencoder()
    {
        var r = CliRunner.Run("impute", "--data", models.Wine, "--drop", "class", "--evaluate", "0.2", "--epochs", "20");
        Assert.True(r.ExitCode == 0, r.Error);
        double mean = CliRunner.NumberAfter(r.Out, "mean imputation");
        double knn = CliRunner.NumberAfter(r.Out, "on the observed columns)");
        Assert.InRange(knn, 0.1, mean);                       // neighbours beat column means on wine's correlated columns
    }

    [Fact]
    public void Mnist_PrintsNmiAndAri_ForTheEmbeddingPcaAndRawInputs_AndWritesAssignments()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "clusters.csv"), png = Path.Combine(dir, "clusters.png");
        var r = CliRunner.Run("cluster", "--model", models.Vae, "--k", "10", "--restarts", "2", "--out", csv, "--plot", png);
        Assert.True(r.ExitCode == 0, r.Error);
        // columns after the name: dims, NMI, ARI
        Assert.Equal([2, 2, 784], new[] { "vae mean mu", "PCA components", "raw inputs" }.Select(name => Column(r.Out, name, 0)));
        Assert.InRange(Column(r.Out, "raw inputs", 1), 0.4, 0.65);          // k-means on MNIST pixels: NMI about 0.5
        Assert.InRange(Column(r.Out, "raw inputs", 2), 0.25, 0.55);         // ARI about 0.38
        Assert.InRange(Column(r.Out, "vae mean mu", 1), 0.1, 1.0);          // two dimensions after 2 epochs group some digits (chance: 0)
        var lines = File.ReadAllLines(csv);
        Assert.Equal("row,cluster,label", lines[0]);
        Assert.Equal(2001, lines.Length);
        Assert.Equal(10, lines.Skip(1).Select(l => l.Split(',')[1]).Distinct().Count());
        Assert.Equal((1200, 560), ApplicationCommandTests.PngSize(png));
    }

    [Fact]
    public void Table_WithoutLabels_PrintsClusterSizes_AndTooLargeKIsAUsageError()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("cluster", "--model", models.WineAe, "--k", "3", "--out", Path.Combine(dir, "c.csv"), "--plot", Path.Combine(dir, "c.png"));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.DoesNotContain("NMI", r.Out);
        Assert.Equal("row,cluster", File.ReadAllLines(Path.Combine(dir, "c.csv"))[0]);
        var bad = CliRunner.Run("cluster", "--model", models.WineAe, "--k", "500");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--k 500 is more than the 178 rows", bad.Error);
    }

    /// <summary>The number in column <paramref name="index"/> after the name on the line of the table starting with <paramref name="name"/>.</summary>
    private static double Column(string output, string name, int index)
    {
        string line = output.Split('\n').Single(l => l.StartsWith(name, StringComparison.Ordinal));
        return double.Parse(line[name.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[index].TrimEnd(','), CultureInfo.InvariantCulture);
    }
}
