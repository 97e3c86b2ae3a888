using System.Buffers.Binary;
using System.IO.Compression;

namespace NeuralCore.Models.Data;

/// <summary>
/// Reads unsigned-byte IDX files, the format of MNIST: a big-endian header (magic 0x00000803 and
/// count, rows, cols for images; magic 0x00000801 and count for labels) followed by the bytes. Files may be
/// gzip-compressed; compression is detected from the gzip magic bytes (1f 8b), not from the file name.
/// Every inconsistency throws <see cref="DataFormatException"/> before any large allocation.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned bytes with 3 dimensions (images).</summary>
    public const uint ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with 1 dimension (labels).</summary>
    public const uint LabelsMagic = 0x00000801;

    /// <summary>Largest accepted image side (rows or cols).</summary>
    public const int MaxSide = 1 << 14;

    /// <summary>Largest accepted total pixel count (count * rows * cols) of one file, 2^26 floats = 256 MiB, so that a
    /// training and a test file together stay well inside a 2 GB budget. The full MNIST training file has 47 million.</summary>
    public const long MaxTotalPixels = 1L << 26;

    // A gzip file's content is decoded into storage that grows as the bytes arrive, starting here: a header that
    // promises more than the stream delivers costs no more than what was delivered.
    private const int InitialCompressedCapacity = 1 << 20;

    // Deflate cannot expand data by more than about 1032:1, which bounds what a gzip file can decode to.
    private const long MaxDeflateRatio = 1032;

    private static readonly float[] ByteToUnit = BuildByteToUnit();

    /// <summary>Reads an IDX3 image file.</summary>
    /// <param name="path">A raw or gzip-compressed IDX3 ubyte file, e.g. <c>train-images-idx3-ubyte.gz</c>.</param>
    /// <returns>Pixels [count, rows * cols] scaled to [0, 1], with count, rows and cols.</returns>
    /// <exception cref="DataFormatException">Wrong magic, absurd dimensions, truncated or trailing data, corrupt gzip.</exception>
    public static IdxImages ReadImages(string path)
    {
        using var payload = OpenWithHeader(path, ImagesMagic, "an image (idx3-ubyte) file", ["image count", "rows", "cols"], out var dimensions);
        long count = dimensions[0], rows = dimensions[1], cols = dimensions[2];
        if (count == 0) throw Fail(path, "declares 0 images", "the file is empty or corrupt; download it again");
        if (rows == 0 || cols == 0 || rows > MaxSide || cols > MaxSide)
            throw Fail(path, $"declares absurd image size {rows}x{cols} (each side must be 1..{MaxSide})", "the header is corrupt; download the file again");
        long total = count * rows * cols;
        if (total > MaxTotalPixels)
            throw Fail(path, $"declares {count} images of {rows}x{cols} = {total} pixels, above the limit of {MaxTotalPixels}", "the header is corrupt or the data set is too large to load at once");
        payload.CheckDeclaredLength(16 + total);

        var pixels = new float[payload.InitialCapacity(total)];
        var chunk = new byte[1 << 16];
        long done = 0;
        while (done < total)
        {
            int want = (int)Math.Min(chunk.Length, total - done);
            int got = payload.ReadUpTo(chunk.AsSpan(0, want));
            if (got < want) throw Truncated(path, 16 + total, 16 + done + got);
            if (done + got > pixels.Length) Array.Resize(ref pixels, (int)Math.Min(total, Math.Max(2L * pixels.Length, done + got)));
            for (int i = 0; i < got; i++) pixels[done + i] = ByteToUnit[chunk[i]];
            done += got;
        }
        payload.CheckAtEnd(16 + total);
        return new IdxImages(pixels, (int)count, (int)rows, (int)cols);
    }

    /// <summary>Reads an IDX1 label file.</summary>
    /// <param name="path">A raw or gzip-compressed IDX1 ubyte file, e.g. <c>train-labels-idx1-ubyte.gz</c>.</param>
    /// <returns>The labels, [count], as stored (0..9 for MNIST; not range-checked here).</returns>
    /// <exception cref="DataFormatException">Wrong magic, absurd count, truncated or trailing data, corrupt gzip.</exception>
    public static byte[] ReadLabels(string path)
    {
        using var payload = OpenWithHeader(path, LabelsMagic, "a label (idx1-ubyte) file", ["label count"], out var dimensions);
        long count = dimensions[0];
        if (count == 0) throw Fail(path, "declares 0 labels", "the file is empty or corrupt; download it again");
        if (count > MaxTotalPixels) throw Fail(path, $"declares {count} labels, above the limit of {MaxTotalPixels}", "the header is corrupt; download the file again");
        payload.CheckDeclaredLength(8 + count);

        var labels = new byte[payload.InitialCapacity(count)];
        long done = 0;
        while (done < count)
        {
            if (done == labels.Length) Array.Resize(ref labels, (int)Math.Min(count, 2L * labels.Length));
            int want = labels.Length - (int)done;
            int got = payload.ReadUpTo(labels.AsSpan((int)done));
            done += got;
            if (got < want) throw Truncated(path, 8 + count, 8 + done);
        }
        payload.CheckAtEnd(8 + count);
        return labels;
    }

    /// <summary>
    /// Opens <paramref name="path"/>, checks that it starts with <paramref name="expectedMagic"/> and reads the
    /// dimensions that follow, one per name in <paramref name="dimensionNames"/> (the names appear in errors).
    /// </summary>
    private static IdxPayload OpenWithHeader(string path, uint expectedMagic, string kind, string[] dimensionNames, out long[] dimensions)
    {
        var payload = IdxPayload.Open(path);
        try
        {
            Span<byte> word = stackalloc byte[4];
            payload.ReadHeader(word);
            uint magic = BinaryPrimitives.ReadUInt32BigEndian(word);
            if (magic != expectedMagic) throw WrongMagic(path, magic, expectedMagic, kind);
            dimensions = new long[dimensionNames.Length];
            for (int i = 0; i < dimensions.Length; i++)
            {
                payload.ReadHeader(word);
                dimensions[i] = ReadDimension(path, word, dimensionNames[i]);
            }
            return payload;
        }
        catch
        {
            payload.Dispose();
            throw;
        }
    }

    private static long ReadDimension(string path, ReadOnlySpan<byte> bytes, string what)
    {
        uint value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (value > int.MaxValue) throw Fail(path, $"declares a negative {what} ({(int)value})", "the header is corrupt; download the file again");
        return value;
    }

    private static DataFormatException WrongMagic(string path, uint actual, uint expected, string kind)
    {
        string hint = actual switch
        {
            ImagesMagic => "this is an image file; pass the labels file instead",
            LabelsMagic => "this is a label file; pass the images file instead",
            _ when (actual >> 24) is >= 0x20 and < 0x7f => "the file starts with text (an HTML error page from a failed download?); download it again",
            _ => "this is not an MNIST-style IDX ubyte file; check the path or download it again",
        };
        return Fail(path, $"wrong magic number 0x{actual:X8}, expected 0x{expected:X8} for {kind}", hint);
    }

    private static DataFormatException Truncated(string path, long declared, long actual) =>
        Fail(path, $"is truncated: the header declares {declared} bytes of content but only {actual} are present", "the file is incomplete; download it again");

    internal static DataFormatException Fail(string path, string problem, string fix) => new($"{path}: {problem}; {fix}");

    private static float[] BuildByteToUnit()
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++) table[i] = i / 255f;
        return table;
    }

    /// <summary>The decoded content of an IDX file (raw or gunzipped) with the size checks that need the file length.</summary>
    private sealed class IdxPayload : IDisposable
    {
        private readonly string _path;
        private readonly FileStream _file;
        private readonly Stream _content;
        private readonly bool _compressed;

        private IdxPayload(string path, FileStream file, Stream content, bool compressed)
        {
            _path = path; _file = file; _content = content; _compressed = compressed;
        }

        public static IdxPayload Open(string path)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path (MNIST needs the four idx files in one directory)", path);
            var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            try
            {
                int b0 = file.ReadByte(), b1 = file.ReadByte();
                file.Position = 0;
                bool gzip = b0 == 0x1f && b1 == 0x8b;
                Stream content = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
                return new IdxPayload(path, file, content, gzip);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        public void ReadHeader(Span<byte> header)
        {
            int got = ReadUpTo(header);
            if (got < header.Length)
                throw Fail(_path, "is too short for an IDX header", "the file is empty or truncated; download it again");
        }

        /// <summary>How many elements to allocate before reading <paramref name="declared"/>: all of them for a raw file
        /// (its length was checked), a first part for gzip content, which grows as it is decoded.</summary>
        public int InitialCapacity(long declared) => (int)(_compressed ? Math.Min(declared, InitialCompressedCapacity) : declared);

        /// <summary>Rejects a declared content size the file cannot possibly hold, before allocating for it.</summary>
        public void CheckDeclaredLength(long declaredContentBytes)
        {
            if (!_compressed)
            {
                if (declaredContentBytes > _file.Length) throw Truncated(_path, declaredContentBytes, _file.Length);
            }
            else if (declaredContentBytes > _file.Length * MaxDeflateRatio)
            {
                throw Fail(_path, $"declares {declaredContentBytes} bytes of content but a {_file.Length}-byte gzip file cannot decode to that much", "the file is truncated or its header is corrupt; download it again");
            }
        }

        public void CheckAtEnd(long declaredContentBytes)
        {
            Span<byte> probe = stackalloc byte[1];
            if (ReadUpTo(probe) != 0)
                throw Fail(_path, $"has data after the {declaredContentBytes} bytes its header declares", "the header count is wrong or the file is corrupt; download it again");
        }

        /// <summary>Reads until <paramref name="buffer"/> is full or the content ends; returns the bytes read.</summary>
        public int ReadUpTo(Span<byte> buffer)
        {
            try
            {
                int total = 0;
                while (total < buffer.Length)
                {
                    int n = _content.Read(buffer[total..]);
                    if (n == 0) break;
                    total += n;
                }
                return total;
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException($"{_path}: corrupt gzip data ({e.Message.TrimEnd('.')}); the file is damaged or partially downloaded, download it again", e);
            }
        }

        public void Dispose()
        {
            if (_compressed) _content.Dispose();
            _file.Dispose();
        }
    }
}
