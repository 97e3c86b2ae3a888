using System.Text.Json;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Training;

/// <summary>The JSON form of per-epoch figures, shared by metrics.json and checkpoints.</summary>
internal static class MetricsJson
{
    /// <summary>File name of the metrics inside a run directory.</summary>
    public const string FileName = "metrics.json";

    /// <summary>
    /// Atomically writes a run's metrics.json: the model kind, data and main training options, the final test
    /// losses per sample, and the history of every epoch.
    /// </summary>
    /// <param name="path">Target file, usually <c>DIR/metrics.json</c>.</param>
    /// <param name="spec">The model's spec (its kind and data are recorded).</param>
    /// <param name="options">The run's options (<see cref="TrainingOptions.Epochs"/> is its target).</param>
    /// <param name="history">Metrics of every epoch.</param>
    /// <param name="final">The final test evaluation.</param>
    public static void Write(string path, ModelSpec spec, TrainingOptions options, IReadOnlyList<EpochMetrics> history, Evaluation final)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(history);
        AtomicFile.WriteJson(path, w =>
        {
            w.WriteStartObject();
            w.WriteString("model", spec.Kind);
            w.WriteString("data", spec.Data);
            w.WriteNumber("epochs", options.Epochs);
            w.WriteNumber("batch", options.BatchSize);
            w.WriteNumber("lr", options.LearningRate);
            w.WriteString("optimizer", options.Optimizer);
            w.WriteNumber("seed", options.Seed);
            w.WriteString("rng", RandomAlgorithmNames.Name(options.Rng));
            w.WriteNumber("test_loss_per_sample", final.Loss);
            w.WriteNumber("test_reconstruction_per_sample", final.Reconstruction);
            w.WriteNumber("test_kl_per_sample", final.Kl);
            w.WriteStartArray("history");
            foreach (var m in history) WriteEpoch(w, m);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>Writes one epoch as a JSON object (epoch, losses, seconds, samples/s, optional grad_norms).</summary>
    public static void WriteEpoch(Utf8JsonWriter w, EpochMetrics m)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(m);
        w.WriteStartObject();
        w.WriteNumber("epoch", m.Epoch);
        w.WriteNumber("train_loss", m.TrainLoss);
        w.WriteNumber("test_loss", m.TestLoss);
        w.WriteNumber("test_reconstruction", m.TestReconstruction);
        w.WriteNumber("test_kl", m.TestKl);
        w.WriteNumber("seconds", m.Seconds);
        w.WriteNumber("samples_per_second", m.SamplesPerSecond);
        if (m.GradientNorms != null)
        {
            w.WriteStartObject("grad_norms");
            foreach (var (name, norm) in m.GradientNorms) w.WriteNumber(name, norm);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}
