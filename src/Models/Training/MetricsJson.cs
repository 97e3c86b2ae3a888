using System.Text.Json.Nodes;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Training;

/// <summary>A run's metrics.json: its settings, the final test losses and the history of every epoch.</summary>
internal static class MetricsJson
{
    /// <summary>File name of the metrics inside a run directory.</summary>
    public const string FileName = "metrics.json";

    /// <summary>
    /// Atomically writes metrics.json: the keys of <see cref="RunSettings.ToJsonObject"/>, the final test losses per
    /// sample (<c>test_loss_per_sample</c>, <c>test_reconstruction_per_sample</c>, <c>test_kl_per_sample</c>) and
    /// <c>history</c>, one object per epoch as the checkpoint stores it; <c>world_size</c> is the number of processes
    /// that trained the model together (1 for one process).
    /// </summary>
    public static void Write(string path, RunSettings settings, IReadOnlyList<EpochMetrics> history, Evaluation final, int worldSize = 1)
    {
        var json = settings.ToJsonObject();
        json["world_size"] = worldSize;
        json["test_loss_per_sample"] = final.Loss;
        json["test_reconstruction_per_sample"] = final.Reconstruction;
        json["test_kl_per_sample"] = final.Kl;
        if (final.Perplexity is { } perplexity)
        {
            json["test_mse_per_pixel"] = final.Reconstruction / settings.Spec.InputFeatures;
            json["test_perplexity"] = perplexity;
            json["test_codes_used"] = final.CodesUsed;
            json["codebook_size"] = settings.Spec.Vq?.CodebookSize;
        }
        json["history"] = RunJson.ToNode(history);
        AtomicFile.WriteJson(path, w => json.WriteTo(w));
    }
}
