using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Tests.IO;

public class SafeTensorsTests
{
    private static readonly (string Name, int[] Shape, float[] Data)[] Sample =
    [
        ("encoder.weight", [2, 3], [1f, -2f, 0.1f, float.MaxValue, float.Epsilon, -0f]),
        ("a.bias", [3], [0.5f, float.NaN, float.NegativeInfinity]),
        ("scalar", [], [42f]),
        ("empty", [0, 4], []),
    ];

    [Fact]
    public void RoundTripsTensorsAndMetadataBitExactly()
    {
        using var temp = new TempDirectory();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["config"] = "{\"latent\": 2}" };
        SafeTensors.Write(temp.File("m.safetensors"), Sample, metadata);
        var file = SafeTensors.Read(temp.File("m.safetensors"));
        Assert.Equal(Sample.Select(t => t.Name).Order(StringComparer.Ordinal), file.Names);
        foreach (var (name, shape, data) in Sample)
        {
            Assert.Equal(shape, file.Tensors[name].Shape);
            Assert.Equal(data.Select(BitConverter.SingleToInt32Bits), file.Tensors[name].Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(metadata, file.Metadata);
        Assert.Same(file.Tensors["a.bias"], file.Require("a.bias", 3));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Fact]
    public void IndependentMinimalReaderParsesOurFile()
    {
        using var temp = new TempDirectory();
        SafeTensors.Write(temp.File("m.safetensors"), Sample, new Dictionary<string, string> { ["k"] = "v" });
        byte[] bytes = File.ReadAllBytes(temp.File("m.safetensors"));

        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        string headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.EndsWith("}", headerText.TrimEnd(' '));
        Assert.InRange(headerText.Length - headerText.TrimEnd(' ').Length, 0, 7); // padded with spaces to a multiple of 8
        using var header = JsonDocument.Parse(headerText);
        var names = new List<string>();
        long expectedBegin = 0;
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                Assert.Equal("v", property.Value.GetProperty("k").GetString());
                continue;
            }
            names.Add(property.Name);
            var info = property.Value;
            Assert.Equal("F32", info.GetProperty("dtype").GetString());
            int[] shape = info.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            long begin = info.GetProperty("data_offsets")[0].GetInt64(), end = info.GetProperty("data_offsets")[1].GetInt64();
            Assert.Equal(expectedBegin, begin); // contiguous, in name order
            expectedBegin = end;
            var expected = Sample.Single(t => t.Name == property.Name);
            Assert.Equal(expected.Shape, shape);
            Assert.Equal(expected.Data.Length * 4, end - begin);
            for (int i = 0; i < expected.Data.Length; i++)
            {
                float value = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(8 + n + begin + 4 * i)));
                Assert.Equal(BitConverter.SingleToInt32Bits(expected.Data[i]), BitConverter.SingleToInt32Bits(value));
            }
        }
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(bytes.Length, 8 + n + expectedBegin);
    }

    [Fact]
    public void HeaderMatchesTheReferenceLayoutByteForByte()
    {
        using var temp = new TempDirectory();
        SafeTensors.Write(temp.File("t.safetensors"), [("b", [2], [1f, 2f]), ("a", [1, 1], [3f])]);
        byte[] bytes = File.ReadAllBytes(temp.File("t.safetensors"));
        string expected = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        expected += new string(' ', (8 - expected.Length % 8) % 8);
        Assert.Equal((ulong)expected.Length, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes, 8, expected.Length));
        Assert.Equal(new byte[] { 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40 }, bytes[(8 + expected.Length)..]);
    }

    public static TheoryData<string, byte[], string> BadFiles => new()
    {
        { "{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4], "dtype I32" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[8], "outside" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8], "needs 12" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8], "overlaps" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8], "gap" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8], "cover only 4" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4], "shape entry 0" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536],\"data_offsets\":[0,4]}}", new byte[4], "more than" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", new byte[8], "outside" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", new byte[4], "non-negative" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4], "data_offsets" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4], "twice" },
        { "{\"__metadata__\":{\"k\":1}}", [], "must be strings" },
        { "{\"a\":{\"dtype\":\"F32\",", new byte[4], "not valid JSON" },
        { "[1,2]", [], "does not start with '{'" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void StrictValidationRejectsBadHeaders(string header, byte[] data, string expected)
    {
        using var temp = new TempDirectory();
        string path = temp.File("bad.safetensors");
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. Length(headerBytes.Length), .. headerBytes, .. data]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);

        // The same content from memory or a stream fails with the same message, naming the stream instead of a path.
        byte[] bytes = File.ReadAllBytes(path);
        string problem = e.Message[path.Length..];
        Assert.Equal("<bytes>" + problem, Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(bytes)).Message);
        Assert.Equal("<stream>" + problem, Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(new MemoryStream(bytes))).Message);
        Assert.Equal("weights.bin" + problem, Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(new NonSeekableStream(bytes), "weights.bin")).Message);
    }

    [Fact]
    public void HeaderLengthPastTheFileAndTinyFilesAreRejected()
    {
        using var temp = new TempDirectory();
        string path = temp.File("bad.safetensors");
        File.WriteAllBytes(path, [.. Length(1000), .. "{}"u8]);
        Assert.Contains("runs past the end", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path)).Message);
        File.WriteAllBytes(path, [.. Length(ulong.MaxValue)]);
        Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path));
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path)).Message);

        // A valid file cut short loses data the header promises.
        SafeTensors.Write(path, Sample);
        byte[] full = File.ReadAllBytes(path);
        File.WriteAllBytes(path, full[..^4]);
        Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path));
    }

    [Fact]
    public void StreamsAndBytes_ReadWhatAFileHolds_BitForBit()
    {
        using var temp = new TempDirectory();
        var metadata = new Dictionary<string, string> { ["spec"] = "{\"latent\": 2}" };
        SafeTensors.Write(temp.File("m.safetensors"), Sample, metadata);
        byte[] bytes = File.ReadAllBytes(temp.File("m.safetensors"));
        var written = new MemoryStream();
        SafeTensors.Write(written, Sample, metadata);
        Assert.Equal(bytes, written.ToArray());   // Write(Stream) writes the file's bytes

        var expected = SafeTensors.Read(temp.File("m.safetensors"));
        using var file = File.OpenRead(temp.File("m.safetensors"));
        var prefixed = new MemoryStream([.. "junk"u8, .. bytes]) { Position = 4 };   // read from the current position
        var copies = new (SafeTensorsFile File, string Name)[]
        {
            (SafeTensors.Read(file), "<stream>"),
            (SafeTensors.Read(bytes), "<bytes>"),
            (SafeTensors.Read(new ReadOnlyMemory<byte>([.. "junk"u8, .. bytes])[4..], "slice"), "slice"),
            (SafeTensors.Read(new NonSeekableStream(bytes), "pipe"), "pipe"),
            (SafeTensors.Read(prefixed), "<stream>"),
        };
        foreach (var (copy, name) in copies)
        {
            Assert.Equal(name, copy.Path);
            Assert.Equal(expected.Names, copy.Names);
            Assert.Equal(expected.Metadata, copy.Metadata);
            foreach (var tensorName in expected.Names)
            {
                Assert.Equal(expected.Tensors[tensorName].Shape, copy.Tensors[tensorName].Shape);
                Assert.Equal(expected.Tensors[tensorName].Data.Select(BitConverter.SingleToInt32Bits), copy.Tensors[tensorName].Data.Select(BitConverter.SingleToInt32Bits));
            }
        }
        Assert.Equal(bytes.Length + 4, prefixed.Position);
        Assert.True(file.CanRead);   // left open
    }

    [Fact]
    public void TruncatedOrGarbageStreams_GiveTheFilesErrors()
    {
        var full = new MemoryStream();
        SafeTensors.Write(full, Sample);
        byte[] bytes = full.ToArray();

        foreach (Func<byte[], Stream> open in new Func<byte[], Stream>[] { b => new MemoryStream(b), b => new NonSeekableStream(b) })
        {
            Assert.Contains("too short", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open([1, 2, 3]))).Message);
            Assert.Contains("too short", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open([]))).Message);
            Assert.Contains("does not start with '{'", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open([.. Length(8), .. "PK\u0003\u0004garbage"u8]))).Message);
            var cut = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open(bytes[..^4])));
            Assert.StartsWith("<stream>: ", cut.Message);
            Assert.Contains("runs past the end", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open(bytes[..40]))).Message);
            // A header length of 2^63 is rejected before anything that large is allocated.
            Assert.Contains("runs past the end", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(open([.. Length(1UL << 63), .. "{}"u8]))).Message);
        }
        // A stream that claims more bytes than it gives: a truncated file, not an EndOfStreamException.
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(new ShortStream(bytes[..^4], bytes.Length)));
        Assert.Equal("<stream>: ends before the data its header describes; the file is truncated", e.Message);

        Assert.Throws<ArgumentException>(() => SafeTensors.Read(new MemoryStream(bytes), ""));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(bytes, writable: false), Sample));
    }

    [Fact]
    public void RequireReportsExpectedAndActualShapes()
    {
        using var temp = new TempDirectory();
        SafeTensors.Write(temp.File("m.safetensors"), Sample);
        var file = SafeTensors.Read(temp.File("m.safetensors"));
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.Require("encoder.weight", 3, 2));
        Assert.Contains("expected shape [3, 2], got [2, 3]", e.Message);
        Assert.Contains("no tensor 'decoder.weight'", Assert.Throws<SafeTensorsFormatException>(() => file.Require("decoder.weight", 1)).Message);
    }

    [Fact]
    public void WriteRejectsInconsistentTensors()
    {
        using var temp = new TempDirectory();
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(temp.File("x"), [("a", [2, 2], new float[3])]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(temp.File("x"), [("a", [1], new float[1]), ("a", [1], new float[1])]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(temp.File("x"), [("__metadata__", [1], new float[1])]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(temp.File("x"), [("a", [-1], new float[0])]));
        Assert.Empty(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void WrittenFilesSayFormatPt_AsHuggingFaceLoadersExpect()
    {
        using var temp = new TempDirectory();
        SafeTensors.Write(temp.File("plain.safetensors"), Sample);
        SafeTensors.Write(temp.File("own.safetensors"), Sample, new Dictionary<string, string> { ["kind"] = "vae" });
        Assert.Equal("pt", SafeTensors.Read(temp.File("plain.safetensors")).Metadata["format"]);
        var own = SafeTensors.Read(temp.File("own.safetensors")).Metadata;
        Assert.Equal(("pt", "vae"), (own["format"], own["kind"]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(temp.File("x.safetensors"), Sample, new Dictionary<string, string> { ["format"] = "np" }));
    }

    [Fact]
    public void HalfBFloatAndDoubleTensorsAreReadAsFloat32()
    {
        // Values chosen to cover each encoding's edges: +-0, subnormals, the largest finite value, infinities and NaN.
        Half[] halves = [(Half)1.5f, (Half)(-0f), Half.Epsilon, Half.MaxValue, Half.NegativeInfinity, Half.NaN, (Half)0.1f];
        // BF16 bit patterns: 1, -2.5, the largest finite, +Inf, NaN, the smallest subnormal, -0.
        float[] bfloats = [.. new ushort[] { 0x3F80, 0xC020, 0x7F7F, 0x7F80, 0x7FC0, 0x0001, 0x8000 }.Select(bits => BitConverter.UInt32BitsToSingle((uint)bits << 16))];
        double[] doubles = [0.1, -1e-50, 1e300, double.NegativeInfinity, 123456.789];
        var data = new List<byte>();
        foreach (var h in halves) { var b = new byte[2]; BinaryPrimitives.WriteHalfLittleEndian(b, h); data.AddRange(b); }
        foreach (var f in bfloats) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)); data.AddRange(b); }
        foreach (var d in doubles) { var b = new byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, d); data.AddRange(b); }
        int h16 = halves.Length * 2, b16 = h16 + bfloats.Length * 2, f64 = b16 + doubles.Length * 8;
        string header = $"{{\"__metadata__\":{{\"format\":\"pt\"}},\"h\":{{\"dtype\":\"F16\",\"shape\":[{halves.Length}],\"data_offsets\":[0,{h16}]}}," +
                        $"\"b\":{{\"dtype\":\"BF16\",\"shape\":[{bfloats.Length}],\"data_offsets\":[{h16},{b16}]}}," +
                        $"\"d\":{{\"dtype\":\"F64\",\"shape\":[{doubles.Length}],\"data_offsets\":[{b16},{f64}]}}}}";
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var file = SafeTensors.Read((byte[])[.. Length(headerBytes.Length), .. headerBytes, .. data]);

        Assert.Equal(halves.Select(h => BitConverter.SingleToInt32Bits((float)h)), file.Tensors["h"].Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(bfloats.Select(BitConverter.SingleToInt32Bits), file.Tensors["b"].Data.Select(BitConverter.SingleToInt32Bits));
        // Doubles round to the nearest float32, as tensor.float() does: tiny values to -0, huge ones to infinity.
        Assert.Equal(doubles.Select(d => BitConverter.SingleToInt32Bits((float)d)), file.Tensors["d"].Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(float.PositiveInfinity, file.Tensors["d"].Data[2]);
    }

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("U8", 1)]
    [InlineData("F8_E4M3", 1)]
    public void OtherDtypesAreRefusedWithTheConversionHint(string dtype, int size)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes($"{{\"a\":{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,{size}]}}}}");
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read((byte[])[.. Length(headerBytes.Length), .. headerBytes, .. new byte[size]]));
        Assert.Contains($"dtype {dtype}", e.Message);
        Assert.Contains("tensor.float()", e.Message);
    }

    [Fact]
    public void HalfTensorsWithTheWrongByteCountAreRefused()
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}");
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read((byte[])[.. Length(headerBytes.Length), .. headerBytes, .. new byte[12]]));
        Assert.Contains("F16 shape [3] needs 6", e.Message);
    }

    private static byte[] Length(long n) => Length((ulong)n);

    private static byte[] Length(ulong n)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, n);
        return bytes;
    }
}
