using System.Text.Json;

namespace NeuralCore.Models.Training;

/// <summary>The JSON form of per-epoch figures, shared by metrics.json and checkpoints.</summary>
public static class MetricsJson
{
    /// <summary>Writes one epoch as a JSON object (epoch, losses, seconds, samples/s, optional grad_norms).</summary>
    public static void WriteEpoch(Utf8JsonWriter w, EpochMetrics m)
    {
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
