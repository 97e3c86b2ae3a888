using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>A one-line progress bar on stderr (redrawn in place on a terminal, one line per epoch otherwise).</summary>
public sealed class ProgressBar(int epochs, bool quiet)
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private DateTime _lastDraw = DateTime.MinValue;

    public void Step(StepProgress p)
    {
        if (quiet || !_interactive) return;
        if (p.Step != p.Steps && (DateTime.UtcNow - _lastDraw).TotalMilliseconds < 100) return;
        _lastDraw = DateTime.UtcNow;
        const int width = 24;
        int filled = p.Steps == 0 ? width : p.Step * width / p.Steps;
        Console.Error.Write($"\repoch {p.Epoch}/{epochs} [{new string('#', filled)}{new string('-', width - filled)}] {p.Step}/{p.Steps} loss {p.RunningLoss:F2} {p.SamplesPerSecond:F0} samples/s ");
    }

    public void EpochDone(EpochMetrics m)
    {
        if (quiet) return;
        if (_interactive) Console.Error.Write("\r" + new string(' ', 100) + "\r");
        string kl = m.TestKl != 0 ? $" (recon {m.TestReconstruction:F2} + kl {m.TestKl:F2})" : "";
        Console.WriteLine($"epoch {m.Epoch}/{epochs}  train loss {m.TrainLoss:F3}  test loss {m.TestLoss:F3}{kl}  {m.Seconds:F2} s  {m.SamplesPerSecond:F0} samples/s");
    }
}
