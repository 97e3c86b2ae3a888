using System.Buffers.Binary;
using System.IO.Compression;
using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class IdxReaderTests
{
    private static readonly string Bundled = RepoData.Path("data/mnist-10k");

    [Fact]
    public void LoadsBundledMnistWithDocumentedSizesAndClassCounts()
    {
        var mnist = MnistDataset.Load(Bundled);
        Assert.Equal(8000, mnist.TrainImages.Count);
        Assert.Equal(2000, mnist.TestImages.Count);
        Assert.Equal((28, 28), (mnist.TrainImages.Rows, mnist.TrainImages.Cols));
        Assert.Equal(784, mnist.TestImages.PixelsPerImage);
        Assert.Equal(8000 * 784, mnist.TrainImages.Pixels.Length);
        Assert.Equal(8000, mnist.TrainLabels.Length);
        Assert.Equal(new[] { 196, 237, 209, 199, 211, 160, 168, 219, 205, 196 }, MnistDataset.ClassCounts(mnist.TestLabels));
        Assert.Equal(8000, MnistDataset.ClassCounts(mnist.TrainLabels).Sum());
        Assert.All(mnist.TrainImages.Pixels, p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(0f, mnist.TrainImages.Pixels.Min());
        Assert.Equal(1f, mnist.TrainImages.Pixels.Max());
        // A digit has some ink but is mostly background.
        float ink = mnist.TestImages.Image(0).ToArray().Sum();
        Assert.InRange(ink, 30f, 400f);
    }

    [Fact]
    public void FindBundledDirectoryLocatesTheRepositoryCopy()
    {
        string? found = MnistDataset.FindBundledDirectory();
        Assert.NotNull(found);
        Assert.Equal(Path.GetFullPath(Bundled), Path.GetFullPath(found));
        Assert.Equal(2000, MnistDataset.LoadBundled().TestLabels.Length);
    }

    [Fact]
    public void RawAndGzipRoundTripGiveIdenticalDataDetectedByMagicNotName()
    {
        using var temp = new TempDirectory();
        var original = IdxReader.ReadImages(Path.Combine(Bundled, "t10k-images-idx3-ubyte.gz"));
        byte[] raw = ImagesFile(original.Count, original.Rows, original.Cols, original.Pixels.Select(p => (byte)MathF.Round(p * 255f)).ToArray());

        // Raw content under a .gz name, gzip content under a plain name: both must load.
        File.WriteAllBytes(temp.File("raw.gz"), raw);
        File.WriteAllBytes(temp.File("compressed.idx"), Gzip(raw));
        var fromRaw = IdxReader.ReadImages(temp.File("raw.gz"));
        var fromGzip = IdxReader.ReadImages(temp.File("compressed.idx"));
        Assert.Equal(original.Pixels, fromRaw.Pixels);
        Assert.Equal(original.Pixels, fromGzip.Pixels);
        Assert.Equal((2000, 28, 28), (fromGzip.Count, fromGzip.Rows, fromGzip.Cols));

        var labels = IdxReader.ReadLabels(Path.Combine(Bundled, "t10k-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(temp.File("labels"), LabelsFile(labels));
        Assert.Equal(labels, IdxReader.ReadLabels(temp.File("labels")));
    }

    [Fact]
    public void LoadPrefersUncompressedFilesAndAcceptsThemWithoutGzExtension()
    {
        using var temp = new TempDirectory();
        var pixels = Enumerable.Range(0, 3 * 4).Select(i => (byte)(i * 20)).ToArray();
        File.WriteAllBytes(temp.File(MnistDataset.TrainImagesFile), ImagesFile(3, 2, 2, pixels));
        File.WriteAllBytes(temp.File(MnistDataset.TrainLabelsFile + ".gz"), Gzip(LabelsFile([1, 2, 3])));
        File.WriteAllBytes(temp.File(MnistDataset.TestImagesFile + ".gz"), Gzip(ImagesFile(1, 2, 2, [0, 255, 0, 255])));
        File.WriteAllBytes(temp.File(MnistDataset.TestLabelsFile), LabelsFile([9]));
        var data = MnistDataset.Load(temp.Path);
        Assert.Equal(new float[] { 0, 20 / 255f, 40 / 255f, 60 / 255f }, data.TrainImages.Image(0).ToArray());
        Assert.Equal(new float[] { 0, 1, 0, 1 }, data.TestImages.Pixels);
        Assert.Equal(new byte[] { 9 }, data.TestLabels);
    }

    [Fact]
    public void WrongMagicNamesTheFileAndSuggestsTheFix()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File("labels"), LabelsFile([1, 2]));
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("labels")));
        Assert.Contains(temp.File("labels"), e.Message);
        Assert.Contains("0x00000801", e.Message);
        Assert.Contains("label file", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        File.WriteAllText(temp.File("page.html"), "<html><body>404 Not Found</body></html>");
        e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(temp.File("page.html")));
        Assert.Contains("text", e.Message);
    }

    [Fact]
    public void TruncatedRawAndGzipFilesAreRejected()
    {
        using var temp = new TempDirectory();
        byte[] full = ImagesFile(10, 28, 28, new byte[10 * 784]);
        File.WriteAllBytes(temp.File("short"), full[..(full.Length - 100)]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("short")));
        Assert.Contains("truncated", e.Message);

        byte[] gz = Gzip(ImagesFile(10, 28, 28, Enumerable.Range(0, 7840).Select(i => (byte)(i * 7)).ToArray()));
        File.WriteAllBytes(temp.File("short.gz"), gz[..(gz.Length / 2)]);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("short.gz")));

        File.WriteAllBytes(temp.File("header-only"), full[..10]);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("header-only")));
        File.WriteAllBytes(temp.File("empty"), []);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(temp.File("empty")));

        byte[] labels = LabelsFile([1, 2, 3, 4]);
        File.WriteAllBytes(temp.File("labels-short"), labels[..^1]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(temp.File("labels-short"))).Message);
    }

    [Fact]
    public void TrailingDataIsRejected()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File("long"), [.. LabelsFile([1, 2]), 7]);
        Assert.Contains("after", Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(temp.File("long"))).Message);
    }

    [Theory]
    [InlineData(100_000u, 28u, 28u)]        // under the cap, far more data than the file holds
    [InlineData(1_000_000_000u, 28u, 28u)]  // beyond the cap
    [InlineData(1u, 100_000u, 100_000u)]    // absurd side
    [InlineData(0xFFFFFFFFu, 28u, 28u)]     // negative count
    [InlineData(0u, 28u, 28u)]              // no images
    [InlineData(5u, 0u, 28u)]               // zero rows
    [InlineData(2_000_000u, 1000u, 1000u)]  // beyond the total pixel cap
    public void AbsurdDimensionsAreRejectedBeforeAllocating(uint count, uint rows, uint cols)
    {
        using var temp = new TempDirectory();
        var header = new byte[16 + 64];
        BinaryPrimitives.WriteUInt32BigEndian(header, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), rows);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), cols);
        File.WriteAllBytes(temp.File("raw"), header);
        File.WriteAllBytes(temp.File("gz"), Gzip(header));
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("raw")));
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("gz")));
    }

    [Fact]
    public void LabelImageCountMismatchAndBadLabelsAreRejectedByLoad()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File(MnistDataset.TrainImagesFile), ImagesFile(3, 2, 2, new byte[12]));
        File.WriteAllBytes(temp.File(MnistDataset.TrainLabelsFile), LabelsFile([1, 2]));
        File.WriteAllBytes(temp.File(MnistDataset.TestImagesFile), ImagesFile(1, 2, 2, new byte[4]));
        File.WriteAllBytes(temp.File(MnistDataset.TestLabelsFile), LabelsFile([3]));
        var e = Assert.Throws<DataFormatException>(() => MnistDataset.Load(temp.Path));
        Assert.Contains("2 labels", e.Message);
        Assert.Contains("3 images", e.Message);

        File.WriteAllBytes(temp.File(MnistDataset.TrainLabelsFile), LabelsFile([1, 2, 42]));
        Assert.Contains("42", Assert.Throws<DataFormatException>(() => MnistDataset.Load(temp.Path)).Message);

        File.Delete(temp.File(MnistDataset.TestLabelsFile));
        Assert.Throws<FileNotFoundException>(() => MnistDataset.Load(temp.Path));
        Assert.Throws<DirectoryNotFoundException>(() => MnistDataset.Load(temp.File("nope")));
    }

    [Fact]
    public void CorruptGzipIsReportedAsDataFormatError()
    {
        using var temp = new TempDirectory();
        byte[] gz = Gzip(ImagesFile(2, 28, 28, Enumerable.Range(0, 1568).Select(i => (byte)i).ToArray()));
        for (int i = 12; i < gz.Length - 8; i += 3) gz[i] ^= 0x5A;
        File.WriteAllBytes(temp.File("corrupt.gz"), gz);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(temp.File("corrupt.gz")));
    }

    internal static byte[] ImagesFile(int count, int rows, int cols, byte[] pixels)
    {
        var file = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(file, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(12), cols);
        pixels.CopyTo(file, 16);
        return file;
    }

    internal static byte[] LabelsFile(byte[] labels)
    {
        var file = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(file, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), labels.Length);
        labels.CopyTo(file, 8);
        return file;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal)) gz.Write(data);
        return output.ToArray();
    }
}
