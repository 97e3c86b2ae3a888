namespace NeuralCore.Cli.Imaging;

/// <summary>
/// A tiny 5x7 bitmap font (digits, upper-case letters, a little punctuation; lower case is drawn as upper
/// case) for plot labels. Each glyph is 7 rows of 5 bits, most significant bit leftmost.
/// </summary>
internal static class BitmapFont
{
    public const int GlyphWidth = 5, GlyphHeight = 7, Advance = 6;

    private const string Glyphs =
        "00E 11 13 15 19 11 0E 104 0C 04 04 04 04 0E 20E 11 01 02 04 08 1F 31F 02 04 02 01 11 0E 402 06 0A 12 1F 02 02 " +
        "51F 10 1E 01 01 11 0E 606 08 10 1E 11 11 0E 71F 01 02 04 08 08 08 80E 11 11 0E 11 11 0E 90E 11 11 0F 01 02 0C " +
        "A0E 11 11 11 1F 11 11 B1E 11 11 1E 11 11 1E C0E 11 10 10 10 11 0E D1C 12 11 11 11 12 1C E1F 10 10 1E 10 10 1F " +
        "F1F 10 10 1E 10 10 10 G0E 11 10 17 11 11 0F H11 11 11 1F 11 11 11 I0E 04 04 04 04 04 0E J07 02 02 02 02 12 0C " +
        "K11 12 14 18 14 12 11 L10 10 10 10 10 10 1F M11 1B 15 15 11 11 11 N11 11 19 15 13 11 11 O0E 11 11 11 11 11 0E " +
        "P1E 11 11 1E 10 10 10 Q0E 11 11 11 15 12 0D R1E 11 11 1E 14 12 11 S0F 10 10 0E 01 01 1E T1F 04 04 04 04 04 04 " +
        "U11 11 11 11 11 11 0E V11 11 11 11 11 0A 04 W11 11 11 15 15 15 0A X11 11 0A 04 0A 11 11 Y11 11 11 0A 04 04 04 " +
        "Z1F 01 02 04 08 10 1F .00 00 00 00 00 0C 0C -00 00 00 1F 00 00 00 +00 04 04 1F 04 04 00 _00 00 00 00 00 00 1F " +
        "/00 01 02 04 08 10 00 :00 0C 0C 00 0C 0C 00 (02 04 08 08 08 04 02 )08 04 02 02 02 04 08 =00 00 1F 00 1F 00 00 " +
        ",00 00 00 00 0C 04 08 %18 19 02 04 08 13 03 ";

    private static readonly Dictionary<char, byte[]> Table = Parse();

    /// <summary>The 7 row bitmaps of <paramref name="c"/>, or null for a blank (space or unknown character).</summary>
    public static byte[]? Glyph(char c) => Table.GetValueOrDefault(char.ToUpperInvariant(c));

    /// <summary>Width in pixels of <paramref name="text"/> drawn at <paramref name="scale"/>.</summary>
    public static int Measure(string text, int scale) => text.Length == 0 ? 0 : (text.Length * Advance - 1) * scale;

    private static Dictionary<char, byte[]> Parse()
    {
        var table = new Dictionary<char, byte[]>();
        // Entries: a character followed by 7 hex rows separated by spaces (the first row joined to the character).
        string[] tokens = Glyphs.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int t = 0; t + 6 < tokens.Length; t += 7)
        {
            var rows = new byte[GlyphHeight];
            for (int r = 0; r < GlyphHeight; r++)
            {
                string hex = r == 0 ? tokens[t][1..] : tokens[t + r];
                rows[r] = Convert.ToByte(hex, 16);
            }
            table[tokens[t][0]] = rows;
        }
        return table;
    }
}
