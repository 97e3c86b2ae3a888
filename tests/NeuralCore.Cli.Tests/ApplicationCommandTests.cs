using System.Buffers.Binary;
using System.Text.Json;
using NeuralCore.Cli.Imaging;

namespace NeuralCore.CliTests;

/// <summary>Two small models trained once for all application tests: a 2-D VAE on MNIST and an AE on the wine table.</summary>
public sealed class TrainedModels
{
    public TrainedModels()
    {
        Vae = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--model", "vae", "--latent", "2", "--hidden", "64", "--epochs", "2", "--quiet", "--out", Vae);
        Assert.True(r.ExitCode == 0, r.Error);
        Wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        WineAe = CliRunner.TempDir();
        r = CliRunner.Run("train", "--model", "ae", "--data", Wine, "--drop", "class", "--epochs", "30", "--batch", "16", "--quiet", "--out", WineAe);
        Assert.True(r.ExitCode == 0, r.Error);
    }

    public string Vae { get; }
    public string Wine { get; }
    public string WineAe { get; }
}

public class ApplicationCommandTests(TrainedModels models) : IClassFixture<TrainedModels>
{
    [Fact]
    public void Encode_WritesOneRowPerTestImage_WithLabels_AndALatentPlot()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "features.csv"), png = Path.Combine(dir, "latent.png");
        var r = CliRunner.Run("encode", "--model", models.Vae, "--out", csv, "--plot", png);
        Assert.True(r.ExitCode == 0, r.Error);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("z0,z1,label", lines[0]);
        Assert.Equal(2001, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Equal(3, l.Split(',').Length));
        Assert.Equal((600, 560), PngSize(png));
        double features = CliRunner.NumberAfter(r.Out, "accuracy: features");
        double pixels = CliRunner.NumberAfter(r.Out, "raw pixels");
        Assert.InRange(pixels, 78, 83);                       // nearest centroid on raw pixels, percent
        Assert.InRange(features, 15, 100);                  // two dimensions still separate some digits (chance is 10 %)

        var train = CliRunner.Run("encode", "--model", models.Vae, "--split", "train", "--out", csv);
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Equal(8001, File.ReadAllLines(csv).Length);
    }

    [Fact]
    public void Detect_WithANormalDigit_ScoresEveryTestImage_AndRanksOtherDigitsHigher()
    {
        string csv = Path.Combine(CliRunner.TempDir(), "scores.csv");
        var r = CliRunner.Run("detect", "--model", models.Vae, "--normal-class", "1", "--out", csv);
        Assert.True(r.ExitCode == 0, r.Error);
        double auroc = CliRunner.NumberAfter(r.Out, "AUROC:");
        Assert.InRange(auroc, 0.8, 1.0);                      // 1s reconstruct far better than other digits
        var lines = File.ReadAllLines(csv);
        Assert.Equal("row,score,flagged,label", lines[0]);
        Assert.Equal(2001, lines.Length);
        var rows = lines.Skip(1).Select(l => l.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToList();
        double threshold = CliRunner.NumberAfter(r.Out, "threshold:");
        // flags follow the printed threshold (rows within its 6 printed digits could round either way)
        Assert.All(rows.Where(row => Math.Abs(row[1] - threshold) > 1e-5 * threshold), row => Assert.Equal(row[1] > threshold ? 1 : 0, row[2]));
        Assert.Equal((int)CliRunner.NumberAfter(r.Out, "flagged:"), rows.Count(row => row[2] == 1));
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => (double)i), rows.Select(row => row[0]));
    }

    [Fact]
    public void Detect_OnATable_UsesThePercentileOfItsOwnRows_AndTheLabelColumn()
    {
        string csv = Path.Combine(CliRunner.TempDir(), "scores.csv");
        var r = CliRunner.Run("detect", "--model", models.WineAe, "--data", models.Wine, "--label-column", "class", "--normal-value", "1",
            "--percentile", "90", "--out", csv);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("flagged: 18 of 178 rows", r.Out);    // 10 % of 178 rows lie above their own 90th percentile
        Assert.InRange(CliRunner.NumberAfter(r.Out, "AUROC:"), 0.0, 1.0);
        Assert.Contains("anomaly = label other than 1", r.Out);
        Assert.Equal(179, File.ReadAllLines(csv).Length);
    }

    [Fact]
    public void Eval_OfATableModel_WithoutData_UsesItsOwnTable()
    {
        var r = CliRunner.Run("eval", "--model", models.WineAe);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("wine.csv (178 test rows)", r.Out);
        // the same as naming the table and the dropped column
        var named = CliRunner.Run("eval", "--model", models.WineAe, "--data", models.Wine, "--drop", "class");
        Assert.Equal(CliRunner.NumberAfter(named.Out, "test loss per sample:"), CliRunner.NumberAfter(r.Out, "test loss per sample:"));
    }

    [Fact]
    public void Eval_WhenTheTrainingTableIsGone_SaysToPassData()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "table.csv");
        File.Copy(models.Wine, csv);
        string model = Path.Combine(dir, "model");
        var t = CliRunner.Run("train", "--model", "ae", "--data", csv, "--drop", "class", "--epochs", "1", "--quiet", "--out", model);
        Assert.True(t.ExitCode == 0, t.Error);
        File.Delete(csv);
        var r = CliRunner.Run("eval", "--model", model);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is gone; pass --data FILE.csv", r.Error);
    }

    [Fact]
    public void Detect_LabelColumnAlsoDropped_IsOneLineWithoutCSharpParameterNames()
    {
        var r = CliRunner.Run("detect", "--model", models.WineAe, "--data", models.Wine, "--drop", "class", "--label-column", "class");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: column 'class' is both the label column and dropped; choose one", r.Error.Trim());
    }

    [Fact]
    public void Sample_WritesAGridOfTheRequestedCount()
    {
        string png = Path.Combine(CliRunner.TempDir(), "samples.png");
        var r = CliRunner.Run("sample", "--model", models.Vae, "--count", "16", "--seed", "3", "--out", png);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal((4 * 57 + 1, 4 * 57 + 1), PngSize(png));   // 4x4 images of 28x28 at scale 2, 1-pixel separators
    }

    [Fact]
    public void Interpolate_WritesAStripWithBothOriginals()
    {
        string png = Path.Combine(CliRunner.TempDir(), "path.png");
        var r = CliRunner.Run("interpolate", "--model", models.Vae, "--from", "3", "--to", "7", "--steps", "6", "--out", png);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal((8 * 85 + 1, 85 + 1), PngSize(png));       // 6 steps + 2 originals of 28x28 at scale 3
        Assert.Contains("(digit 3)", r.Out);
        Assert.Contains("(digit 7)", r.Out);
    }

    [Fact]
    public void BadInputs_GiveOneLineErrors_AndWriteNothing()
    {
        string dir = CliRunner.TempDir();
        string other = Path.Combine(dir, "other.csv");
        File.WriteAllText(other, "a,b\n1,2\n3,4\n");
        var cases = new (string[] Args, string Expected)[]
        {
            (["sample", "--model", models.WineAe, "--out", Path.Combine(dir, "s.csv")], "sampling needs a VAE"),
            (["sample", "--model", models.Vae, "--count", "0", "--out", Path.Combine(dir, "s.png")], "--count must be between 1 and 1048576"),
            (["sample", "--model", models.Vae, "--count", "-5", "--out", Path.Combine(dir, "s.png")], "--count must be between 1 and 1048576"),
            (["detect", "--model", models.WineAe, "--data", other, "--out", Path.Combine(dir, "d.csv")], "do not match the model's"),
            (["encode", "--model", models.WineAe, "--data", other, "--out", Path.Combine(dir, "e.csv")], "do not match the model's"),
            (["encode", "--model", models.WineAe, "--data", "mnist", "--out", Path.Combine(dir, "e.csv")], "model expects 13 features"),
            (["detect", "--model", models.Vae, "--normal-class", "12"], "--normal-class must be between 0 and 9"),
            (["detect", "--model", models.WineAe, "--data", models.Wine, "--label-column", "class", "--normal-value", "7"], "does not occur"),
            (["interpolate", "--model", models.WineAe], "interpolation draws images"),
            (["interpolate", "--model", models.Vae, "--from-index", "99999"], "past the last test image"),
            (["encode", "--model", Path.Combine(dir, "missing")], "model directory not found"),
            (["experiment", "oneclass-mnist", "--digits", "9-3"], "runs backwards"),
        };
        foreach (var (args, expected) in cases)
        {
            var r = CliRunner.Run(args);
            Assert.True(r.ExitCode != 0, $"{string.Join(' ', args)} succeeded");
            Assert.Contains(expected, r.Error);
            Assert.Single(r.Error.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", r.Error);
        }
        Assert.Equal([other], Directory.GetFiles(dir));        // no partial output files
    }

    [Fact]
    public void HelpOnEveryApplicationCommand()
    {
        foreach (var command in new[] { "encode", "detect", "sample", "interpolate" })
        {
            var r = CliRunner.Run(command, "--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("usage: neuralcore " + command, r.Out);
        }
        foreach (var experiment in new[] { "oneclass-mnist", "latent-size" })
        {
            var r = CliRunner.Run("experiment", experiment, "--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("usage: neuralcore experiment " + experiment, r.Out);
        }
    }

    /// <summary>Width and height from the IHDR chunk, after checking the PNG signature.</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(PngWriter.Signature.ToArray(), bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }
}

public class ApplicationExperimentTests
{
    [Fact]
    public void OneClassMnist_OnDigitOne_BeatsChanceByFar_AndWritesResults()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("experiment", "oneclass-mnist", "--model", "ae", "--hidden", "64", "--latent", "8", "--epochs", "4", "--ensemble", "2",
            "--digits", "1", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("| digit | ae AUROC | PCA AUROC |", r.Out);
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement;
        var digit = json.GetProperty("digits")[0];
        Assert.Equal(1, digit.GetProperty("digit").GetInt32());
        Assert.Equal(2, json.GetProperty("ensemble").GetInt32());
        Assert.InRange(digit.GetProperty("ae_auroc").GetDouble(), 0.9, 1.0);    // a 1 is easy to tell from other digits
        Assert.InRange(digit.GetProperty("pca_auroc").GetDouble(), 0.99, 1.0);  // PCA with 8 components: about 99.8
        Assert.Equal(digit.GetProperty("ae_auroc").GetDouble(), json.GetProperty("mean_ae_auroc").GetDouble(), 12);
        Assert.True(File.Exists(Path.Combine(dir, "results.md")));
    }

    [Fact]
    public void LatentSize_TableAndPlot_ALargerEmbeddingReconstructsBetter()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("experiment", "latent-size", "--model", "vae", "--sizes", "2,8", "--hidden", "64", "--epochs", "4", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("| size | test reconstruction | KL | total |", r.Out);
        var sizes = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement.GetProperty("sizes").EnumerateArray().ToList();
        Assert.Equal(2, sizes.Count);
        double recon2 = sizes[0].GetProperty("test_reconstruction").GetDouble(), recon8 = sizes[1].GetProperty("test_reconstruction").GetDouble();
        Assert.True(recon8 < recon2, $"reconstruction with 8 dimensions ({recon8}) should beat 2 ({recon2})");
        Assert.True(sizes[1].GetProperty("test_kl").GetDouble() > sizes[0].GetProperty("test_kl").GetDouble());   // more dimensions carry more information
        Assert.Equal((640, 400), ApplicationCommandTests.PngSize(Path.Combine(dir, "latent-size.png")));
    }

    [Theory]
    [InlineData("0-9", new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData("3", new[] { 3 })]
    [InlineData("1,4,7", new[] { 1, 4, 7 })]
    [InlineData("0-2,5,1", new[] { 0, 1, 2, 5 })]
    public void DigitLists(string text, int[] expected) =>
        Assert.Equal(expected, NeuralCore.Cli.Commands.OneClassMnistExperiment.ParseDigits(text));
}
