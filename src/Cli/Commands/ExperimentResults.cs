using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary>An experiment's results.json: its name, the settings of its runs (<see cref="RunSettings.ToJsonObject"/>), then its results.</summary>
internal static class ExperimentResults
{
    /// <summary>The start of results.json; the experiment adds its results to it.</summary>
    public static JsonObject Start(string experiment, RunSettings settings)
    {
        var json = settings.ToJsonObject();
        json.Insert(0, "experiment", experiment);
        return json;
    }

    /// <summary>Atomically writes <paramref name="json"/>, indented, to <paramref name="path"/>.</summary>
    public static void Write(string path, JsonObject json) => AtomicFile.WriteJson(path, w => json.WriteTo(w));
}

/// <summary>One digit of <c>experiment oneclass-mnist</c>.</summary>
internal sealed record DigitResult(int Digit, int TrainImages, double AeAuroc, double PcaAuroc, double FinalTrainLoss, double Seconds);

/// <summary>One embedding size of <c>experiment latent-size</c> (test losses per sample).</summary>
internal sealed record SizeResult(int Size, double TestReconstruction, double TestKl, double TestLoss, double Seconds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<DigitResult>))]
[JsonSerializable(typeof(List<SizeResult>))]
internal sealed partial class ExperimentJson : JsonSerializerContext;
