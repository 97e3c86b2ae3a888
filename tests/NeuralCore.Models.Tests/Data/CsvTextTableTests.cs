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

/// <summary>Cells that are not changed come back byte for byte, whatever their encoding, spacing, quoting or line endings.</summary>
public class CsvTextTableBytesTests
{
    private static byte[] RoundTrip(byte[] input, Action<CsvTextTable>? change = null)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("in.csv"), input);
        var table = CsvTextTable.Read(dir.File("in.csv"));
        change?.Invoke(table);
        table.Write(dir.File("out.csv"));
        return File.ReadAllBytes(dir.File("out.csv"));
    }

    private static byte[] Bytes(string ascii) => System.Text.Encoding.Latin1.GetBytes(ascii);

    [Theory]
    [InlineData("a,b\r\n1,2\r\n3,4\r\n")]                       // CRLF
    [InlineData("a,b\n1,2\n3,4")]                               // no final line break
    [InlineData("a , b\n 1 ,  2 \n\t3,4\t\n")]                  // spaces and tabs around fields
    [InlineData("\"a\",\"b\"\n\"1\",\"2\"\n\"\",\"x,y\"\n")]    // quoting, including quotes that were not needed
    [InlineData("a,b\n1,2\n\n   \n3,4\n\n")]                    // blank lines
    [InlineData("a,b\r1,2\r3,4\r")]                             // old Mac line ends
    [InlineData("\u00ef\u00bb\u00bfa,b\n1,2\n")]                // a UTF-8 byte order mark
    [InlineData("id,name\n1,caf\u00e9\n2,\u00ff\u00fe\n")]      // Latin-1 bytes that are not UTF-8
    public void AnUnchangedTable_IsWrittenBackByteForByte(string latin1)
    {
        byte[] input = Bytes(latin1);
        Assert.Equal(input, RoundTrip(input));
    }

    [Fact]
    public void ChangingOneCell_RewritesOnlyThatCellsBytes()
    {
        byte[] input = Bytes("id,x ,name\r\n1, 2.50 ,caf\u00e9\r\n2,  ,\"O'Neil, J\"\r\n3,\"\",\u00ff\r\n");
        byte[] output = RoundTrip(input, t =>
        {
            Assert.Equal(["1", "2.50 ", "caf\ufffd"], t.Rows[0]);   // as CsvTable reads it: spaces before a field skipped
            t.Rows[1][1] = "3.25";
            t.Rows[2][1] = "4";
        });
        Assert.Equal(Bytes("id,x ,name\r\n1, 2.50 ,caf\u00e9\r\n2,  3.25,\"O'Neil, J\"\r\n3,\"4\",\u00ff\r\n"), output);
    }

    [Fact]
    public void ANewValueThatNeedsQuotes_IsQuotedWhereItStands()
    {
        byte[] output = RoundTrip(Bytes("a,b\n1, x \n"), t => t.Rows[0][1] = "p,q");
        Assert.Equal(Bytes("a,b\n1, \"p,q\" \n"), output);
        output = RoundTrip(Bytes("a,b\n1,\"x\"\n"), t => t.Rows[0][1] = "say \"hi\"");
        Assert.Equal(Bytes("a,b\n1,\"say \"\"hi\"\"\"\n"), output);
    }

    [Fact]
    public void AddingARow_WritesTheTableAnew()
    {
        byte[] output = RoundTrip(Bytes("a,b\r\n1,2\r\n"), t => t.Rows.Add(["3", "4"]));
        Assert.Equal(Bytes("a,b\n1,2\n3,4\n"), output);
    }

    [Fact]
    public void AUtf16Table_IsRefusedWithAHint()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("u.csv"), "a,b\n1,2\n", System.Text.Encoding.Unicode);
        Assert.Contains("save the table as UTF-8", Assert.Throws<DataFormatException>(() => CsvTextTable.Read(dir.File("u.csv"))).Message);
    }
}
