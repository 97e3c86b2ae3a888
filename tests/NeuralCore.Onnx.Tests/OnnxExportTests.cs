using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;

namespace NeuralCore.Onnx.Tests;

/// <summary>Every model kind and part, exported and run in ONNX Runtime, gives NeuralCore's own outputs.</summary>
public class OnnxExportTests
{
    // A VQ-VAE's nearest-code step has no ONNX form here; export refuses it (test below).
    private static IEnumerable<string> ExportedKinds => ModelSpec.Kinds.Where(kind => kind != "vqvae");

    public static TheoryData<string, OnnxPart> KindsAndParts()
    {
        var data = new TheoryData<string, OnnxPart>();
        foreach (string kind in ExportedKinds)
            foreach (var part in Enum.GetValues<OnnxPart>()) data.Add(kind, part);
        return data;
    }

    private static ModelSpec Spec(string kind, bool table = false) => kind.StartsWith("conv-", StringComparison.Ordinal)
        ? new ModelSpec { Kind = kind, InputFeatures = 2 * 8 * 12, ImageShape = [2, 8, 12], Latent = 5 }
        : new ModelSpec
        {
            Kind = kind, InputFeatures = 7, Latent = 3, Hidden = [16, 9], Loss = table ? "mse" : "bce",
            Scaler = table ? new FeatureScaler([-3f, 0f, 10f, 5f, -1f, 2f, 0f], [3f, 1f, 1000f, 5f, 1f, 2.5f, 1e-3f]) : null,
        };

    /// <summary>Inputs of the part: rows in the model's units (raw for a table), or embeddings for the decoder.</summary>
    private static float[] Inputs(ModelSpec spec, OnnxPart part, int batch, int seed)
    {
        var random = new Random(seed);
        int width = part == OnnxPart.Decoder ? spec.Latent : spec.InputFeatures;
        var values = new float[batch * width];
        for (int i = 0; i < values.Length; i++)
        {
            float u = (float)random.NextDouble();
            values[i] = part == OnnxPart.Decoder ? 4 * u - 2 : spec.Scaler == null ? u : spec.Scaler.Min[i % width] + u * (spec.Scaler.Max[i % width] - spec.Scaler.Min[i % width]) * 1.2f;
        }
        return values;
    }

    /// <summary>What NeuralCore computes for the part, in the same units as the ONNX graph.</summary>
    private static float[] Ours(Autoencoder model, OnnxPart part, float[] input, int batch)
    {
        var spec = model.Spec;
        var backend = model.Parameters()[0].Backend;
        model.Eval();
        using var _ = NeuralCore.Autograd.NoGrad();
        if (part == OnnxPart.Decoder)
        {
            float[] decoded = model.Decode(NeuralCore.Tensor.FromArray(backend, input, batch, spec.Latent)).ToArray();
            spec.Scaler?.InverseTransform(decoded);
            return decoded;
        }
        float[] scaled = spec.Scaler?.Transformed(input) ?? input;
        var rows = NeuralCore.Tensor.FromArray(backend, scaled, batch, spec.InputFeatures);
        if (part == OnnxPart.Encoder) return model.Encode(rows).ToArray();
        float[] rebuilt = model.Forward(rows).ToArray();
        spec.Scaler?.InverseTransform(rebuilt);
        return rebuilt;
    }

    private static float[] Run(byte[] onnx, float[] input, int batch, int width)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        Assert.Equal("input", session.InputMetadata.Keys.Single());
        Assert.Equal(-1, session.InputMetadata["input"].Dimensions[0]);   // dynamic batch
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, [batch, width]))]);
        return results.Single(r => r.Name == "output").AsEnumerable<float>().ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            Assert.True(error <= 1e-5 * Math.Max(Math.Abs(expected[i]), 1e-2 * scale), $"{what}: element {i}: NeuralCore {expected[i]}, ONNX Runtime {actual[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(KindsAndParts))]
    public void EveryKindAndPart_RunsInOnnxRuntime_AndMatchesNeuralCore(string kind, OnnxPart part)
    {
        var spec = Spec(kind);
        var model = ModelFactory.Create(spec, new CpuBackend(1), new SeededRandom(3));
        byte[] onnx = OnnxExport.ToBytes(model, part);
        foreach (int batch in new[] { 1, 5 })
        {
            var input = Inputs(spec, part, batch, batch);
            int width = part == OnnxPart.Decoder ? spec.Latent : spec.InputFeatures;
            AssertClose(Ours(model, part, input, batch), Run(onnx, input, batch, width), $"{kind} {part} batch {batch}");
        }
    }

    [Theory]
    [InlineData(OnnxPart.Encoder)]
    [InlineData(OnnxPart.Decoder)]
    [InlineData(OnnxPart.Reconstruct)]
    public void TableModels_TakeAndReturnRowsInTheirOriginalUnits(OnnxPart part)
    {
        var spec = Spec("vae", table: true);
        var model = ModelFactory.Create(spec, new CpuBackend(1), new SeededRandom(5));
        var input = Inputs(spec, part, 4, 11);
        int width = part == OnnxPart.Decoder ? spec.Latent : spec.InputFeatures;
        AssertClose(Ours(model, part, input, 4), Run(OnnxExport.ToBytes(model, part), input, 4, width), $"table {part}");
    }

    [Fact]
    public void AVqVae_IsRefused_WithNoFileWritten()
    {
        var spec = new ModelSpec { Kind = "vqvae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 16 * 49, Loss = "mse", Vq = new VqSettings() };
        var model = ModelFactory.Create(spec, new CpuBackend(1), new SeededRandom(1));
        string path = Path.Combine(Path.GetTempPath(), "neuralcore-onnx-vq-" + Guid.NewGuid().ToString("N") + ".onnx");
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Write(model, OnnxPart.Reconstruct, path));
        Assert.Contains("quantiser", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task ExportedFiles_PassOnnxsOwnChecker_WherePythonOnnxIsInstalled()
    {
        string dir = Path.Combine(Path.GetTempPath(), "neuralcore-onnx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var files = new List<string>();
        foreach (string kind in ExportedKinds)
            foreach (var part in Enum.GetValues<OnnxPart>())
            {
                string path = Path.Combine(dir, $"{kind}-{part}.onnx");
                OnnxExport.Write(ModelFactory.Create(Spec(kind, table: kind == "ae"), new CpuBackend(1), new SeededRandom(1)), part, path);
                files.Add(path);
            }
        const string Script = "import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint('checked', len(sys.argv) - 1)";
        var start = new ProcessStartInfo("/usr/bin/python3", ["-c", Script, .. files]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception) { Assert.True(Environment.GetEnvironmentVariable("CI") != "1", "CI needs /usr/bin/python3"); return; }
        using (process)
        {
            var stderrTask = process.StandardError.ReadToEndAsync();
            string output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            string stderr = await stderrTask;
            if (stderr.Contains("No module named 'onnx'"))
            {
                Assert.True(Environment.GetEnvironmentVariable("CI") != "1", "CI needs python3-onnx (apt-get install -y python3-onnx)");
                return;
            }
            Assert.True(process.ExitCode == 0, stderr);
            Assert.Contains($"checked {files.Count}", output);
        }
    }
}
