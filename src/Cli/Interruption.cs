namespace NeuralCore.Cli;

/// <summary>Ctrl-C for long runs: the first press cancels the work's token (the run stops after its current step and
/// keeps its last whole-epoch checkpoint); a second press ends the process at once.</summary>
internal static class Interruption
{
    /// <summary>The exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int ExitCode = 130;

    /// <summary>Runs <paramref name="work"/> with Ctrl-C wired to its token; false when Ctrl-C cancelled it.</summary>
    public static bool TryRun<T>(Func<CancellationToken, T> work, out T result)
    {
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onInterrupt = (_, e) =>
        {
            if (interrupt.IsCancellationRequested) return;
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onInterrupt;
        try
        {
            result = work(interrupt.Token);
            return true;
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            result = default!;
            return false;
        }
        finally { Console.CancelKeyPress -= onInterrupt; }
    }
}
