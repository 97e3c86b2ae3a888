using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NeuralCore.Models.IO;

namespace NeuralCore.Cli.Imaging;

/// <summary>
/// Minimal PNG encoder for 8-bit greyscale and 8-bit RGB images (no interlacing; each row uses the "Up"
/// filter, which suits plots and digit grids). Files are written atomically.
/// </summary>
internal static class PngWriter
{
    /// <summary>The 8-byte PNG file signature.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>PNG colour type 0: greyscale, one byte per pixel.</summary>
    public const byte ColorTypeGray = 0;
    /// <summary>PNG colour type 2: RGB, three bytes per pixel.</summary>
    public const byte ColorTypeRgb = 2;

    /// <summary>Writes a greyscale PNG from bytes [height, width] (0 = black, 255 = white).</summary>
    public static void WriteGray(string path, int width, int height, ReadOnlySpan<byte> pixels) =>
        AtomicFile.WriteAllBytes(path, Encode(width, height, ColorTypeGray, pixels));

    /// <summary>Writes a greyscale PNG from floats [height, width] in [0, 1] (clamped; NaN becomes black).</summary>
    public static void WriteGray(string path, int width, int height, ReadOnlySpan<float> values)
    {
        var pixels = new byte[values.Length];
        for (int i = 0; i < values.Length; i++) pixels[i] = ToByte(values[i]);
        WriteGray(path, width, height, pixels);
    }

    /// <summary>Writes an RGB PNG from bytes [height, width, 3] (R, G, B per pixel).</summary>
    public static void WriteRgb(string path, int width, int height, ReadOnlySpan<byte> rgb) =>
        AtomicFile.WriteAllBytes(path, Encode(width, height, ColorTypeRgb, rgb));

    /// <summary>Encodes a PNG in memory: <paramref name="pixels"/> is [height, width * channels] with
    /// channels 1 for <see cref="ColorTypeGray"/> and 3 for <see cref="ColorTypeRgb"/>.</summary>
    public static byte[] Encode(int width, int height, byte colorType, ReadOnlySpan<byte> pixels)
    {
        int channels = colorType switch
        {
            ColorTypeGray => 1,
            ColorTypeRgb => 3,
            _ => throw new ArgumentException($"colour type {colorType} is not supported; use 0 (grey) or 2 (RGB)", nameof(colorType)),
        };
        if (width < 1 || height < 1 || (long)width * height * channels > Array.MaxLength / 2)
            throw new ArgumentException($"image size {width}x{height} is empty or too large");
        int stride = width * channels;
        if (pixels.Length != (long)stride * height)
            throw new ArgumentException($"pixel buffer has {pixels.Length} bytes but {width}x{height}x{channels} needs {(long)stride * height}", nameof(pixels));

        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)height);
        ihdr[8] = 8;          // bit depth
        ihdr[9] = colorType;
        ihdr[10] = 0;         // compression: deflate
        ihdr[11] = 0;         // filter method 0
        ihdr[12] = 0;         // no interlace
        WriteChunk(output, "IHDR", ihdr);

        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                var row = new byte[1 + stride];
                row[0] = 2; // filter type Up: each byte minus the byte above (the first row has a zero row above)
                for (int y = 0; y < height; y++)
                {
                    ReadOnlySpan<byte> current = pixels.Slice(y * stride, stride);
                    for (int x = 0; x < stride; x++)
                        row[1 + x] = (byte)(current[x] - (y > 0 ? pixels[(y - 1) * stride + x] : 0));
                    zlib.Write(row);
                }
            }
            WriteChunk(output, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Converts a value in [0, 1] to a grey byte (clamped, rounded; NaN becomes 0).</summary>
    public static byte ToByte(float value) => float.IsNaN(value) ? (byte)0 : (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Compute(typeBytes), data));
        output.Write(word);
    }
}
