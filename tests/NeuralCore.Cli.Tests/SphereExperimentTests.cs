using NeuralCore.Cli.Imaging;

namespace NeuralCore.CliTests;

public class SphereExperimentTests
{
    [Fact]
    public void Latent2_BendsTheChart_FarBelowPca_AndWritesPlots()
    {
        string dir = CliRunner.TempDir();
        var run = CliRunner.Run("experiment", "sphere", "--points", "1500", "--epochs", "40", "--out", dir);
        Assert.True(run.ExitCode == 0, run.Error);
        double autoencoder = CliRunner.NumberAfter(run.Out, "z): autoencoder");
        double pca = CliRunner.NumberAfter(run.Out, "linear projection)");
        Assert.InRange(pca, 0.25, 0.36);                   // the lost direction's variance: about a third of |p|² = 1
        Assert.True(autoencoder < pca / 20, run.Out);
        foreach (var png in new[] { "embedding.png", "sphere.png" })
            Assert.Equal(PngWriter.Signature.ToArray(), File.ReadAllBytes(Path.Combine(dir, png)).Take(8).ToArray());
    }

    [Fact]
    public void WorldCities_MapBeatsPcaByFar_AndLabelsTheThreeCities()
    {
        string dir = CliRunner.TempDir();
        var run = CliRunner.Run("experiment", "sphere", "--data", "world-cities", "--epochs", "20", "--out", dir);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("10001 places", run.Out);
        double autoencoder = CliRunner.NumberAfter(run.Out, "z): autoencoder");
        double pca = CliRunner.NumberAfter(run.Out, "linear projection)");
        Assert.True(autoencoder < pca / 2, run.Out);
        Assert.Contains("labelled: Tokyo, Paris, Hanoi", run.Out);
        Assert.Equal(PngWriter.Signature.ToArray(), File.ReadAllBytes(Path.Combine(dir, "map.png")).Take(8).ToArray());
    }

    [Fact]
    public void WorldCities_RejectsTheSyntheticOptions()
    {
        var run = CliRunner.Run("experiment", "sphere", "--data", "world-cities", "--hole", "10");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--hole and --points shape the synthetic points", run.Error);
    }

    [Fact]
    public void Latent1_IsTooSmall()
    {
        var run = CliRunner.Run("experiment", "sphere", "--latent", "1", "--points", "1000", "--epochs", "20", "--out", CliRunner.TempDir());
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.True(CliRunner.NumberAfter(run.Out, "z): autoencoder") > 0.05, run.Out);
        Assert.Contains("latent 1: too small", run.Out);
    }

    [Fact]
    public void BadLatent_IsAUsageError()
    {
        var run = CliRunner.Run("experiment", "sphere", "--latent", "4");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--latent must be between 1 and 3", run.Error);
        Assert.Contains("usage: neuralcore experiment sphere", CliRunner.Run("experiment", "sphere", "--help").Out);
    }
}

public class TabularExperimentTests
{
    [Fact]
    public void Iris_PrintsAucAndRmseForTheAutoencoderAndTheBaselines()
    {
        string iris = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "iris.csv");
        var run = CliRunner.Run("experiment", "tabular", "--tables", iris, "--ensemble", "1");
        Assert.True(run.ExitCode == 0, run.Error);
        string line = run.Out.Split('\n').Single(l => l.StartsWith("iris.csv", StringComparison.Ordinal));
        double[] numbers = line["iris.csv".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal([150, 4], numbers[..2]);
        Assert.All(numbers[3..5], auroc => Assert.InRange(auroc, 0.5, 1.0));          // AE and PCA AUROC
        Assert.All(numbers[5..7], rmse => Assert.InRange(rmse, 0.02, 0.3));          // AE and kNN RMSE, scaled units
        Assert.Contains("AE >= PCA on", run.Out);
    }

    [Fact]
    public void ATableWithoutTheLabelColumn_IsAnInputError()
    {
        string path = Path.Combine(CliRunner.TempDir(), "t.csv");
        File.WriteAllText(path, "a,b\n1,2\n3,4\n");
        var run = CliRunner.Run("experiment", "tabular", "--tables", path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("has no label column 'class'", run.Error);
    }
}
