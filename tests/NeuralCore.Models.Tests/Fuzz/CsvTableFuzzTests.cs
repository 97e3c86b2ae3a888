using System.Text;
using NeuralCore.Models.Data;
using Xunit.Abstractions;

namespace NeuralCore.Models.Tests.Fuzz;

/// <summary>Mutated CSV tables are parsed (with consistent values) or rejected with <see cref="DataFormatException"/>, nothing else.</summary>
public class CsvTableFuzzTests(ITestOutputHelper output)
{
    private const string Valid =
        "id,alcohol,\"malic, acid\",ash,class\n" +
        "1,14.23,1.71,2.43,1\n" +
        "2,13.2,,2.14,1\n" +
        "3,1.3e1,2.36,NaN,2\n" +
        "\n" +
        "4,-0.5,\"3.5\",2.5,3\n";

    private static readonly string[] Cells =
        ["", "abc", "1e39", "-1e39", "3.4e38", "-3.4e38", "NaN", "Infinity", "-Infinity", "\"", "\"1,2\"", "\"a\"\"b\"", "1,2", " ", "0x10",
         "1e-50", "∞", "\u0000", "١٢", "1_000", "+5", ".5", "5.", "1e", "--1", "\"\"", "\"x\" y"];

    /// <summary>Replaces a random cell (header or data) with an interesting text, or adds/removes a field separator or line.</summary>
    private static (byte[], string) Field(byte[] b, SeededRandom r)
    {
        var lines = Encoding.UTF8.GetString(b).Split('\n').ToList();
        int line = r.NextInt(lines.Count);
        var fields = lines[line].Split(',').ToList();
        string what;
        switch (r.NextInt(4))
        {
            case 0:
                int f = r.NextInt(fields.Count);
                string cell = Cells[r.NextInt(Cells.Length)];
                fields[f] = cell;
                what = $"line {line + 1} field {f + 1} = '{cell}'";
                break;
            case 1:
                fields.Add(Cells[r.NextInt(Cells.Length)]);
                what = $"extra field on line {line + 1}";
                break;
            case 2 when fields.Count > 1:
                fields.RemoveAt(r.NextInt(fields.Count));
                what = $"removed a field on line {line + 1}";
                break;
            default:
                lines.Insert(line, lines[r.NextInt(lines.Count)]);
                what = $"duplicated a line before line {line + 1}";
                break;
        }
        lines[line] = string.Join(",", fields);
        return (Encoding.UTF8.GetBytes(string.Join("\n", lines)), what);
    }

    [Fact]
    public void MutatedTables_AreParsedOrRejectedCleanly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("table.csv");
        var valid = Encoding.UTF8.GetBytes(Valid);
        var outcome = FuzzLoop.Run(output, "CsvTable.Read", 4000, 803, (m, i) => m.Mutate(valid, Field), bytes =>
        {
            File.WriteAllBytes(path, bytes);
            // Alternate plain reads with a dropped text column and a label column, as the command line uses them.
            var table = bytes.Length % 2 == 0 ? CsvTable.Read(path) : CsvTable.Read(path, ["id"], "class");
            Assert.Equal(table.RowCount * table.ColumnCount, table.Values.Length);
            Assert.True(table.RowCount > 0);
            for (int i = 0; i < table.Values.Length; i++)
                Assert.True(float.IsFinite(table.Values[i]) || (float.IsNaN(table.Values[i]) && table.Missing[i]), $"value {table.Values[i]} at {i}");
            if (table.Labels != null) Assert.All(table.Labels, l => Assert.True(float.IsFinite(l)));
        }, e => e is DataFormatException);
        Assert.True(outcome.Parsed > 200 && outcome.Rejected > 2000, $"{outcome}");
    }
}
