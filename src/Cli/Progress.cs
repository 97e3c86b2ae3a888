using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// The progress of a training run: a one-line bar on stderr after each step (redrawn in place on a terminal, not
/// drawn otherwise) and one line per finished epoch on stdout. It also remembers the last finished epoch, so that an
/// interrupted run can say which epoch its checkpoint holds.
/// </summary>
/// <param name="quiet">Draw and print nothing (the epochs are still counted).</param>
/// <param name="epochsDone">Epochs finished before this run started (a resumed run's checkpoint).</param>
internal sealed class ProgressBar(bool quiet, int epochsDone = 0) : IProgress<TrainingProgress>
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
        Console.Error.Write($"\repoch {p.Epoch}/{epochs} [{new string('#', filled)}{new string('-', width - filled)}] {p.Step}/{p.Steps} loss {p.RunningLoss:F2} {p.SamplesPerSecond:F0} samples/s ");
    }

    private void EpochDone(EpochMetrics m, int epochs)
    {
        EpochsDone = m.Epoch;
        if (quiet) return;
        if (_interactive) Console.Error.Write("\r" + new string(' ', 100) + "\r");
        string kl = m.TestKl != 0 ? $" (recon {m.TestReconstruction:F2} + kl {m.TestKl:F2})" : "";
        Console.WriteLine($"epoch {m.Epoch}/{epochs}  train loss {m.TrainLoss:F3}  test loss {m.TestLoss:F3}{kl}  {m.Seconds:F2} s  {m.SamplesPerSecond:F0} samples/s");
    }
}
