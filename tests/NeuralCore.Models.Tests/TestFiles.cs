namespace NeuralCore.Models.Tests;

/// <summary>A temporary directory deleted when disposed, and paths to the repository's bundled data.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "neuralcore-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class RepoData
{
    /// <summary>The absolute path of <paramref name="relative"/> under the repository root (found by walking up from the test binary).</summary>
    public static string Path(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>Code and output blocks of a markdown document, for tests that run the documentation.</summary>
public static class DocBlocks
{
    /// <summary>The contents of every ```<paramref name="language"/> block.</summary>
    public static List<string> Blocks(string markdown, string language)
    {
        var blocks = new List<string>();
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```" + language) continue;
            var block = new List<string>();
            for (i++; i < lines.Length && lines[i].Trim() != "```"; i++) block.Add(lines[i]);
            blocks.Add(string.Join("\n", block));
        }
        return blocks;
    }

    public static List<string> NonEmptyTrimmedLines(string text) =>
        text.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

    private static readonly System.Text.RegularExpressions.Regex Number = new(@"-?\d+(\.\d+)?");

    /// <summary>
    /// True when <paramref name="output"/> holds consecutive lines that read like <paramref name="expected"/> with every
    /// number within <paramref name="relative"/> of the one shown (integers within 2 as well).
    /// </summary>
    public static bool MatchesApproximately(string expected, string output, double relative)
    {
        var want = expected.Split('\n');
        var have = output.Split('\n');
        for (int start = 0; start + want.Length <= have.Length; start++)
            if (want.Select((line, i) => LineMatches(line, have[start + i], relative)).All(ok => ok)) return true;
        return false;
    }

    private static bool LineMatches(string expected, string actual, double relative)
    {
        if (Number.Replace(expected.Trim(), "#") != Number.Replace(actual.Trim(), "#")) return false;
        var a = Number.Matches(expected).Select(m => double.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var b = Number.Matches(actual).Select(m => double.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        // counts (integers) may differ by 2 as well: one image more or less above a threshold
        var integer = Number.Matches(expected).Select(m => !m.Value.Contains('.')).ToArray();
        return a.Zip(b, integer).All(p => Math.Abs(p.First - p.Second) <= Math.Max(relative * Math.Abs(p.First), p.Third ? 2 : 0) + 1e-9);
    }
}
