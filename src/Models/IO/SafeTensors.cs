using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NeuralCore.Models.IO;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors) for F32 tensors:
/// an 8-byte little-endian header length N, N bytes of JSON
/// <c>{"__metadata__":{..}, "name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, ..}</c> padded
/// with spaces to a multiple of 8, then the little-endian data, tensors contiguous and sorted by name (as
/// the reference implementation writes them). Files written here load in PyTorch/NumPy via the
/// <c>safetensors</c> package and vice versa (F32 only).
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest accepted JSON header, the reference implementation's limit (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Key of the optional string-to-string metadata map in the header.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The only dtype this engine stores.</summary>
    public const string F32 = "F32";

    /// <summary>
    /// Atomically writes <paramref name="tensors"/> (and optional <paramref name="metadata"/>) to <paramref name="path"/>.
    /// </summary>
    /// <param name="path">Target file (usually <c>.safetensors</c>).</param>
    /// <param name="tensors">Named tensors; each Data is row-major with exactly product(Shape) values. Names must be unique and non-empty.</param>
    /// <param name="metadata">Optional string map stored under <c>__metadata__</c> (e.g. the model configuration as JSON).</param>
    /// <exception cref="ArgumentException">Duplicate or empty names, negative dimensions, or Data length not matching Shape.</exception>
    public static void Write(string path, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        byte[] header = BuildHeader(tensors, metadata, out var sorted);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, _, data) in sorted) WriteFloatsLittleEndian(stream, data);
        });
    }

    /// <summary>Reads and validates a safetensors file holding only F32 tensors.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">Header length past the end of the file, invalid JSON,
    /// a dtype other than F32, bad shapes, or data offsets that are out of range, overlap, leave gaps or
    /// do not match the shape.</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = stream.Length;
        if (fileLength < 8) throw Fail(path, $"is {fileLength} bytes, too short for the 8-byte header length; this is not a safetensors file");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Fail(path, $"header length {headerLength} runs past the end of the file ({fileLength} bytes); the file is truncated or not a safetensors file");
        if (headerLength > MaxHeaderBytes) throw Fail(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit; the file is corrupt");
        if (headerLength < 2) throw Fail(path, $"header length {headerLength} is too small for a JSON object; the file is corrupt");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;

        var entries = ParseHeader(path, header, dataLength, out var metadata);
        CheckCoverage(path, entries, dataLength);

        long dataStart = 8 + (long)headerLength;
        var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var names = new List<string>(entries.Count);
        foreach (var entry in entries)
        {
            var data = new float[entry.Elements];
            stream.Position = dataStart + entry.Begin;
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian) ReverseEndianness(data);
            tensors.Add(entry.Name, new SafeTensor(entry.Shape, data));
            names.Add(entry.Name);
        }
        return new SafeTensorsFile(path, tensors, names, metadata);
    }

    private sealed record Entry(string Name, int[] Shape, long Elements, long Begin, long End);

    private static byte[] BuildHeader(IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata,
                                      out List<(string Name, int[] Shape, float[] Data)> sorted)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        sorted = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        for (int i = 0; i < sorted.Count; i++)
        {
            var (name, shape, data) = sorted[i];
            if (string.IsNullOrEmpty(name) || name == MetadataKey) throw new ArgumentException($"tensor name '{name}' is empty or reserved", nameof(tensors));
            if (i > 0 && sorted[i - 1].Name == name) throw new ArgumentException($"tensor name '{name}' appears twice", nameof(tensors));
            ArgumentNullException.ThrowIfNull(shape);
            ArgumentNullException.ThrowIfNull(data);
            long elements = 1;
            foreach (int d in shape)
            {
                if (d < 0) throw new ArgumentException($"tensor '{name}' has a negative dimension in shape {SafeTensor.FormatShape(shape)}", nameof(tensors));
                elements *= d;
            }
            if (elements != data.Length)
                throw new ArgumentException($"tensor '{name}': shape {SafeTensor.FormatShape(shape)} needs {elements} values, got {data.Length}", nameof(tensors));
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, shape, data) in sorted)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", F32);
                json.WriteStartArray("shape");
                foreach (int d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += (long)data.Length * sizeof(float));
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static List<Entry> ParseHeader(string path, byte[] header, long dataLength, out Dictionary<string, string> metadata)
    {
        if (header[0] != (byte)'{') throw Fail(path, "header does not start with '{'; this is not a safetensors file");
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw Fail(path, "header is not valid UTF-8 text; the file is corrupt");
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        JsonDocument document;
        try { document = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new SafeTensorsFormatException($"{path}: header is not valid JSON ({e.Message}); the file is corrupt", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Fail(path, "header is not a JSON object; the file is corrupt");
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name)) throw Fail(path, $"header names '{name}' twice; the file is corrupt");
                if (name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object) throw Fail(path, $"{MetadataKey} is not a JSON object of strings");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String) throw Fail(path, $"{MetadataKey} value '{item.Name}' is {item.Value.ValueKind}, but metadata values must be strings");
                        if (!metadata.TryAdd(item.Name, item.Value.GetString()!)) throw Fail(path, $"{MetadataKey} names '{item.Name}' twice");
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, name, property.Value, dataLength));
            }
        }
        return entries;
    }

    private static Entry ParseEntry(string path, string name, JsonElement info, long dataLength)
    {
        if (info.ValueKind != JsonValueKind.Object) throw Fail(path, $"tensor '{name}' is not described by a JSON object");
        if (!info.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw Fail(path, $"tensor '{name}' has no string \"dtype\"");
        if (dtype.GetString() != F32)
            throw Fail(path, $"tensor '{name}' has dtype {dtype.GetString()}, but only F32 is supported; convert the file to float32 (e.g. tensor.float() before saving)");
        if (!info.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw Fail(path, $"tensor '{name}' has no \"shape\" array");
        var shape = new int[shapeJson.GetArrayLength()];
        long elements = 1;
        int axis = 0;
        foreach (var dim in shapeJson.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0 || d > Array.MaxLength)
                throw Fail(path, $"tensor '{name}' shape entry {axis} ({dim.GetRawText()}) is not a size between 0 and {Array.MaxLength}");
            shape[axis++] = (int)d;
            elements = d == 0 ? 0 : elements > Array.MaxLength / d ? long.MaxValue : elements * d;
        }
        if (elements > Array.MaxLength)
            throw Fail(path, $"tensor '{name}' shape {SafeTensor.FormatShape(shape)} has more than {Array.MaxLength} elements; it cannot be loaded");
        if (!info.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Fail(path, $"tensor '{name}' has no \"data_offsets\" array of two integers");
        long begin = ReadOffset(path, name, offsets[0]), end = ReadOffset(path, name, offsets[1]);
        if (begin > end || end > dataLength)
            throw Fail(path, $"tensor '{name}' data_offsets [{begin}, {end}] lie outside the {dataLength}-byte data section; the file is truncated or corrupt");
        if (end - begin != elements * sizeof(float))
            throw Fail(path, $"tensor '{name}' data_offsets [{begin}, {end}] span {end - begin} bytes but F32 shape {SafeTensor.FormatShape(shape)} needs {elements * sizeof(float)}");
        return new Entry(name, shape, elements, begin, end);
    }

    private static long ReadOffset(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long offset) || offset < 0)
            throw Fail(path, $"tensor '{name}' data offset {value.GetRawText()} is not a non-negative integer");
        return offset;
    }

    /// <summary>Sorts entries by offset and requires them to tile the data section exactly: no overlap, no gap, no trailing bytes.</summary>
    private static void CheckCoverage(string path, List<Entry> entries, long dataLength)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        string previous = "";
        foreach (var entry in entries)
        {
            if (entry.Begin < cursor) throw Fail(path, $"tensor '{entry.Name}' data [{entry.Begin}, {entry.End}] overlaps tensor '{previous}' (ends at {cursor}); the file is corrupt");
            if (entry.Begin > cursor) throw Fail(path, $"there is a gap of {entry.Begin - cursor} bytes before tensor '{entry.Name}'; the file is corrupt");
            cursor = entry.End;
            previous = entry.Name;
        }
        if (cursor != dataLength) throw Fail(path, $"the data section has {dataLength} bytes but the tensors cover only {cursor}; the file is corrupt");
    }

    private static void WriteFloatsLittleEndian(Stream stream, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        var swapped = (float[])data.Clone();
        ReverseEndianness(swapped);
        stream.Write(MemoryMarshal.AsBytes(swapped.AsSpan()));
    }

    private static void ReverseEndianness(float[] data)
    {
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(data.AsSpan());
        BinaryPrimitives.ReverseEndianness(bits, bits);
    }

    private static SafeTensorsFormatException Fail(string path, string problem) => new($"{path}: {problem}");
}
