namespace NeuralCore.Cli;

/// <summary>A bad command line or input: printed as one line "error: ..." with exit code 2 (usage) or 1 (input).</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
