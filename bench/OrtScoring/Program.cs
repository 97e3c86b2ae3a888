using Microsoft.ML.OnnxRuntime;
using NeuralCore.Samples.EmbeddedScoring;

// usage: ort-scoring --model reconstruct.onnx --mnist DIR [--threads N]
// Prints the same JSON line as `embedded-scoring --bench` (see samples/EmbeddedScoring/LatencyBenchmark.cs).
string? model = null, mnist = null;
int threads = 1;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--model": model = Value(); break;
        case "--mnist": mnist = Value(); break;
        case "--threads": threads = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"error: unknown argument '{args[i]}'; usage: ort-scoring --model F.onnx --mnist DIR [--threads N]"); return 2;
    }
}
if (model == null || mnist == null)
{
    Console.Error.WriteLine("error: usage: ort-scoring --model F.onnx --mnist DIR [--threads N]");
    return 2;
}
LatencyBenchmark.Run("onnxruntime", threads, mnist, () => new OrtReconstructor(model, threads), Console.Out);
return 0;

/// <summary>ONNX Runtime's C# API on its fast path: input and output tensors over the caller's arrays, no copies.</summary>
internal sealed class OrtReconstructor : IReconstructor
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly int _features;

    public OrtReconstructor(string path, int threads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(path, options);
        _features = (int)_session.InputMetadata["input"].Dimensions[1];
    }

    public void Reconstruct(float[] input, int batch, float[] output)
    {
        long[] shape = [batch, _features];
        using var x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(0, batch * _features), shape);
        using var y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(0, batch * _features), shape);
        _session.Run(_run, ["input"], [x], ["output"], [y]);
    }

    public void Dispose()
    {
        _run.Dispose();
        _session.Dispose();
    }
}
