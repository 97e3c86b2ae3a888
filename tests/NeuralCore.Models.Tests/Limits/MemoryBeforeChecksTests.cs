using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Limits;

/// <summary>Sizes that come from options, headers and files are refused before the memory they imply is allocated.</summary>
public class MemoryBeforeChecksTests
{
    /// <summary>Bytes this thread allocates while <paramref name="action"/> runs and throws <typeparamref name="T"/>.</summary>
    private static (T Error, long Allocated) ThrowsAfterAllocating<T>(Action action) where T : Exception
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<T>(action);
        return (error, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private const long Small = 32L << 20;   // what a refusal may cost: buffers, never the refused size

    [Theory]
    [InlineData(3_000_000, 128)]        // few parameters, huge activations
    [InlineData(30_000, 1_000_000)]     // a huge batch
    [InlineData(2_000_000, 1)]          // over the parameter limit
    public void ATrainerForAHugeModel_IsRefusedBeforeAnyWeightIsAllocated(int hidden, int batch)
    {
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 13, Latent = 3, Hidden = [hidden], Loss = "mse" };
        var (error, allocated) = ThrowsAfterAllocating<ArgumentOutOfRangeException>(
            () => Trainer.ForNewModel(spec, new CpuBackend(), new TrainingOptions { BatchSize = batch }));
        Assert.Contains("limit", error.Message);
        Assert.InRange(allocated, 0, Small);
    }

