using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NeuralCore.Cli.Imaging;

namespace NeuralCore.CliTests.Imaging;

/// <summary>A minimal independent PNG reader for tests: checks the signature and every chunk CRC, inflates the
/// IDAT stream and undoes the five standard row filters.</summary>
internal sealed record DecodedPng(int Width, int Height, int BitDepth, int ColorType, int Interlace, int InflatedLength, byte[] Pixels)
{
    public static DecodedPng Read(byte[] file)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, file[..8]);
        int pos = 8;
        var idat = new MemoryStream();
        byte[]? ihdr = null;
        var types = new List<string>();
        while (pos < file.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            string type = Encoding.ASCII.GetString(file, pos + 4, 4);
            byte[] data = file[(pos + 8)..(pos + 8 + length)];
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 8 + length));
            Assert.Equal(Crc32.Compute(file.AsSpan(pos + 4, 4 + length)), crc);
            types.Add(type);
            if (type == "IHDR") ihdr = data;
            if (type == "IDAT") idat.Write(data);
            pos += 12 + length;
        }
        Assert.Equal("IHDR", types[0]);
        Assert.Equal("IEND", types[^1]);
        Assert.NotNull(ihdr);
        Assert.Equal(13, ihdr.Length);
        int width = BinaryPrimitives.ReadInt32BigEndian(ihdr), height = BinaryPrimitives.ReadInt32BigEndian(ihdr.AsSpan(4));
        int channels = ihdr[9] == 2 ? 3 : 1, stride = width * channels;

        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        var inflated = new MemoryStream();
        zlib.CopyTo(inflated);
        byte[] raw = inflated.ToArray();

        var pixels = new byte[stride * height];
        for (int y = 0; y < height && raw.Length == height * (stride + 1); y++)
        {
            byte filter = raw[y * (stride + 1)];
            for (int x = 0; x < stride; x++)
            {
                int a = x >= channels ? pixels[y * stride + x - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
                int c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"filter {filter}"),
                };
                pixels[y * stride + x] = (byte)(raw[y * (stride + 1) + 1 + x] + predictor);
            }
        }
        return new DecodedPng(width, height, ihdr[8], ihdr[9], ihdr[12], raw.Length, pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
