using System.Buffers.Binary;
using System.IO.Compression;
using NeuralCore.Models.Data;
using Xunit.Abstractions;

namespace NeuralCore.Models.Tests.Fuzz;

/// <summary>Mutated IDX image and label files (raw and gzip) are parsed or rejected with <see cref="DataFormatException"/>, nothing else.</summary>
public class IdxReaderFuzzTests(ITestOutputHelper output)
{
    private static readonly uint[] InterestingWords = [0, 1, 2, 28, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 14, (1 << 14) + 1, 1 << 16, 0x00000801, 0x00000803, 0x00000802];

    private static byte[] Images(int count, int rows, int cols)
    {
        var bytes = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        for (int i = 16; i < bytes.Length; i++) bytes[i] = (byte)(i * 37);
        return bytes;
    }

    private static byte[] Labels(int count)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        for (int i = 8; i < bytes.Length; i++) bytes[i] = (byte)(i % 10);
        return bytes;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest)) gz.Write(raw);
        return buffer.ToArray();
    }

    /// <summary>Sets one big-endian header word (magic or a dimension) to an interesting value.</summary>
    private static (byte[], string) HeaderField(byte[] b, SeededRandom r, int words)
    {
        var copy = (byte[])b.Clone();
        int word = r.NextInt(words);
        if (copy.Length < 4 * word + 4) return (copy, "header field (too short)");
        uint value = r.NextInt(4) == 0 ? r.NextUInt() : InterestingWords[r.NextInt(InterestingWords.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(4 * word), value);
        return (copy, $"header word {word} = 0x{value:X8}");
    }

    /// <summary>Raw inputs are mutated directly; gzip inputs either as compressed bytes or as content that is then recompressed.</summary>
    private static (byte[], string) Next(Mutator m, byte[] raw, int words)
    {
        var field = (byte[] b, SeededRandom r) => HeaderField(b, r, words);
        switch (m.Random.NextInt(3))
        {
            case 0: return m.Mutate(raw, field);
            case 1:
                var (content, what) = m.Mutate(raw, field);
                return (Gzip(content), "gzip of (" + what + ")");
            default:
                var (bytes, how) = m.Mutate(Gzip(raw));
                return (bytes, "gzip bytes: " + how);
        }
    }

    [Fact]
    public void MutatedImageFiles_AreParsedOrRejectedCleanly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("images-idx3-ubyte");
        var valid = Images(6, 5, 4);
        var outcome = FuzzLoop.Run(output, "IdxReader.ReadImages", 3000, 801, (m, _) => Next(m, valid, 4), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            var images = IdxReader.ReadImages(path);
            Assert.Equal((long)images.Count * images.Rows * images.Cols, images.Pixels.Length);
            Assert.All(images.Pixels, p => Assert.InRange(p, 0f, 1f));
        }, e => e is DataFormatException);
        Assert.True(outcome.Parsed > 0 && outcome.Rejected > 1000, $"{outcome}");
    }

    [Fact]
    public void MutatedLabelFiles_AreParsedOrRejectedCleanly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("labels-idx1-ubyte");
        var valid = Labels(20);
        var outcome = FuzzLoop.Run(output, "IdxReader.ReadLabels", 2000, 802, (m, _) => Next(m, valid, 2), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            var labels = IdxReader.ReadLabels(path);
            Assert.NotEmpty(labels);
        }, e => e is DataFormatException);
        Assert.True(outcome.Parsed > 0 && outcome.Rejected > 500, $"{outcome}");
    }
}
