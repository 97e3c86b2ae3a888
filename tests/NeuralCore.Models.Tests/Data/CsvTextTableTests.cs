using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class CsvTextTableTests
{
    [Fact]
    public void ReadWrite_KeepsEveryFieldAsWritten()
    {
        using var dir = new TempDirectory();
        string input = dir.File("in.csv");
        File.WriteAllText(input, "a,\"b, c\",name\n1.50,,\"say \"\"hi\"\"\"\n\n2e3,7,plain\n");
        var table = CsvTextTable.Read(input);
        Assert.Equal(["a", "b, c", "name"], table.Header);
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal(["1.50", "", "say \"hi\""], table.Rows[0]);
        table.Rows[0][1] = "3.25";
        table.Write(dir.File("out.csv"));
        Assert.Equal("a,\"b, c\",name\n1.50,3.25,\"say \"\"hi\"\"\"\n\n2e3,7,plain\n", File.ReadAllText(dir.File("out.csv")));
    }

    [Fact]
    public void RaggedRow_IsAOneLineError()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.csv"), "a,b\n1,2\n3\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTextTable.Read(dir.File("bad.csv")));
        Assert.Contains("line 3 has 1 fields", e.Message);
    }
}
