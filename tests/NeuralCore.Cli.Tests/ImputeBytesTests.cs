using System.Text;

namespace NeuralCore.CliTests;

/// <summary>`impute --out` changes the bytes of the missing cells and nothing else.</summary>
public class ImputeBytesTests
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>Runs impute on <paramref name="latin1"/> (written as Latin-1 bytes) and returns the output's bytes.</summary>
    private static byte[] Impute(string latin1, params string[] options)
    {
        string dir = CliRunner.TempDir();
        string input = Path.Combine(dir, "in.csv"), output = Path.Combine(dir, "out.csv");
        File.WriteAllBytes(input, Latin1.GetBytes(latin1));
        var r = CliRunner.Run(["impute", "--data", input, "--out", output, "--epochs", "3", .. options]);
        Assert.True(r.ExitCode == 0, r.Error);
        return File.ReadAllBytes(output);
    }

    /// <summary>Checks that <paramref name="output"/> equals <paramref name="input"/> except where <paramref name="input"/>
    /// has the marker <paramref name="gap"/>, where a number must stand instead.</summary>
    private static void AssertOnlyGapsChanged(string input, byte[] output, string gap)
    {
        string text = Latin1.GetString(output);
        var parts = input.Split(gap);
        int at = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            Assert.True(string.CompareOrdinal(text, at, parts[i], 0, parts[i].Length) == 0, $"bytes differ near offset {at}: {text}");
            at += parts[i].Length;
            if (i == parts.Length - 1) break;
            int end = at;
            while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] is '.' or '-' or 'E' or 'e' or '+')) end++;
            Assert.True(end > at, $"no number filled in at offset {at}: {text}");
            Assert.True(float.IsFinite(float.Parse(text[at..end], System.Globalization.CultureInfo.InvariantCulture)));
            text = text[..at] + text[end..];
        }
        Assert.Equal(at, text.Length);
    }

    [Fact]
    public void CrlfLineEndings_SurroundingSpaces_AndQuotes_AreKept()
    {
        const string input = "a,b,c\r\n 1 ,2,\"3\"\r\n4,  GAP,6\r\n7,8, \"GAP\" \r\n1.50 ,5,2\r\n";
        AssertOnlyGapsChanged(input, Impute(input.Replace("GAP", "")), "GAP");
    }

    [Fact]
    public void NonUtf8TextInADroppedColumn_IsKeptByteForByte()
    {
        const string input = "name,a,b\ncaf\u00e9,1,2\nna\u00efve \u00ff,GAP,4\nZ\u00fcrich,5,6\n\u00e0,7,1\n";
        AssertOnlyGapsChanged(input, Impute(input.Replace("GAP", ""), "--drop", "name"), "GAP");
    }

    [Fact]
    public void NaNCells_AreReplaced_AndBlankLinesAndTheMissingFinalLineBreakKept()
    {
        const string input = "a,b\n1,2\n\nGAP,4\n5,GAP\n\n7,1";
        AssertOnlyGapsChanged(input, Impute(input.Replace("GAP", "NaN")), "GAP");
    }

    [Fact]
    public void ATableWithNothingMissing_IsCopiedExactly()
    {
        const string input = "x ,\"y\"\r\n 1,2\r\n3 ,\"4\"\r\n";
        Assert.Equal(Latin1.GetBytes(input), Impute(input));
    }
}
