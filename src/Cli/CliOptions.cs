using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace NeuralCore.Cli;

/// <summary>
/// Builds the options of the commands: one <see cref="Option{T}"/> per option, with its description, its default and a
/// parser whose errors are the tool's one-line messages ("train: --epochs must be >= 0, got -1"), naming the command
/// the option was given to. Help is generated from these definitions.
/// </summary>
internal static class CliOption
{
    // How help shows a default that is not a plain value ("every core", "runs/KIND", "64,64").
    private static readonly Dictionary<Option, string> DefaultLabels = [];

    /// <summary>The help text of <paramref name="option"/>'s default, where it is not the value itself.</summary>
    public static string? DefaultLabel(Option option)
    {
        lock (DefaultLabels) return DefaultLabels.GetValueOrDefault(option);
    }

    /// <summary>An option whose value <paramref name="parse"/> turns into a <typeparamref name="T"/>, throwing a
    /// <see cref="CliException"/> with the message for a bad value; its second argument is the command's name.</summary>
    public static Option<T> Of<T>(string name, string description, string helpName, Func<string, string, T> parse,
        Func<T>? fallback = null, string? defaultLabel = null)
    {
        var option = new Option<T>(name) { Description = description, HelpName = helpName, Arity = ArgumentArity.ExactlyOne };
        if (fallback != null) option.DefaultValueFactory = _ => fallback();
        option.CustomParser = result =>
        {
            if (result.Tokens.Count != 1) return default!;   // no value or twice: reported by Cli.ErrorMessage
            string text = result.Tokens[0].Value;
            string command = CommandName(result);
            // as `--out "$UNSET"`: an empty value is never a path, a name or a number
            if (text.Length == 0)
            {
                result.AddError($"{command}: option {name} needs a value, got an empty string");
                return default!;
            }
            // as `--out --quiet`: a forgotten value, not a directory named "--quiet"
            if (text.StartsWith("--", StringComparison.Ordinal) && text.Length > 2)
            {
                result.AddError($"{command}: option {name} needs a value");
                return default!;
            }
            try { return parse(text, command); }
            catch (CliException e)
            {
                result.AddError(e.Message);
                return default!;
            }
        };
        if (defaultLabel != null)
            lock (DefaultLabels) DefaultLabels[option] = defaultLabel;
        return option;
    }

    /// <summary>A text value (a path, a name the library checks) with a default.</summary>
    public static Option<string> String(string name, string description, string helpName, string fallback, string? defaultLabel = null) =>
        Of(name, description, helpName, (text, _) => text, () => fallback, defaultLabel);

    /// <summary>A text value whose default depends on other options: null when not given.</summary>
    public static Option<string?> OptionalString(string name, string description, string helpName, string? defaultLabel = null) =>
        Of<string?>(name, description, helpName, (text, _) => text, defaultLabel: defaultLabel);

    /// <summary>A text value that must be given.</summary>
    public static Option<string> RequiredString(string name, string description, string helpName)
    {
        var option = Of(name, description, helpName, (text, _) => text);
        option.Required = true;
        return option;
    }

    /// <summary>One of <paramref name="choices"/>; a bad value fails with <paramref name="error"/>(command, value).</summary>
    public static Option<string> Choice(string name, string description, string helpName, IReadOnlyCollection<string> choices,
        Func<string, string, string> error, string fallback) =>
        Of(name, description, helpName, (text, command) => OneOf(choices, error, text, command), () => fallback);

    /// <summary>One of <paramref name="choices"/>, null when not given.</summary>
    public static Option<string?> OptionalChoice(string name, string description, string helpName, IReadOnlyCollection<string> choices,
        Func<string, string, string> error, string defaultLabel) =>
        Of<string?>(name, description, helpName, (text, command) => OneOf(choices, error, text, command), defaultLabel: defaultLabel);

