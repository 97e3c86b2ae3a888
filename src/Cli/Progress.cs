using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// The progress of a training run: a one-line bar on stderr after each step (redrawn in place on a terminal, not
/// drawn otherwise) and one line per finished epoch on stdout. It also remembers the last finished epoch, so that an
/// interrupted run can say which epoch its checkpoint holds.
/// </summary>
/// <param name="quiet">Draw and print nothing (the epochs are still counted).</param>
/// <param name="epochsDone">Epochs finished before this run started (a resumed run's checkpoint).</param>
/// <param name="lossName">What the loss is called in the lines (a prior's is the NLL in nats per code).</param>
internal sealed class ProgressBar(bool quiet, int epochsDone = 0, string lossName = "loss") : IProgress<TrainingProgress>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private DateTime _lastDraw = DateTime.MinValue;

    /// <summary>The last finished epoch (its checkpoint is on disk).</summary>
    public int EpochsDone { get; private set; } = epochsDone;

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Step is { } step) Step(step, value.Epochs);
        if (value.CompletedEpoch is { } m) EpochDone(m, value.Epochs);
    }

    private void Step(StepProgress p, int epochs)
    {
        if (quiet || !_interactive) return;
        if (p.Step != p.Steps && (DateTime.UtcNow - _lastDraw).TotalMilliseconds < 100) return;
        _lastDraw = DateTime.UtcNow;
        const int width = 24;
        int filled = p.Steps == 0 ? width : p.Step * width / p.Steps;
        Console.Error.Write($"\repoch {p.Epoch}/{epochs} [{new string('#', filled)}{new string('-', width - filled)}] {p.Step}/{p.Steps} {lossName} {p.RunningLoss:F3} {p.SamplesPerSecond:F0} samples/s ");
    }

    private void EpochDone(EpochMetrics m, int epochs)
    {
        EpochsDone = m.Epoch;
        if (quiet) return;
        if (_interactive) Console.Error.Write("\r" + new string(' ', 100) + "\r");
        string kl = m.TestKl != 0 ? $" (recon {m.TestReconstruction:F2} + kl {m.TestKl:F2})" : "";
        string vq = m.Perplexity is { } perplexity ? $"  perplexity {perplexity:F1}, {m.CodesUsed} codes used, {m.Restarts} restarts" : "";
        Console.WriteLine($"epoch {m.Epoch}/{epochs}  train {lossName} {m.TrainLoss:F3}  test {lossName} {m.TestLoss:F3}{kl}{vq}  {m.Seconds:F2} s  {m.SamplesPerSecond:F0} samples/s");
    }
}
