using System.Globalization;

namespace NeuralCore.Cli;

/// <summary>A bad command line or input: printed as one line "error: ..." with exit code 2 (usage) or 1 (input).</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// Parsed options of one command: <c>--name value</c>, <c>--name=value</c> and boolean <c>--flag</c>.
/// Typed getters name the option and the fix when a value is wrong; unknown options are errors.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(string command, IReadOnlyList<string> args)
    {
        Command = command;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a is "-h" or "--help") { HelpRequested = true; continue; }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
                throw new CliException($"{command}: unexpected argument '{a}'; options look like --name value (see `neuralcore {command} --help`)", 2);
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (i + 1 < args.Count && !(args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2)) value = args[++i];
            if (!_values.TryAdd(name, value)) throw new CliException($"{command}: option --{name} given twice", 2);
        }
    }

    public string Command { get; }
    public bool HelpRequested { get; }

    public bool Has(string name) { _used.Add(name); return _values.ContainsKey(name); }

    public string? String(string name, string? fallback = null)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var v)) return fallback;
        if (v == null) throw new CliException($"{Command}: option --{name} needs a value", 2);
        return v;
    }

    public string Required(string name) =>
        String(name) ?? throw new CliException($"{Command}: option --{name} is required (see `neuralcore {Command} --help`)", 2);

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var v)) return false;
        return v == null || v is "true" or "1" or "yes";
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s == null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new CliException($"{Command}: --{name} expects an integer, got '{s}'", 2);
        if (v < min || v > max)
            throw new CliException($"{Command}: --{name} must be {(max == int.MaxValue ? $">= {min}" : $"between {min} and {max}")}, got {v}", 2);
        return v;
    }

    public float Float(string name, float fallback, float min = float.MinValue, float max = float.MaxValue)
    {
        var s = String(name);
        if (s == null) return fallback;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            throw new CliException($"{Command}: --{name} expects a number, got '{s}'", 2);
        if (v < min || v > max)
            throw new CliException($"{Command}: --{name} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, got {s}", 2);
        return v;
    }

    public int[] IntList(string name, int[] fallback)
    {
        var s = String(name);
        if (s == null) return fallback;
        try
        {
            var values = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => int.Parse(x, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();
            if (values.Length == 0 || values.Any(v => v <= 0)) throw new FormatException();
            return values;
        }
        catch (FormatException)
        {
            throw new CliException($"{Command}: --{name} expects positive integers separated by commas (e.g. 400,200), got '{s}'", 2);
        }
    }

    public string[] StringList(string name) =>
        String(name)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <summary>Fails on options the command never asked for (typos).</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new CliException($"{Command}: unknown option --{unknown[0]} (see `neuralcore {Command} --help`)", 2);
    }
}
