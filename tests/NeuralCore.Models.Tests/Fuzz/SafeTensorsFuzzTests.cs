using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using NeuralCore.Kernels.Reference;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Tests.IO;
using NeuralCore.Models.Training;
using Xunit.Abstractions;

namespace NeuralCore.Models.Tests.Fuzz;

/// <summary>
/// Mutated safetensors files, checkpoints and model.json texts are parsed or rejected with the reader's own
/// exception (<see cref="SafeTensorsFormatException"/>, <see cref="DataFormatException"/>), nothing else.
/// </summary>
public partial class SafeTensorsFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Numbers = ["0", "-1", "1", "3", "4", "2147483647", "2147483648", "9007199254740993", "1e30", "3.5", "-0", "18446744073709551616", "null", "\"4\"", "[]"];
    private static readonly string[] Dtypes = ["F16", "BF16", "F64", "I32", "f32", "", "F32 "];

    [GeneratedRegex("-?[0-9]+")]
    private static partial Regex Number();

    /// <summary>Header-level mutations: the 8-byte length, a number inside the JSON, a dtype, a removed or renamed key.</summary>
    private static (byte[], string) HeaderField(byte[] b, SeededRandom r)
    {
        if (b.Length < 8) return (b, "header field (too short)");
        if (r.NextInt(4) == 0)
        {
            var copy = (byte[])b.Clone();
            ulong original = BinaryPrimitives.ReadUInt64LittleEndian(copy);
            ulong[] lengths = [0, 1, 2, original - 1, original + 1, original + 8, (ulong)b.Length, ulong.MaxValue, 1UL << 63, 100_000_001];
            ulong value = lengths[r.NextInt(lengths.Length)];
            BinaryPrimitives.WriteUInt64LittleEndian(copy, value);
            return (copy, $"header length = {value}");
        }
        int headerLength = (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b), (ulong)(b.Length - 8));
        string header = Encoding.UTF8.GetString(b, 8, headerLength);
        string what;
        switch (r.NextInt(3))
        {
            case 0:
                var numbers = Number().Matches(header);
                if (numbers.Count == 0) return (b, "no number");
                var match = numbers[r.NextInt(numbers.Count)];
                string replacement = Numbers[r.NextInt(Numbers.Length)];
                header = header[..match.Index] + replacement + header[(match.Index + match.Length)..];
                what = $"number at {match.Index} = {replacement}";
                break;
            case 1:
                string dtype = Dtypes[r.NextInt(Dtypes.Length)];
                int at = header.IndexOf("\"F32\"", StringComparison.Ordinal);
                if (at < 0) return (b, "no dtype");
                header = header[..at] + "\"" + dtype + "\"" + header[(at + 5)..];
                what = $"dtype = '{dtype}'";
                break;
            default:
                string[] keys = ["\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"b\"", "\"epoch\"", "\"history\""];
                string key = keys[r.NextInt(keys.Length)];
                string renamed = r.NextInt(2) == 0 ? "\"x\"" : "\"a\"";
                if (!header.Contains(key)) return (b, "no key");
                header = header.Replace(key, renamed);
                what = $"key {key} renamed {renamed}";
                break;
        }
        // Keep the data section after the (possibly resized) header and rewrite the length.
        var json = Encoding.UTF8.GetBytes(header);
        var result = new byte[8 + json.Length + (b.Length - 8 - headerLength)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        b.AsSpan(8 + headerLength).CopyTo(result.AsSpan(8 + json.Length));
        return (result, what);
    }

    private static byte[] ValidFile(string path)
    {
        SafeTensors.Write(path, [("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [4], [7, 8, 9, 10]), ("c", [], [11])],
            new Dictionary<string, string> { ["kind"] = "test", ["note"] = "{\"x\":[1,2]}" });
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void MutatedSafeTensorsFiles_AreParsedOrRejectedCleanly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        var valid = ValidFile(path);
        var outcome = FuzzLoop.Run(output, "SafeTensors.Read", 4000, 804, (m, _) => m.Mutate(valid, HeaderField), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            // The path, the bytes and a non-seekable stream take the same checks: same tensors or the same problem.
            var fromPath = Outcome(() => SafeTensors.Read(path), path);
            Assert.Equal(fromPath, Outcome(() => SafeTensors.Read(bytes, "mem"), "mem"));
            Assert.Equal(fromPath, Outcome(() => SafeTensors.Read(new NonSeekableStream(bytes, 1 + bytes.Length / 3), "pipe"), "pipe"));
            var file = SafeTensors.Read(path);
            foreach (var (name, t) in file.Tensors)
                Assert.Equal(t.Shape.Aggregate(1L, (p, d) => p * d), t.Data.Length);
            Assert.Equal(file.Tensors.Count, file.Names.Count);
        }, e => e is SafeTensorsFormatException);
        Assert.True(outcome.Parsed > 100 && outcome.Rejected > 2000, $"{outcome}");
    }

    /// <summary>What a read gives, as text: the tensors and metadata, or the error's message without its source name.</summary>
    private static string Outcome(Func<SafeTensorsFile> read, string source)
    {
        try
        {
            var file = read();
            return string.Join(";", file.Names.Select(n => $"{n}{file.Tensors[n].ShapeText}={string.Join(",", file.Tensors[n].Data.Select(BitConverter.SingleToInt32Bits))}"))
                + "|" + string.Join(";", file.Metadata.Select(kv => kv.Key + "=" + kv.Value));
        }
        catch (SafeTensorsFormatException e)
        {
            Assert.StartsWith(source + ": ", e.Message);
            return "error" + e.Message[source.Length..];
        }
    }

    [Fact]
    public void MutatedModelBytes_LoadOrAreRejectedCleanly()
    {
        var backend = new ReferenceBackend();
        var spec = new ModelSpec
        {
            Kind = "vae", InputFeatures = 3, Latent = 2, Hidden = [4], Loss = "mse",
            Columns = ["a", "b", "c"], Scaler = new FeatureScaler([0f, 1f, 2f], [3f, 4f, 5f]),
        };
        var stream = new MemoryStream();
        ModelStore.Save(ModelFactory.Create(spec, backend, new SeededRandom(2)), stream);
        var valid = stream.ToArray();
        var outcome = FuzzLoop.Run(output, "ModelStore.Load(bytes)", 1500, 807, (m, _) => m.Mutate(valid, HeaderField), bytes =>
        {
            var model = ModelStore.Load(bytes, backend, "model.bin");
            model.Spec.Validate();
        }, e => e is SafeTensorsFormatException or DataFormatException && e.Message.StartsWith("model.bin", StringComparison.Ordinal));
        Assert.True(outcome.Parsed > 0 && outcome.Rejected > 500, $"{outcome}");
    }

    [Fact]
    public void MutatedCheckpoints_LoadAndRestoreOrAreRejectedCleanly()
    {
        using var dir = new TempDirectory();
        var backend = new ReferenceBackend();
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 6, Latent = 2, Hidden = [3], Loss = "mse" };
        var options = new TrainingOptions { Epochs = 2, BatchSize = 4, Seed = 5 };
        var trainer = new Trainer(ModelFactory.Create(spec, backend, new SeededRandom(5)), options);
        var data = Enumerable.Range(0, 48).Select(i => (i % 7) / 7f).ToArray();
        var history = new List<EpochMetrics> { trainer.RunEpoch(data, 8, data, 8) };
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, trainer, history, new Dictionary<string, string> { ["data"] = "mnist" });
        var valid = File.ReadAllBytes(path);

        var outcome = FuzzLoop.Run(output, "Checkpoint.Load+Restore", 1500, 805, (m, _) => m.Mutate(valid, HeaderField), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            var checkpoint = Checkpoint.Load(path);
            var fresh = new Trainer(ModelFactory.Create(checkpoint.Settings.Spec, backend, new SeededRandom(0)), checkpoint.Settings.Options);
            checkpoint.Restore(fresh);
            Assert.Equal(checkpoint.Epoch, fresh.EpochsDone);
        }, e => e is SafeTensorsFormatException or DataFormatException);
        Assert.True(outcome.Parsed > 0 && outcome.Rejected > 500, $"{outcome}");
    }

    [Fact]
    public void MutatedModelJson_IsParsedOrRejectedCleanly()
    {
        var spec = new ModelSpec
        {
            Kind = "conv-vae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 20, Hidden = [400, 200],
            Data = "mnist", Columns = ["a", "b"], Scaler = new FeatureScaler([0f, 1f], [2f, 3f]),
        };
        var valid = Encoding.UTF8.GetBytes(spec.ToJson());
        var outcome = FuzzLoop.Run(output, "ModelSpec.FromJson", 3000, 806, (m, _) => m.Mutate(valid, JsonField), bytes =>
        {
            var parsed = ModelSpec.FromJson(Encoding.UTF8.GetString(bytes), "model.json");
            parsed.Validate();
        }, e => e is DataFormatException && e.Message.StartsWith("model.json: ", StringComparison.Ordinal));
        Assert.True(outcome.Parsed > 100 && outcome.Rejected > 1000, $"{outcome}");
    }

    private static (byte[], string) JsonField(byte[] b, SeededRandom r)
    {
        string text = Encoding.UTF8.GetString(b);
        var numbers = Number().Matches(text);
        if (numbers.Count == 0) return (b, "no number");
        var match = numbers[r.NextInt(numbers.Count)];
        string replacement = Numbers[r.NextInt(Numbers.Length)];
        return (Encoding.UTF8.GetBytes(text[..match.Index] + replacement + text[(match.Index + match.Length)..]), $"number at {match.Index} = {replacement}");
    }
}