    private static string OneOf(IReadOnlyCollection<string> choices, Func<string, string, string> error, string text, string command) =>
        choices.Contains(text) ? text : throw new CliException(error(command, text), 2);

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int> Int(string name, string description, int fallback, int min = int.MinValue, int max = int.MaxValue, string helpName = "N",
        string? defaultLabel = null) =>
        Of(name, description, helpName, (text, command) => ParseInt(name, text, command, min, max), () => fallback, defaultLabel);

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>] whose default depends on other options: null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, string? defaultLabel = null, int min = int.MinValue, int max = int.MaxValue,
        string helpName = "N") =>
        Of<int?>(name, description, helpName, (text, command) => ParseInt(name, text, command, min, max), defaultLabel: defaultLabel);

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<float> Float(string name, string description, float fallback, float min = float.MinValue, float max = float.MaxValue,
        string helpName = "X", string? defaultLabel = null) =>
        Of(name, description, helpName, (text, command) => ParseFloat(name, text, command, min, max), () => fallback, defaultLabel);

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>], null when not given.</summary>
    public static Option<float?> OptionalFloat(string name, string description, string? defaultLabel = null, float min = float.MinValue,
        float max = float.MaxValue, string helpName = "X") =>
        Of<float?>(name, description, helpName, (text, command) => ParseFloat(name, text, command, min, max), defaultLabel: defaultLabel);

    /// <summary>Integers in [1, <paramref name="max"/>] separated by commas, e.g. 400,200.</summary>
    public static Option<int[]> IntList(string name, string description, int[] fallback, string helpName = "SIZES", string? defaultLabel = null,
        int max = SizeLimits.MaxLayerWidth) =>
        Of(name, description, helpName, (text, command) => ParseIntList(name, text, command, max), () => fallback,
            defaultLabel ?? string.Join(",", fallback));

    /// <summary>Integers in [1, <paramref name="max"/>] separated by commas whose default depends on other options: null when not given.</summary>
    public static Option<int[]?> OptionalIntList(string name, string description, string defaultLabel, string helpName = "SIZES",
        int max = SizeLimits.MaxLayerWidth) =>
        Of<int[]?>(name, description, helpName, (text, command) => ParseIntList(name, text, command, max), defaultLabel: defaultLabel);

    /// <summary>Names separated by commas (empty when not given).</summary>
    public static Option<string[]> StringList(string name, string description, string helpName) =>
        Of(name, description, helpName, (text, _) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), () => []);

    /// <summary>A switch: <c>--quiet</c> (or <c>--quiet true</c>).</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    // Every integer option is parsed here: as 64 bits, so a value past int's range is "out of range", not "not a number".
    private static int ParseInt(string name, string text, string command, int min, int max)
    {
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            throw new CliException($"{command}: {name} expects an integer, got '{text}'", 2);
        if (v < min || v > max)
            throw new CliException($"{command}: {name} must be {(max == int.MaxValue ? $">= {min}" : $"between {min} and {max}")}, got {v}", 2);
        return (int)v;
    }

    private static float ParseFloat(string name, string text, string command, float min, float max)
    {
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            throw new CliException($"{command}: {name} expects a number, got '{text}'", 2);
        if (v < min || v > max)
            throw new CliException($"{command}: {name} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, got {text}", 2);
        return v;
    }

    private static int[] ParseIntList(string name, string text, string command, int max)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.Any(p => !long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v <= 0))
            throw new CliException($"{command}: {name} expects positive integers separated by commas (e.g. 400,200), got '{text}'", 2);
        var values = parts.Select(p => long.Parse(p, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();
        foreach (long v in values)
            if (v > max) throw new CliException($"{command}: each size of {name} must be between 1 and {max}, got {v}", 2);
        return values.Select(v => (int)v).ToArray();
    }

    /// <summary>The command a result belongs to as the user typed it: "train", "experiment sphere".</summary>
    public static string CommandName(SymbolResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r != null; r = r.Parent)
            if (r is CommandResult { Command: not RootCommand } c) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }
}

/// <summary>The parsed command line as a command's body reads it: typed values of its options.</summary>
internal sealed class Args(ParseResult result)
{
    /// <summary>The command as typed: "train", "experiment sphere" (the prefix of its error messages).</summary>
    public string Command { get; } = CliOption.CommandName(result.CommandResult);

    /// <summary>The value of <paramref name="option"/>: the given one, else its default, else null (false for a flag).</summary>
    // (System.CommandLine's own fallback for an array option without a default is an empty array, not null)
    public T Get<T>(Option<T> option) => option.HasDefaultValue || Has(option) ? result.GetValue(option)! : default!;

    /// <summary>Whether <paramref name="option"/> was given on the command line (not just defaulted).</summary>
    public bool Has(Option option) => result.GetResult(option) is { Implicit: false };
}

/// <summary>
/// A command of the tool: its options, the body that runs it, and the parts of its help that are not about one
/// option (the usage lines and a closing paragraph).
/// </summary>
internal sealed class CliCommand : Command
{
    /// <param name="name">The word that selects it.</param>
    /// <param name="summary">One line for the list of commands.</param>
    /// <param name="run">The body; returns the exit code.</param>
    public CliCommand(string name, string summary, Func<Args, int>? run = null) : base(name, summary)
    {
        if (run != null) SetAction(result => run(new Args(result)));
    }

    /// <summary>The first line of its help after "neuralcore NAME - " (default: the summary).</summary>
    public string? Title { get; init; }

    /// <summary>Typical command lines, without the leading "neuralcore".</summary>
    public IReadOnlyList<string> Usage { get; init; } = [];

    /// <summary>What it prints and writes, how it works: the help's closing paragraph.</summary>
    public string? Notes { get; init; }

    /// <summary>Adds <paramref name="options"/>, in the order help lists them.</summary>
    public CliCommand With(params Option[] options)
    {
        foreach (var option in options) Add(option);
        return this;
    }
}
