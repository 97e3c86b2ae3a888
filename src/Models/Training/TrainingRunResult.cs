using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Training;

/// <summary>
/// A report of a <see cref="TrainingRun"/>: after every step (<see cref="Step"/> is set) and after every finished
/// epoch, once its checkpoint is written (<see cref="CompletedEpoch"/> is set).
/// </summary>
/// <param name="Epochs">The run's target number of epochs.</param>
/// <param name="Step">The step just done, or null in an end-of-epoch report.</param>
/// <param name="CompletedEpoch">The metrics of the epoch just finished, or null in a step report.</param>
public sealed record TrainingProgress(int Epochs, StepProgress? Step, EpochMetrics? CompletedEpoch);

/// <summary>What a <see cref="TrainingRun"/> produced.</summary>
public sealed class TrainingRunResult
{
    internal TrainingRunResult(Trainer trainer, IReadOnlyList<EpochMetrics> history, Evaluation final, string? runDirectory)
    {
        Trainer = trainer; History = history; Final = final; RunDirectory = runDirectory;
    }

    /// <summary>The trainer, after its last epoch (its model, optimiser and generators).</summary>
    public Trainer Trainer { get; }
    /// <summary>The trained model.</summary>
    public Autoencoder Model => Trainer.Model;
    /// <summary>The run's options (<see cref="TrainingOptions.Epochs"/> is the number of epochs trained).</summary>
    public TrainingOptions Options => Trainer.Options;
    /// <summary>Metrics of every epoch, including those before a resume.</summary>
    public IReadOnlyList<EpochMetrics> History { get; }
    /// <summary>The final evaluation on the test rows (losses per sample; all zero without test rows).</summary>
    public Evaluation Final { get; }
    /// <summary>The run directory, or null when the run kept everything in memory.</summary>
    public string? RunDirectory { get; }
    /// <summary>The checkpoint of the last epoch, or null without a run directory.</summary>
    public string? CheckpointPath => RunDirectory == null ? null : Path.Combine(RunDirectory, Checkpoint.FileName);
    /// <summary>The model's weights (<see cref="ModelStore.Load(string, NeuralCore.Kernels.IBackend)"/> reads the directory back), or null without a run directory.</summary>
    public string? ModelPath => RunDirectory == null ? null : Path.Combine(RunDirectory, ModelStore.WeightsFile);
    /// <summary>The run's metrics.json, or null without a run directory.</summary>
    public string? MetricsPath => RunDirectory == null ? null : Path.Combine(RunDirectory, MetricsJson.FileName);
}
