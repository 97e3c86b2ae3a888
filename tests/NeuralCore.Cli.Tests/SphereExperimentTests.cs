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
