namespace NeuralCore.CliTests;

public class ImputeCommandTests
{
    private static string Wine => Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");

    [Fact]
    public void Evaluate_OnWine_BeatsMeanImputationClearly()
    {
        var run = CliRunner.Run("impute", "--data", Wine, "--drop", "class", "--evaluate", "0.2", "--seed", "0");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("hid 463 of the observed cells", run.Out);   // 20% of 178 x 13
        double autoencoder = CliRunner.NumberAfter(run.Out, "autoencoder");
        double mean = CliRunner.NumberAfter(run.Out, "mean imputation");
        Assert.InRange(mean, 0.18, 0.24);
        Assert.True(autoencoder < 0.8 * mean, run.Out);
    }

    [Fact]
    public void Impute_FillsOnlyMissingCells_KeepsHeaderOrderAndDroppedTextColumn()
    {
        string dir = CliRunner.TempDir();
        string input = Path.Combine(dir, "holes.csv"), output = Path.Combine(dir, "filled.csv");
        var lines = File.ReadAllLines(Wine);
        var holes = new List<string> { "id," + lines[0] };
        for (int r = 1; r < lines.Length; r++)
        {
            var fields = lines[r].Split(',');
            if (r % 3 == 0) fields[r % 13] = "";          // a missing cell in every third row
            holes.Add($"wine-{r}," + string.Join(",", fields));
        }
        File.WriteAllLines(input, holes);

        var run = CliRunner.Run("impute", "--data", input, "--drop", "id,class", "--epochs", "100", "--out", output);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(59, CliRunner.NumberAfter(run.Out, "imputed"));
        var filled = File.ReadAllLines(output);
        Assert.Equal(holes.Count, filled.Length);
        Assert.Equal(holes[0], filled[0]);
        var originals = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        for (int r = 1; r < holes.Count; r++)
        {
            string[] before = holes[r].Split(','), after = filled[r].Split(',');
            Assert.Equal(before[0], after[0]);            // dropped text column unchanged
            for (int c = 1; c < before.Length; c++)
            {
                if (before[c].Length > 0) { Assert.Equal(before[c], after[c]); continue; }
                // the filled value lies within the column's observed range
                double value = double.Parse(after[c], System.Globalization.CultureInfo.InvariantCulture);
                var column = originals.Select(f => double.Parse(f[c - 1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                Assert.InRange(value, column.Min(), column.Max());
            }
        }
    }

    [Fact]
    public void NoMissingCells_WritesAnUnchangedCopyWithANote()
    {
        string output = Path.Combine(CliRunner.TempDir(), "copy.csv");
        var run = CliRunner.Run("impute", "--data", Wine, "--drop", "class", "--out", output);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("has no missing cells", run.Out);
        Assert.Equal(File.ReadAllText(Wine), File.ReadAllText(output));
    }

    [Theory]
    [InlineData("text", 1, "'abc' is not a number")]
    [InlineData("evaluate-high", 2, "--evaluate must be a fraction between 0 and 1")]
    [InlineData("evaluate-zero", 2, "--evaluate must be a fraction between 0 and 1")]
    [InlineData("evaluate-text", 2, "--evaluate expects a number")]
    [InlineData("no-output", 2, "give --out FILE.csv")]
    [InlineData("missing-file", 1, "file not found")]
    [InlineData("unknown-drop", 1, "has no column 'nope' to drop")]
    [InlineData("empty-column", 1, "column 'b' is empty in every row")]
    public void BadInput_FailsWithOneLine_AndWritesNothing(string kind, int exitCode, string message)
    {
        string dir = CliRunner.TempDir();
        string input = Path.Combine(dir, "in.csv"), output = Path.Combine(dir, "out.csv");
        File.WriteAllText(input, kind switch
        {
            "text" => "a,b\n1,2\nabc,\n3,4\n",
            "empty-column" => "a,b\n1,\n2,\n3,\n",
            _ => "a,b\n1,2\n,5\n3,4\n",
        });
        string[] args = kind switch
        {
            "evaluate-high" => ["impute", "--data", input, "--evaluate", "1.5"],
            "evaluate-zero" => ["impute", "--data", input, "--evaluate", "0", "--out", output],
            "evaluate-text" => ["impute", "--data", input, "--evaluate", "lots"],
            "no-output" => ["impute", "--data", input],
            "missing-file" => ["impute", "--data", Path.Combine(dir, "none.csv"), "--out", output],
            "unknown-drop" => ["impute", "--data", input, "--drop", "nope", "--out", output],
            _ => ["impute", "--data", input, "--out", output],
        };
        var run = CliRunner.Run(args);
        Assert.Equal(exitCode, run.ExitCode);
        Assert.Contains(message, run.Error);
        Assert.Single(run.Error.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", run.Error);
        Assert.False(File.Exists(output));
        Assert.Single(Directory.GetFiles(dir));   // no temporary files left either
    }

    [Fact]
    public void Help_DescribesTheCommand()
    {
        var run = CliRunner.Run("impute", "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("usage: neuralcore impute", run.Out);
    }
}
