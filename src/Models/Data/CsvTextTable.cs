using System.Text;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Data;

/// <summary>
/// A CSV file kept as text: the header and every field exactly as written (quotes removed), so a tool can
/// change some cells and write the rest back untouched - e.g. fill the missing cells of a table while
/// keeping its text columns and number formatting. Parsing follows <see cref="CsvTable"/>: commas,
/// double-quoted fields with <c>""</c> escapes, blank lines skipped, spaces before a field ignored.
/// </summary>
/// <example><code>
/// var text = CsvTextTable.Read("in.csv");        // rows [RowCount][Header.Count]
/// text.Rows[0][2] = "3.5";
/// text.Write("out.csv");                         // atomic
/// </code></example>
public sealed class CsvTextTable
{
    private CsvTextTable(string[] header, List<string[]> rows)
    {
        Header = header;
        Rows = rows;
    }

    /// <summary>Column names in file order.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>The fields of every data row, [RowCount][Header.Count]; editable.</summary>
    public List<string[]> Rows { get; }

    /// <summary>Reads every field of <paramref name="path"/> as text.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">No header, a row with the wrong number of fields, an unterminated quote or text after a closing quote.</exception>
    public static CsvTextTable Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        string[]? header = null;
        var rows = new List<string[]>();
        var parsed = new List<string>();
        int lineNumber = 0;
        while (reader.ReadLine() is string line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            CsvTable.SplitFields(path, lineNumber, line, parsed);
            string[] fields = parsed.ToArray();
            if (header is null) { header = fields.Select(f => f.Trim()).ToArray(); continue; }
            if (fields.Length != header.Length)
                throw new DataFormatException($"{path}: line {lineNumber} has {fields.Length} fields but the header has {header.Length} columns; every row needs one field per column");
            rows.Add(fields);
        }
        if (header is null) throw new DataFormatException($"{path}: is empty; expected a header line of column names followed by rows");
        return new CsvTextTable(header, rows);
    }

    /// <summary>Writes the header and rows atomically, quoting fields that contain commas, quotes or outer spaces.</summary>
    public void Write(string path) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        writer.WriteLine(string.Join(",", Header.Select(Quote)));
        foreach (var row in Rows) writer.WriteLine(string.Join(",", row.Select(Quote)));
    });

    private static string Quote(string field)
    {
        bool needs = field.IndexOfAny([',', '"', '\r', '\n']) >= 0 || (field.Length > 0 && (char.IsWhiteSpace(field[0]) || char.IsWhiteSpace(field[^1])));
        return needs ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;
    }
}