    [Fact]
    public void AModelJsonOfVeryWideLayers_IsRefusedBeforeTheModelIsBuilt()
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 2, Latent = 1, Hidden = [3], Loss = "mse" };
        Directory.CreateDirectory(dir.File("m"));
        File.WriteAllText(dir.File("m/model.json"), spec.ToJson().Replace("\"hidden\": [\n    3\n  ]", "\"hidden\": [1000000]"));
        var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(() => ModelStore.Load(dir.File("m"), new CpuBackend()));
        Assert.Contains("to train or evaluate even with small batches", error.Message);
        Assert.InRange(allocated, 0, Small);
        var wide = new ModelSpec { Kind = "ae", InputFeatures = 2, Latent = 1, Hidden = [1_000_000] };
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelFactory.Create(wide, new CpuBackend(), new SeededRandom(0)));
    }

    [Fact]
    public void TrainingMemoryEstimate_IsSixtyFourBit_AndGrowsWithBatchAndWidth()
    {
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 20, Hidden = [400] };
        long small = spec.EstimatedTrainingBytes(128);
        Assert.InRange(small, 1L << 20, 256L << 20);   // the README's VAE trains in well under the limit
        Assert.True(spec.EstimatedTrainingBytes(100_000) > small);
        var wide = new ModelSpec { Kind = "ae", InputFeatures = 784, Latent = 20, Hidden = [int.MaxValue, int.MaxValue] };
        Assert.True(wide.EstimatedTrainingBytes(int.MaxValue) > MemoryLimit.MaxTrainingBytes);   // saturates instead of wrapping negative
        spec.ValidateTrainingMemory(128);
    }

    [Theory]
    [InlineData(100_000_000)]
    [InlineData(20_000_000)]
    public void AnImputerWithHugeHiddenLayers_IsRefusedBeforeTraining(int hidden)
    {
        float[] values = [1, 2, float.NaN, 4, 5, 6];
        bool[] missing = [false, false, true, false, false, false];
        var imputer = new Imputer(new CpuBackend(), new ImputerOptions { Hidden = [hidden], Epochs = 1 });
        var (error, allocated) = ThrowsAfterAllocating<ArgumentOutOfRangeException>(() => imputer.Impute(values, missing, 3));
        Assert.Contains("ImputerOptions.Hidden", error.Message);
        Assert.InRange(allocated, 0, Small);
    }

    [Fact]
    public void ASingleHugeCsvLine_IsRefusedAtTheLineLimit()
    {
        using var dir = new TempDirectory();
        string path = dir.File("long.csv");
        using (var writer = new StreamWriter(path))
        {
            writer.Write("a,b\n1,");
            writer.Write(new string('7', 20 << 20));   // 20 MB of one number, no line break
        }
        foreach (Action read in new Action[] { () => CsvTable.Read(path), () => CsvTextTable.Read(path) })
        {
            var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(read);
            Assert.Contains("line 2 is longer than", error.Message);
            Assert.InRange(allocated, 0, Small);
        }
    }

    [Fact]
    public void AFileWithoutLineBreaks_LikeDevZero_IsRefusedAtTheLineLimit()
    {
        if (!File.Exists("/dev/zero")) return;   // the device exists on Linux and macOS
        var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(() => CsvTable.Read("/dev/zero"));
        Assert.Equal("/dev/zero: line 1 is longer than 1,048,576 characters; this is not a CSV table of numbers (a binary file or a file without line breaks?)", error.Message);
        Assert.InRange(allocated, 0, Small);
        Assert.Throws<DataFormatException>(() => CsvTextTable.Read("/dev/zero"));
    }

    [Fact]
    public void CsvLineEndings_AreReadAsReadLineReadsThem()
    {
        using var dir = new TempDirectory();
        string path = dir.File("endings.csv");
        File.WriteAllText(path, "a,b\r\n1,2\r3,4\n\n5,6");
        var table = CsvTable.Read(path);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], table.Values);
        Assert.Equal(3, CsvTextTable.Read(path).Rows.Count);
    }

    private static byte[] ImagesHeader(int count, int rows, int cols)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(header, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), cols);
        return header;
    }

    /// <summary>A gzip file of <paramref name="header"/> followed by <paramref name="zeros"/> zero bytes (compressed about 1000:1).</summary>
    private static void WriteGzip(string path, byte[] header, long zeros)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(header);
        var block = new byte[1 << 20];
        for (long left = zeros; left > 0; left -= block.Length) gzip.Write(block, 0, (int)Math.Min(block.Length, left));
    }

    [Fact]
    public void AGzipBomb_IsReadAsAStream_AndRefusedAtTheFirstByteBeyondItsHeader()
    {
        using var dir = new TempDirectory();
        string path = dir.File("train-images-idx3-ubyte.gz");
        WriteGzip(path, ImagesHeader(8, 4, 4), 512L << 20);   // 512 MiB of zeros after 8 tiny images
        Assert.True(new FileInfo(path).Length < 16 << 20);
        var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains("has data after the 144 bytes its header declares", error.Message);
        Assert.InRange(allocated, 0, Small);
    }

    [Fact]
    public void AGzipHeaderThatPromisesMoreThanTheStreamHolds_CostsOnlyWhatWasDecoded()
    {
        using var dir = new TempDirectory();
        string path = dir.File("train-images-idx3-ubyte.gz");
        // 60M pixels declared (within the limit and the deflate ratio of the padding), 4 MiB present
        WriteGzip(path, ImagesHeader(3_750_000, 4, 4), 4L << 20);
        using (var file = new FileStream(path, FileMode.Append)) file.Write(new byte[64 << 10]);   // stored junk after the member keeps the ratio check from refusing early
        var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, error.Message);
        Assert.InRange(allocated, 0, 64L << 20);   // the declared 60M floats would be 240 MB
    }

    [Theory]
    [InlineData(70_000_000, 1, 1)]        // over the pixel limit
    [InlineData(1_000_000, 16_384, 16_384)]   // the 64-bit product of the dimensions
    public void AnIdxHeaderClaimingHugeDimensions_IsRefusedFromTheHeader(int count, int rows, int cols)
    {
        using var dir = new TempDirectory();
        string path = dir.File("train-images-idx3-ubyte");
        File.WriteAllBytes(path, [.. ImagesHeader(count, rows, cols), .. new byte[1024]]);
        var (error, allocated) = ThrowsAfterAllocating<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains("above the limit of 67108864", error.Message);
        Assert.InRange(allocated, 0, Small);
        string gz = dir.File("train-images-idx3-ubyte.gz");
        WriteGzip(gz, ImagesHeader(count, rows, cols), 1024);
        Assert.Contains("above the limit", Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(gz)).Message);
    }
}
