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
    public static string Safe(string text)
    {
        if (!text.Any(IsUnsafe)) return text;
        var result = new StringBuilder(text.Length + 16);
        foreach (char c in text)
            if (IsUnsafe(c)) result.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else result.Append(c);
        return result.ToString();
    }

    private static bool IsUnsafe(char c) =>
        char.IsControl(c) || c is >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069' or '\u200e' or '\u200f' or '\u061c';
}
