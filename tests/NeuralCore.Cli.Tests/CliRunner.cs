using System.Text;

namespace NeuralCore.CliTests;

/// <summary>Runs `neuralcore` in-process and captures stdout, stderr and the exit code.</summary>
public static class CliRunner
{
    private static readonly object Lock = new();   // Console redirection is process-wide

    public sealed record Result(int ExitCode, string Out, string Error);

    public static Result Run(params string[] args) => Capture(() => NeuralCore.Cli.Cli.Run(args));

    /// <summary>Runs <paramref name="command"/> (e.g. a command's internal entry point) with the console captured.</summary>
    public static Result Capture(Func<int> command)
    {
        lock (Lock)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var stdout = new StringWriter(new StringBuilder());
            var stderr = new StringWriter(new StringBuilder());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = command();
                return new Result(code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    /// <summary>A fresh temporary directory, deleted by the OS eventually.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "neuralcore-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The number after <paramref name="label"/> in <paramref name="text"/>.</summary>
    public static double NumberAfter(string text, string label)
    {
        int i = text.IndexOf(label, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{label}' not found in output:\n{text}");
        var rest = text[(i + label.Length)..].TrimStart();
        int end = 0;
        while (end < rest.Length && (char.IsDigit(rest[end]) || rest[end] is '.' or '-' or 'e' or 'E' or '+')) end++;
        return double.Parse(rest[..end], System.Globalization.CultureInfo.InvariantCulture);
    }
}
