using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Training;

/// <summary>
/// The settings of a training run: the model it trains (<see cref="Spec"/>) and how (<see cref="Options"/>). A
/// <see cref="Checkpoint"/> stores them so that <see cref="TrainingRun.Resume(string, NeuralCore.Kernels.IBackend, float[], int, float[], int, int?, IProgress{TrainingProgress}?, CancellationToken)"/>
/// continues the same run; metrics.json and the experiments' results.json start with <see cref="ToJsonObject"/>.
/// </summary>
/// <param name="Spec">The model's architecture and the data it was made for.</param>
/// <param name="Options">How it is trained.</param>
public sealed record RunSettings(ModelSpec Spec, TrainingOptions Options)
{
    /// <summary>
    /// The settings as a flat JSON object, as run files record them: <c>model</c> (the kind), <c>data</c>,
    /// <c>latent</c>, then every training option under its JSON name (<c>epochs</c>, <c>batch</c>, <c>lr</c>,
    /// <c>seed</c>, <c>optimizer</c>, <c>weight_decay</c>, <c>momentum</c>, <c>rng</c>). Callers add their results to it.
    /// </summary>
    public JsonObject ToJsonObject()
    {
        var json = new JsonObject { ["model"] = Spec.Kind, ["data"] = Spec.Data, ["latent"] = Spec.Latent };
        foreach (var (key, value) in RunJson.ToNode(Options)) json[key] = value?.DeepClone();
        return json;
    }
}

/// <summary>The JSON forms of run files, generated at compile time so that the engine stays trim- and AOT-clean.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(RandomAlgorithmJsonConverter)])]
[JsonSerializable(typeof(TrainingOptions))]
[JsonSerializable(typeof(List<EpochMetrics>))]
internal sealed partial class RunJson : JsonSerializerContext
{
    /// <summary>The training options as a JSON object (the checkpoint's <c>training_options</c>).</summary>
    public static JsonObject ToNode(TrainingOptions options) => JsonSerializer.SerializeToNode(options, Default.TrainingOptions)!.AsObject();

    /// <summary>Reads training options; an entry that is missing keeps its default, except <c>rng</c> (see below).</summary>
    /// <exception cref="JsonException">Not a JSON object of training options.</exception>
    public static TrainingOptions ReadOptions(string json)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not a JSON object");
        // Options without an "rng" entry come from checkpoints whose only generator was the xoshiro streams.
        node.TryAdd("rng", RandomAlgorithmNames.Name(global::NeuralCore.RandomAlgorithm.Xoshiro));
        // Before gradient shards, every batch was computed at once; the generated reader would leave a missing entry at 0.
        node.TryAdd("grad_shards", 1);
        return node.Deserialize(Default.TrainingOptions) ?? throw new JsonException("null training options");
    }

    /// <summary>The history of a run: one JSON object per epoch.</summary>
    public static JsonArray ToNode(IReadOnlyList<EpochMetrics> history) =>
        JsonSerializer.SerializeToNode([.. history], Default.ListEpochMetrics)!.AsArray();

    /// <summary>Reads a history written by <see cref="ToNode(IReadOnlyList{EpochMetrics})"/>.</summary>
    /// <exception cref="JsonException">Not a JSON array of epochs.</exception>
    public static List<EpochMetrics> ReadHistory(string json) =>
        JsonSerializer.Deserialize(json, Default.ListEpochMetrics) ?? throw new JsonException("null history");
}

/// <summary>Writes <see cref="RandomAlgorithm"/> by its name in run files (<see cref="RandomAlgorithmNames"/>).</summary>
internal sealed class RandomAlgorithmJsonConverter : JsonConverter<RandomAlgorithm>
{
    public override RandomAlgorithm Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? name = reader.GetString();
        return RandomAlgorithmNames.TryParse(name, out var algorithm) ? algorithm
            : throw new JsonException($"rng is '{name}', expected {RandomAlgorithmNames.Choices}");
    }

    public override void Write(Utf8JsonWriter writer, RandomAlgorithm value, JsonSerializerOptions options) =>
        writer.WriteStringValue(RandomAlgorithmNames.Name(value));
}
