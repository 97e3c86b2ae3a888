using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NeuralCore.Models.IO;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length N, N bytes of JSON
/// <c>{"__metadata__":{..}, "name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, ..}</c> padded
/// with spaces to a multiple of 8, then the little-endian data, tensors contiguous and sorted by name (as
/// the reference implementation writes them). Files are written in F32 with <c>"format": "pt"</c> in their metadata,
/// which Hugging Face's PyTorch loaders expect; files read may hold F32, F16, BF16 or F64 tensors (PyTorch users
/// often save half precision), converted to float32 on reading.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest accepted JSON header, the reference implementation's limit (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Key of the optional string-to-string metadata map in the header.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The dtype this engine writes (and computes in).</summary>
    public const string F32 = "F32";

    /// <summary>The dtypes <see cref="Read(string)"/> accepts; all but F32 are converted to float32 on reading.</summary>
    public static readonly IReadOnlyList<string> ReadableDtypes = [F32, "F16", "BF16", "F64"];

    /// <summary>Metadata key naming the framework whose conventions the file follows.</summary>
    public const string FormatKey = "format";

    /// <summary>Value of <see cref="FormatKey"/> in every file written here: PyTorch's tensor layouts, as Hugging Face's loaders expect.</summary>
    public const string PyTorchFormat = "pt";

    /// <summary>Name used in error messages for a stream read by <see cref="Read(Stream, string)"/> without a name.</summary>
    public const string StreamName = "<stream>";

    /// <summary>Name used in error messages for bytes read by <see cref="Read(ReadOnlyMemory{byte}, string)"/> without a name.</summary>
    public const string BytesName = "<bytes>";

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
        AtomicFile.Write(path, stream => WriteContent(stream, header, sorted));
    }

    /// <summary>
    /// Writes the same bytes as <see cref="Write(string, IReadOnlyList{ValueTuple{string, int[], float[]}}, IReadOnlyDictionary{string, string}?)"/>
    /// to <paramref name="stream"/>, from its current position (e.g. into a <see cref="MemoryStream"/>). The stream is left open.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <param name="tensors">Named tensors; each Data is row-major with exactly product(Shape) values. Names must be unique and non-empty.</param>
    /// <param name="metadata">Optional string map stored under <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">The stream is not writable, duplicate or empty names, negative dimensions, or Data length not matching Shape.</exception>
    public static void Write(Stream stream, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite) throw new ArgumentException("the stream is not writable", nameof(stream));
        byte[] header = BuildHeader(tensors, metadata, out var sorted);
        WriteContent(stream, header, sorted);
    }

    /// <summary>Reads and validates a safetensors file of F32, F16, BF16 or F64 tensors (all returned as float32).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">Header length past the end of the file, invalid JSON,
    /// a dtype other than F32, F16, BF16 or F64, bad shapes, or data offsets that are out of range, overlap, leave gaps or
    /// do not match the shape.</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return ReadContent(path, stream, stream.Length);
    }

    /// <summary>
    /// Reads and validates safetensors content from <paramref name="stream"/>, from its current position to its end
    /// (e.g. an embedded resource from <see cref="System.Reflection.Assembly.GetManifestResourceStream(string)"/>),
    /// with the same checks as <see cref="Read(string)"/>. The stream is left open.
    /// </summary>
    /// <remarks>
    /// A seekable stream is read directly and its length bounds every allocation. A non-seekable stream (a network or
    /// decompression stream) does not say how long it is, so its bytes are first copied into memory (at most
    /// <see cref="Array.MaxLength"/> bytes); the memory needed grows only with the bytes that actually arrive.
    /// </remarks>
    /// <param name="stream">A readable stream positioned at the start of the safetensors content.</param>
    /// <param name="name">Names the content in error messages and in <see cref="SafeTensorsFile.Path"/> (a stream has no path).</param>
    /// <exception cref="ArgumentException">The stream is not readable, or <paramref name="name"/> is empty.</exception>
    /// <exception cref="SafeTensorsFormatException">As for <see cref="Read(string)"/>, each message starting with <paramref name="name"/>.</exception>
    public static SafeTensorsFile Read(Stream stream, string name = StreamName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!stream.CanRead) throw new ArgumentException("the stream is not readable", nameof(stream));
        if (stream.CanSeek) return ReadContent(name, stream, Math.Max(0, stream.Length - stream.Position));
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > Array.MaxLength)
                throw Fail(name, $"the stream is longer than {Array.MaxLength} bytes, too long to read without seeking; pass a seekable stream or a file");
            buffer.Write(chunk, 0, read);
        }
        buffer.Position = 0;
        return ReadContent(name, buffer, buffer.Length);
    }

    /// <summary>
    /// Reads and validates safetensors content held in memory (the bytes of a whole file), with the same checks as
    /// <see cref="Read(string)"/>. The tensors are copied out; <paramref name="bytes"/> is not kept.
    /// </summary>
    /// <param name="bytes">The content of a safetensors file (a <c>byte[]</c> converts implicitly).</param>
    /// <param name="name">Names the content in error messages and in <see cref="SafeTensorsFile.Path"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    /// <exception cref="SafeTensorsFormatException">As for <see cref="Read(string)"/>, each message starting with <paramref name="name"/>.</exception>
    public static SafeTensorsFile Read(ReadOnlyMemory<byte> bytes, string name = BytesName)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var stream = MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
        return ReadContent(name, stream, stream.Length);
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes of safetensors content from the current position of <paramref name="stream"/>,
    /// front to back without seeking. Every allocation is checked against <paramref name="length"/> first.
    /// </summary>
    private static SafeTensorsFile ReadContent(string source, Stream stream, long length)
    {
        if (length < 8) throw Fail(source, $"is {length} bytes, too short for the 8-byte header length; this is not a safetensors file");
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(source, stream, lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(length - 8))
            throw Fail(source, $"header length {headerLength} runs past the end of the file ({length} bytes); the file is truncated or not a safetensors file");
        if (headerLength > MaxHeaderBytes) throw Fail(source, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit; the file is corrupt");
        if (headerLength < 2) throw Fail(source, $"header length {headerLength} is too small for a JSON object; the file is corrupt");
        var header = new byte[headerLength];
        ReadExactly(source, stream, header);
        long dataLength = length - 8 - (long)headerLength;

        var entries = ParseHeader(source, header, dataLength, out var metadata);
        CheckCoverage(source, entries, dataLength);

        // CheckCoverage sorted the entries by offset and made sure they tile the data section, so reading them in
        // order walks the data front to back: no seeking, which a non-seekable source could not do.
        var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
        var names = new List<string>(entries.Count);
        foreach (var entry in entries)
        {
            var data = ReadTensor(source, stream, entry);
            tensors.Add(entry.Name, new SafeTensor(entry.Shape, data));
            names.Add(entry.Name);
        }
        return new SafeTensorsFile(source, tensors, names, metadata);
    }

    /// <summary>Reads one tensor's data and converts it to float32.</summary>
    private static float[] ReadTensor(string source, Stream stream, Entry entry)
    {
        var data = new float[entry.Elements];
        if (entry.Dtype == F32)
        {
            ReadExactly(source, stream, MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian) ReverseEndianness(data);
            return data;
        }
        int size = ElementSize(entry.Dtype);
        // Converted a chunk at a time so a large half-precision tensor needs no second full-size buffer.
        var chunk = new byte[Math.Min(entry.Elements, 1 << 14) * size];
        for (long done = 0; done < entry.Elements;)
        {
            int count = (int)Math.Min(entry.Elements - done, chunk.Length / size);
            Span<byte> bytes = chunk.AsSpan(0, count * size);
            ReadExactly(source, stream, bytes);
            ToFloat32(entry.Dtype, bytes, data.AsSpan((int)done, count));
            done += count;
        }
        return data;
    }

    /// <summary>Little-endian F16, BF16 or F64 values to float32, one loop per dtype.</summary>
    private static void ToFloat32(string dtype, ReadOnlySpan<byte> bytes, Span<float> target)
    {
        switch (dtype)
        {
            case "F16":
                for (int i = 0; i < target.Length; i++) target[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.Slice(2 * i));
                break;
            case "BF16":
                // BF16 is the upper half of a float32's bits.
                for (int i = 0; i < target.Length; i++) target[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2 * i)) << 16);
                break;
            default:
                for (int i = 0; i < target.Length; i++) target[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(8 * i));
                break;
        }
    }

    private static int ElementSize(string dtype) => dtype switch { "F16" or "BF16" => 2, "F64" => 8, _ => 4 };

    /// <summary>Fills <paramref name="buffer"/>; a source that ends early (a file cut while being read, a stream shorter than its Length) is a format error.</summary>
    private static void ReadExactly(string source, Stream stream, Span<byte> buffer)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException e) { throw new SafeTensorsFormatException($"{source}: ends before the data its header describes; the file is truncated", e); }
    }

    private sealed record Entry(string Name, string Dtype, int[] Shape, long Elements, long Begin, long End);

    private static byte[] BuildHeader(IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata,
                                      out List<(string Name, int[] Shape, float[] Data)> sorted)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (metadata != null && metadata.TryGetValue(FormatKey, out var format) && format != PyTorchFormat)
            throw new ArgumentException($"metadata \"{FormatKey}\" is '{format}', but files written here always say '{PyTorchFormat}'; store your own marker under another key", nameof(metadata));
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
            var withFormat = new SortedDictionary<string, string>(StringComparer.Ordinal) { [FormatKey] = PyTorchFormat };
            foreach (var (key, value) in metadata ?? new Dictionary<string, string>()) withFormat[key] = value;
            json.WriteStartObject(MetadataKey);
            foreach (var (key, value) in withFormat) json.WriteString(key, value);
            json.WriteEndObject();
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

    private static List<Entry> ParseHeader(string source, byte[] header, long dataLength, out Dictionary<string, string> metadata)
    {
        if (header[0] != (byte)'{') throw Fail(source, "header does not start with '{'; this is not a safetensors file");
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw Fail(source, "header is not valid UTF-8 text; the file is corrupt");
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        JsonDocument document;
        try { document = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new SafeTensorsFormatException($"{source}: header is not valid JSON ({OneLine(e.Message)}); the file is corrupt", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Fail(source, "header is not a JSON object; the file is corrupt");
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name)) throw Fail(source, $"header names '{name}' twice; the file is corrupt");
                if (name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object) throw Fail(source, $"{MetadataKey} is not a JSON object of strings");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String) throw Fail(source, $"{MetadataKey} value '{item.Name}' is {item.Value.ValueKind}, but metadata values must be strings");
                        if (!metadata.TryAdd(item.Name, item.Value.GetString()!)) throw Fail(source, $"{MetadataKey} names '{item.Name}' twice");
                    }
                    continue;
                }
                entries.Add(ParseEntry(source, name, property.Value, dataLength));
            }
        }
        return entries;
    }

    private static Entry ParseEntry(string source, string name, JsonElement info, long dataLength)
    {
        if (info.ValueKind != JsonValueKind.Object) throw Fail(source, $"tensor '{name}' is not described by a JSON object");
        if (!info.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw Fail(source, $"tensor '{name}' has no string \"dtype\"");
        string dtypeName = dtype.GetString()!;
        if (!ReadableDtypes.Contains(dtypeName))
            throw Fail(source, $"tensor '{name}' has dtype {OneLine(dtypeName)}, but only {string.Join(", ", ReadableDtypes)} can be read; convert the tensor to float32 (e.g. tensor.float() before saving)");
        if (!info.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw Fail(source, $"tensor '{name}' has no \"shape\" array");
        var shape = new int[shapeJson.GetArrayLength()];
        long elements = 1;
        int axis = 0;
        foreach (var dim in shapeJson.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0 || d > Array.MaxLength)
                throw Fail(source, $"tensor '{name}' shape entry {axis} ({dim.GetRawText()}) is not a size between 0 and {Array.MaxLength}");
            shape[axis++] = (int)d;
            elements = d == 0 ? 0 : elements > Array.MaxLength / d ? long.MaxValue : elements * d;
        }
        if (elements > Array.MaxLength)
            throw Fail(source, $"tensor '{name}' shape {SafeTensor.FormatShape(shape)} has more than {Array.MaxLength} elements; it cannot be loaded");
        if (!info.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Fail(source, $"tensor '{name}' has no \"data_offsets\" array of two integers");
        long begin = ReadOffset(source, name, offsets[0]), end = ReadOffset(source, name, offsets[1]);
        if (begin > end || end > dataLength)
            throw Fail(source, $"tensor '{name}' data_offsets [{begin}, {end}] lie outside the {dataLength}-byte data section; the file is truncated or corrupt");
        int size = ElementSize(dtypeName);
        if (end - begin != elements * size)
            throw Fail(source, $"tensor '{name}' data_offsets [{begin}, {end}] span {end - begin} bytes but {dtypeName} shape {SafeTensor.FormatShape(shape)} needs {elements * size}");
        return new Entry(name, dtypeName, shape, elements, begin, end);
    }

    private static long ReadOffset(string source, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long offset) || offset < 0)
            throw Fail(source, $"tensor '{name}' data offset {value.GetRawText()} is not a non-negative integer");
        return offset;
    }

    /// <summary>Sorts entries by offset and requires them to tile the data section exactly: no overlap, no gap, no trailing bytes.</summary>
    private static void CheckCoverage(string source, List<Entry> entries, long dataLength)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        string previous = "";
        foreach (var entry in entries)
        {
            if (entry.Begin < cursor) throw Fail(source, $"tensor '{entry.Name}' data [{entry.Begin}, {entry.End}] overlaps tensor '{previous}' (ends at {cursor}); the file is corrupt");
            if (entry.Begin > cursor) throw Fail(source, $"there is a gap of {entry.Begin - cursor} bytes before tensor '{entry.Name}'; the file is corrupt");
            cursor = entry.End;
            previous = entry.Name;
        }
        if (cursor != dataLength) throw Fail(source, $"the data section has {dataLength} bytes but the tensors cover only {cursor}; the file is corrupt");
    }

    private static void WriteContent(Stream stream, byte[] header, List<(string Name, int[] Shape, float[] Data)> sorted)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var (_, _, data) in sorted) WriteFloatsLittleEndian(stream, data);
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

    /// <summary>A parser's message on one short line: it may quote the corrupt bytes, control characters and all.</summary>
    private static string OneLine(string message)
    {
        const int MaxLength = 300;
        var text = new System.Text.StringBuilder(Math.Min(message.Length, MaxLength + 3));
        foreach (char c in message.AsSpan(0, Math.Min(message.Length, MaxLength))) text.Append(char.IsControl(c) ? ' ' : c);
        if (message.Length > MaxLength) text.Append("...");
        return text.ToString();
    }

    private static SafeTensorsFormatException Fail(string source, string problem) => new($"{source}: {problem}");
}
