using System.Buffers.Binary;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>The VQ-VAE end to end on the command line: train, train-prior (and its resume), sample, encode, eval.</summary>
public class VqVaeCommandTests
{
    /// <summary>An IDX directory with the first <paramref name="train"/> and <paramref name="test"/> digits of the bundled MNIST.</summary>
    private static string SmallMnist(int train, int test)
    {
        string dir = Path.Combine(CliRunner.TempDir(), "mnist");
        Directory.CreateDirectory(dir);
        var mnist = MnistDataset.LoadBundled();
        Write(dir, MnistDataset.TrainImagesFile, MnistDataset.TrainLabelsFile, mnist.TrainImages, mnist.TrainLabels, train);
        Write(dir, MnistDataset.TestImagesFile, MnistDataset.TestLabelsFile, mnist.TestImages, mnist.TestLabels, test);
        return dir;
    }

    private static void Write(string dir, string imagesFile, string labelsFile, IdxImages images, byte[] labels, int count)
    {
        var bytes = new byte[16 + count * 784];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), 28);
        for (int i = 0; i < count * 784; i++) bytes[16 + i] = (byte)MathF.Round(images.Pixels[i] * 255f);
        File.WriteAllBytes(Path.Combine(dir, imagesFile), bytes);
        var l = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(l, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(l.AsSpan(4), count);
        labels.AsSpan(0, count).CopyTo(l.AsSpan(8));
        File.WriteAllBytes(Path.Combine(dir, labelsFile), l);
    }

    [Fact]
    public void TrainTrainPriorSampleEncodeEval_WorkTogether()
    {
        string data = SmallMnist(384, 128);
        string dir = Path.Combine(CliRunner.TempDir(), "vq");
        var train = CliRunner.Run("train", "--model", "vqvae", "--data", data, "--epochs", "2", "--batch", "32", "--codebook-size", "32", "--dead-code-steps", "4", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Matches(@"epoch 2/2 .* perplexity \d+\.\d, \d+ codes used, \d+ restarts", train.Out);
        foreach (string file in new[] { "model.safetensors", "model.json", "metrics.json", "reconstructions.png", "codebook-usage.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);

        // the prior, interrupted after one epoch (a checkpoint is all a killed run leaves) and resumed to two
        var prior = CliRunner.Run("train-prior", "--model", dir, "--epochs", "1", "--quiet");
        Assert.True(prior.ExitCode == 0, prior.Error);
        File.Delete(Path.Combine(dir, PriorTraining.WeightsFile));
        var resumed = CliRunner.Run("train-prior", "--model", dir, "--resume", "--epochs", "2");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Contains("epoch 2/2", resumed.Out);
        Assert.DoesNotContain("epoch 1/2", resumed.Out);
        Assert.True(File.Exists(Path.Combine(dir, PriorTraining.WeightsFile)));
        Assert.True(File.Exists(Path.Combine(dir, "samples.png")));

        string png = Path.Combine(dir, "more.png");
        var sample = CliRunner.Run("sample", "--model", dir, "--count", "9", "--out", png);
        Assert.True(sample.ExitCode == 0, sample.Error);
        Assert.True(new FileInfo(png).Length > 100);

        string codes = Path.Combine(dir, "codes.csv");
        var encode = CliRunner.Run("encode", "--model", dir, "--out", codes);
        Assert.True(encode.ExitCode == 0, encode.Error);
        var lines = File.ReadAllLines(codes);
        Assert.Equal(129, lines.Length);
        Assert.StartsWith("c0,c1,", lines[0]);
        Assert.EndsWith(",label", lines[0]);
        var first = lines[1].Split(',');
        Assert.Equal(50, first.Length);
        Assert.All(first[..49], c => Assert.InRange(int.Parse(c, System.Globalization.CultureInfo.InvariantCulture), 0, 31));

        var eval = CliRunner.Run("eval", "--model", dir);
        Assert.True(eval.ExitCode == 0, eval.Error);
        double mse = CliRunner.NumberAfter(eval.Out, "reconstruction MSE per pixel:");
        double perplexity = CliRunner.NumberAfter(eval.Out, "codebook perplexity:");
        double nll = CliRunner.NumberAfter(eval.Out, "prior NLL:");
        using var model = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.True(Math.Abs(model.RootElement.GetProperty("test_mse_per_pixel").GetDouble() - mse) < 1e-5, eval.Out);   // eval prints 5 decimals
        Assert.True(Math.Abs(model.RootElement.GetProperty("test_perplexity").GetDouble() - perplexity) < 0.01, eval.Out + File.ReadAllText(Path.Combine(dir, "metrics.json"))[..600]);
        // better than drawing every pixel as the mean, whose MSE is the pixel variance the model recorded
        using var spec = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.json")));
        Assert.True(mse < 0.9 * spec.RootElement.GetProperty("vq").GetProperty("data_variance").GetDouble(), eval.Out);
        Assert.InRange(perplexity, 2.0, 32.0);
        // eval scores the test codes under the saved prior: the figure train-prior reported when it finished
        using var metrics = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, PriorTraining.MetricsFile)));
        Assert.True(Math.Abs(metrics.RootElement.GetProperty("test_nll_nats_per_code").GetDouble() - nll) < 1e-4, eval.Out);   // 4 decimals
    }
}
