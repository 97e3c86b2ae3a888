using System.Globalization;
using System.Text;

namespace NeuralCore.Cli;

/// <summary>Text from files and command lines as messages may show it.</summary>
internal static class Text
{
    /// <summary>
    /// <paramref name="text"/> with every control character (C0, DEL, C1) and bidirectional control shown as
    /// <c>\uXXXX</c>, so a cell or a path cannot move the cursor, recolour the terminal or reorder what is shown.
    /// </summary>
    public static string Safe(string text) => Escape(text, keepLayout: false);

    /// <summary>As <see cref="Safe"/>, but line breaks and tabs stay (the layout of a multi-line report).</summary>
    public static string SafeKeepingLayout(string text) => Escape(text, keepLayout: true);

    private static string Escape(string text, bool keepLayout)
    {
        if (!text.Any(c => IsUnsafe(c, keepLayout))) return text;
        var result = new StringBuilder(text.Length + 16);
        foreach (char c in text)
            if (IsUnsafe(c, keepLayout)) result.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else result.Append(c);
        return result.ToString();
    }

    private static bool IsUnsafe(char c, bool keepLayout) =>
        (char.IsControl(c) && !(keepLayout && c is '\n' or '\r' or '\t')) ||
        c is >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069' or '\u200e' or '\u200f' or '\u061c';
}

/// <summary>
/// Standard output and error as the commands write them: whatever a message quotes (a path, a column name, text from
/// a model's files), control characters reach the terminal escaped (see <see cref="Text.SafeKeepingLayout"/>).
/// </summary>
internal sealed class SafeTextWriter(TextWriter inner) : TextWriter(inner.FormatProvider)
{
    /// <summary>The writer this one escapes for.</summary>
    public TextWriter Inner => inner;

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value) => inner.Write(Text.SafeKeepingLayout(value.ToString()));

    public override void Write(string? value) => inner.Write(value == null ? null : Text.SafeKeepingLayout(value));

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => inner.WriteLine(value == null ? null : Text.SafeKeepingLayout(value));

    public override void Flush() => inner.Flush();
}
