using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Data;

namespace NeuralCore.CliTests.Imaging;

public class PngWriterTests
{
    [Fact]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void GreyscalePngHasSignatureHeaderAndInflatesToTheRightSize()
    {
        string temp = CliRunner.TempDir();
        byte[] pixels = Enumerable.Range(0, 7 * 5).Select(i => (byte)(i * 7)).ToArray();
        PngWriter.WriteGray(Path.Combine(temp, "g.png"), 7, 5, pixels);
        var png = DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "g.png")));
        Assert.Equal((7, 5, 8, 0, 0), (png.Width, png.Height, png.BitDepth, png.ColorType, png.Interlace));
        Assert.Equal(5 * (1 + 7), png.InflatedLength);
        Assert.Equal(pixels, png.Pixels);
    }

    [Fact]
    public void RgbPngRoundTrips()
    {
        string temp = CliRunner.TempDir();
        byte[] rgb = Enumerable.Range(0, 4 * 3 * 3).Select(i => (byte)(255 - i * 5)).ToArray();
        PngWriter.WriteRgb(Path.Combine(temp, "c.png"), 4, 3, rgb);
        var png = DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "c.png")));
        Assert.Equal((4, 3, 8, 2), (png.Width, png.Height, png.BitDepth, png.ColorType));
        Assert.Equal(3 * (1 + 4 * 3), png.InflatedLength);
        Assert.Equal(rgb, png.Pixels);
    }

    [Fact]
    public void FloatGreyscaleIsClampedAndRounded()
    {
        string temp = CliRunner.TempDir();
        PngWriter.WriteGray(Path.Combine(temp, "f.png"), 4, 1, new[] { -1f, 0.5f, 2f, float.NaN });
        Assert.Equal(new byte[] { 0, 128, 255, 0 }, DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "f.png"))).Pixels);
    }

    [Fact]
    public void BadSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(3, 3, PngWriter.ColorTypeGray, new byte[8]));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(0, 3, PngWriter.ColorTypeGray, []));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(1, 1, 6, new byte[4]));
    }

    [Fact]
    public void ImageGridTilesDigitsWithSeparatorsAndScale()
    {
        string temp = CliRunner.TempDir();
        var mnist = MnistDataset.LoadBundled();
        ImageGrid.Write(Path.Combine(temp, "grid.png"), mnist.TestImages.Pixels, 10, 28, 28, columns: 4, scale: 2, separator: 1);
        var png = DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "grid.png")));
        Assert.Equal((4 * 57 + 1, 3 * 57 + 1, 0), (png.Width, png.Height, png.ColorType));
        Assert.Equal(ImageGrid.SeparatorGray, png.Pixels[0]);
        // Pixel (r, c) of image 5 (grid row 1, column 1) at scale 2.
        int r = 14, c = 14, x = 1 + 57 + 2 * c + 1, y = 1 + 57 + 2 * r + 1;
        Assert.Equal(PngWriter.ToByte(mnist.TestImages.Image(5)[r * 28 + c]), png.Pixels[y * png.Width + x]);
        // Cells 10 and 11 of the 12 are empty: separator grey.
        Assert.Equal(ImageGrid.SeparatorGray, png.Pixels[(png.Height - 10) * png.Width + png.Width - 10]);
    }

    [Fact]
    public void LinePlotAndScatterRenderValidPngsWithSeriesColours()
    {
        string temp = CliRunner.TempDir();
        Plot.WriteLines(Path.Combine(temp, "loss.png"),
            [new PlotSeries("train", [0.9f, 0.5f, 0.3f, 0.25f, 0.2f]), new PlotSeries("test", [1.0f, 0.6f, 0.45f, 0.4f, 0.41f])],
            title: "Loss", xLabel: "epoch", yLabel: "MSE");
        var lines = DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "loss.png")));
        Assert.Equal((640, 400, 2), (lines.Width, lines.Height, lines.ColorType));
        Assert.True(CountColour(lines, Rgb.Palette10[0]) > 100);
        Assert.True(CountColour(lines, Rgb.Palette10[1]) > 100);
        Assert.True(CountColour(lines, Rgb.Black) > 500); // axes, ticks and text

        var points = Enumerable.Range(0, 200).SelectMany(i => new[] { MathF.Cos(i * 0.1f) * i, MathF.Sin(i * 0.1f) * i }).ToArray();
        var labels = Enumerable.Range(0, 200).Select(i => (byte)(i % 10)).ToArray();
        Plot.WriteScatter(Path.Combine(temp, "latent.png"), points, labels, title: "Latent");
        var scatter = DecodedPng.Read(File.ReadAllBytes(Path.Combine(temp, "latent.png")));
        Assert.Equal(2, scatter.ColorType);
        foreach (var colour in Rgb.Palette10) Assert.True(CountColour(scatter, colour) > 20);
    }

    [Fact]
    public void PlotRejectsMismatchedInputs()
    {
        Assert.Throws<ArgumentException>(() => Plot.RenderLines([]));
        Assert.Throws<ArgumentException>(() => Plot.RenderLines([new PlotSeries("a", [1f, 2f], [1f])]));
        Assert.Throws<ArgumentException>(() => Plot.RenderScatter(new float[6], new int[2]));
    }

    private static int CountColour(DecodedPng png, Rgb colour)
    {
        int count = 0;
        for (int i = 0; i < png.Pixels.Length; i += 3)
            if (png.Pixels[i] == colour.R && png.Pixels[i + 1] == colour.G && png.Pixels[i + 2] == colour.B) count++;
        return count;
    }
}
