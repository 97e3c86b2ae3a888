using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class CsvTableTests
{
    private static readonly string Wine = RepoData.Path("data/wine.csv");

    [Fact]
    public void ReadsWineWithClassDropped()
    {
        var table = CsvTable.Read(Wine, dropColumns: ["class"]);
        Assert.Equal(178, table.RowCount);
        Assert.Equal(13, table.ColumnCount);
        Assert.Equal(178 * 13, table.Values.Length);
        Assert.Equal("alcohol", table.ColumnNames[0]);
        Assert.Equal("proline", table.ColumnNames[12]);
        Assert.DoesNotContain("class", table.ColumnNames);
        Assert.Null(table.Labels);
        Assert.Equal(0, table.MissingCount);
        // First data line: 14.23,1.71,2.43,15.6,127,2.8,3.06,0.28,2.29,5.64,1.04,3.92,1065,0
        Assert.Equal(14.23f, table[0, 0]);
        Assert.Equal(1065f, table[0, table.ColumnIndex("proline")]);
    }

    [Fact]
    public void ExtractsTheLabelColumnSeparately()
    {
        var table = CsvTable.Read(Wine, labelColumn: "class");
        Assert.Equal(13, table.ColumnCount);
        Assert.Equal("class", table.LabelColumn);
        Assert.NotNull(table.Labels);
        Assert.Equal(178, table.Labels.Length);
        var counts = table.Labels.GroupBy(l => l).OrderBy(g => g.Key).Select(g => (g.Key, g.Count())).ToArray();
        Assert.Equal(new[] { (0f, 59), (1f, 71), (2f, 48) }, counts);
    }

    [Fact]
    public void MissingCellsBecomeNaNWithAMask()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("m.csv"), "a,b,c\n1,,3\nNaN,5,nan\n\n7,8, 9 \n");
        var table = CsvTable.Read(temp.File("m.csv"));
        Assert.Equal(3, table.RowCount);
        Assert.Equal(3, table.MissingCount);
        Assert.Equal(new[] { false, true, false, true, false, true, false, false, false }, table.Missing);
        Assert.True(float.IsNaN(table[0, 1]));
        Assert.Equal(9f, table[2, 2]);
    }

    [Fact]
    public void QuotedFieldsAndCrlfAreTolerated()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("q.csv"), "\"x, y\",\"say \"\"hi\"\"\",z\r\n\"1.5\",2,\"\"\r\n");
        var table = CsvTable.Read(temp.File("q.csv"));
        Assert.Equal(new[] { "x, y", "say \"hi\"", "z" }, table.ColumnNames);
        Assert.Equal(1.5f, table[0, 0]);
        Assert.True(table.Missing[2]);
    }

    [Fact]
    public void DroppedColumnsMayHoldText()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("t.csv"), "id,name,v\n1,alice,0.5\n2,bob,0.25\n");
        var table = CsvTable.Read(temp.File("t.csv"), dropColumns: ["name"], labelColumn: "id");
        Assert.Equal(new[] { "v" }, table.ColumnNames);
        Assert.Equal(new[] { 0.5f, 0.25f }, table.Values);
        Assert.Equal(new[] { 1f, 2f }, table.Labels);
    }

    [Fact]
    public void TextInANumericColumnNamesFileLineColumnAndValue()
    {
        using var temp = new TempDirectory();
        string path = temp.File("bad.csv");
        File.WriteAllText(path, "a,b\n1,2\n3,oops\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTable.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("'b'", e.Message);
        Assert.Contains("'oops'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3\n", "line 3 has 1 fields")]
    [InlineData("a,b\n1,2,3\n", "line 2 has 3 fields")]
    [InlineData("a,b\n", "no data rows")]
    [InlineData("", "is empty")]
    [InlineData("\n  \n", "is empty")]
    [InlineData("1,2\n3,4\n", "looks like data")]
    [InlineData("a,a\n1,2\n", "appears twice")]
    [InlineData("a,,c\n1,2,3\n", "empty name")]
    [InlineData("a,b\n1,1e39\n", "not a finite float")]
    [InlineData("a,b\n1,-1e39\n", "not a finite float")]
    [InlineData("a,b\n1,Infinity\n", "not a finite float")]
    [InlineData("a,b\n1,\"2\n", "unterminated")]
    [InlineData("a,b\n1,\"2\"x\n", "after a closing quote")]
    [InlineData("a,b\n1,2 3\n", "is not a number")]
    [InlineData("a,b\n1,1,5\n", "has 3 fields")]
    public void BadInputsGiveClearErrors(string content, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("bad.csv"), content);
        var e = Assert.Throws<DataFormatException>(() => CsvTable.Read(temp.File("bad.csv")));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(temp.File("bad.csv"), e.Message);
    }

    [Fact]
    public void UnknownDropOrLabelColumnsAndMissingLabelsAreErrors()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("t.csv"), "a,b\n1,2\n3,\n");
        Assert.Contains("no column 'zz'", Assert.Throws<DataFormatException>(() => CsvTable.Read(temp.File("t.csv"), dropColumns: ["zz"])).Message);
        Assert.Contains("no label column", Assert.Throws<DataFormatException>(() => CsvTable.Read(temp.File("t.csv"), labelColumn: "y")).Message);
        Assert.Contains("line 3, label column 'b' is missing", Assert.Throws<DataFormatException>(() => CsvTable.Read(temp.File("t.csv"), labelColumn: "b")).Message);
        Assert.Contains("no feature columns", Assert.Throws<DataFormatException>(() => CsvTable.Read(temp.File("t.csv"), dropColumns: ["a"], labelColumn: "b")).Message);
        Assert.Throws<FileNotFoundException>(() => CsvTable.Read(temp.File("absent.csv")));
    }

    [Fact]
    public void WriteRoundTripsFloatsExactlyAndPreservesColumnOrder()
    {
        using var temp = new TempDirectory();
        string[] header = ["zeta", "alpha", "with,comma", "m"];
        float[][] rows =
        [
            [0.1f, 1f / 3f, float.Epsilon, float.NaN],
            [float.MaxValue, -float.MaxValue, 1e-30f, 123456.789f],
            [-0.000123f, 16777217f, 3.4028233e38f, 0f],
        ];
        CsvTable.Write(temp.File("out.csv"), header, rows);
        var table = CsvTable.Read(temp.File("out.csv"));
        Assert.Equal(header, table.ColumnNames);
        Assert.Equal(1, table.MissingCount);
        for (int r = 0; r < rows.Length; r++)
            for (int c = 0; c < header.Length; c++)
                Assert.Equal(BitConverter.SingleToInt32Bits(rows[r][c]), BitConverter.SingleToInt32Bits(table[r, c]));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));

        var flat = rows.SelectMany(r => r).ToArray();
        CsvTable.Write(temp.File("flat.csv"), header, flat);
        Assert.Equal(File.ReadAllText(temp.File("out.csv")), File.ReadAllText(temp.File("flat.csv")));
    }

    [Fact]
    public void WriteRejectsRaggedRowsAndInfinitiesWithoutLeavingAFile()
    {
        using var temp = new TempDirectory();
        Assert.Throws<ArgumentException>(() => CsvTable.Write(temp.File("r.csv"), ["a", "b"], [[1f, 2f], [3f]]));
        Assert.Throws<ArgumentException>(() => CsvTable.Write(temp.File("r.csv"), ["a"], [[float.PositiveInfinity]]));
        Assert.Empty(Directory.GetFiles(temp.Path));
    }
}
