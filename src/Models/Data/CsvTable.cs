using System.Globalization;
using System.Text;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Data;

/// <summary>
/// A numeric table read from a CSV file: a header line of column names, then one line per row, fields
/// separated by commas (double-quoted fields with <c>""</c> escapes are accepted; a quoted field may not span
/// lines). An empty cell or <c>NaN</c>/<c>nan</c> is a missing value, stored as <see cref="float.NaN"/> and
/// flagged in <see cref="Missing"/>. Blank lines are skipped. Everything else must parse as a finite float
/// (invariant culture), otherwise <see cref="DataFormatException"/> names the file, line, column and value.
/// </summary>
public sealed class CsvTable
{
    private readonly Dictionary<string, int> _columnIndex;

    /// <summary>Longest accepted line, in characters (1 MiB): a longer line is refused as soon as it is reached.</summary>
    public const int MaxLineChars = 1 << 20;

    /// <summary>Most numeric cells a table may hold (2^24, 64 MiB of floats), checked row by row while reading.</summary>
    public const long MaxCells = 1L << 24;

    private CsvTable(string sourcePath, string[] columnNames, float[] values, bool[] missing, int missingCount, string? labelColumn, float[]? labels)
    {
        SourcePath = sourcePath;
        ColumnNames = columnNames;
        Values = values;
        Missing = missing;
        MissingCount = missingCount;
        LabelColumn = labelColumn;
        Labels = labels;
        _columnIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < columnNames.Length; c++) _columnIndex[columnNames[c]] = c;
    }

    /// <summary>The file the table was read from.</summary>
    public string SourcePath { get; }
    /// <summary>Feature column names in file order, without dropped columns and without the label column.</summary>
    public IReadOnlyList<string> ColumnNames { get; }
    /// <summary>Number of feature columns.</summary>
    public int ColumnCount => ColumnNames.Count;
    /// <summary>Number of data rows.</summary>
    public int RowCount => ColumnCount == 0 ? 0 : Values.Length / ColumnCount;
    /// <summary>Feature values, row-major [RowCount, ColumnCount]; NaN where missing.</summary>
    public float[] Values { get; }
    /// <summary>Missing-value mask, [RowCount, ColumnCount]; true where the cell was empty or NaN.</summary>
    public bool[] Missing { get; }
    /// <summary>Number of missing feature cells.</summary>
    public int MissingCount { get; }
    /// <summary>Name of the extracted label column, or null when none was requested.</summary>
    public string? LabelColumn { get; }
    /// <summary>Label values, [RowCount], or null when no label column was requested. Labels may not be missing.</summary>
    public float[]? Labels { get; }

    /// <summary>The value at [<paramref name="row"/>, <paramref name="column"/>] (NaN if missing).</summary>
    public float this[int row, int column] => Values[row * ColumnCount + column];

    /// <summary>The index of the feature column <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such feature column.</exception>
    public int ColumnIndex(string name) =>
        _columnIndex.TryGetValue(name, out int index) ? index
        : throw new KeyNotFoundException($"{SourcePath}: no feature column '{name}'; columns are: {string.Join(", ", ColumnNames)}");

    /// <summary>The column names on the header line of <paramref name="path"/> (trimmed, as <see cref="Read"/> sees them).</summary>
    public static string[] ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lines = new BoundedLineReader(reader, path);
        string? headerLine = lines.NextNonBlankLine();
        if (headerLine is null) throw Fail(path, "is empty", "expected a header line of column names followed by numeric rows");
        var fields = new List<string>();
        SplitFields(path, lines.LineNumber, headerLine, fields);
        return fields.Select(f => f.Trim()).ToArray();
    }

    /// <summary>Reads a numeric CSV table.</summary>
    /// <param name="path">CSV file with a header line.</param>
    /// <param name="dropColumns">Column names to ignore entirely (they may hold text). Each must exist.</param>
    /// <param name="labelColumn">Optional column to extract into <see cref="Labels"/> instead of the features.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">No header, no rows, ragged rows, text or out-of-range numbers,
    /// duplicate or unknown column names, a missing label.</exception>
    public static CsvTable Read(string path, IEnumerable<string>? dropColumns = null, string? labelColumn = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lines = new BoundedLineReader(reader, path);
        var fields = new List<string>();

        string? headerLine = lines.NextNonBlankLine();
        if (headerLine is null) throw Fail(path, "is empty", "expected a header line of column names followed by numeric rows");
        SplitFields(path, lines.LineNumber, headerLine, fields);
        string[] header = fields.Select(f => f.Trim()).ToArray();
        ValidateHeader(path, header);

        var drop = new HashSet<string>(dropColumns ?? [], StringComparer.Ordinal);
        foreach (string name in drop)
        {
            if (Array.IndexOf(header, name) < 0) throw Fail(path, $"has no column '{name}' to drop", $"columns are: {string.Join(", ", header)}");
        }
        int labelIndex = -1;
        if (labelColumn is not null)
        {
            labelIndex = Array.IndexOf(header, labelColumn);
            if (labelIndex < 0) throw Fail(path, $"has no label column '{labelColumn}'", $"columns are: {string.Join(", ", header)}");
            if (drop.Contains(labelColumn)) throw new ArgumentException($"column '{labelColumn}' is both the label column and dropped; choose one", nameof(dropColumns));
        }
        // Source index of each kept feature column, in file order.
        int[] featureSource = Enumerable.Range(0, header.Length).Where(c => c != labelIndex && !drop.Contains(header[c])).ToArray();
        if (featureSource.Length == 0) throw Fail(path, "has no feature columns left after dropping columns and the label", "keep at least one numeric column");
        string[] featureNames = featureSource.Select(c => header[c]).ToArray();

        var values = new List<float>();
        var missing = new List<bool>();
        var labels = labelIndex >= 0 ? new List<float>() : null;
        int missingCount = 0;
        while (lines.NextNonBlankLine() is string line)
        {
            int lineNumber = lines.LineNumber;
            if (values.Count + (long)featureSource.Length > MaxCells)
                throw Fail(path, $"has more than {MaxCells:N0} numeric cells (line {lineNumber})", "split the table or drop columns; larger tables do not fit the 2 GB memory budget");
            SplitFields(path, lineNumber, line, fields);
            if (fields.Count != header.Length)
                throw Fail(path, $"line {lineNumber} has {fields.Count} fields but the header has {header.Length} columns", "every row needs one field per column (leave a field empty for a missing value)");
            foreach (int c in featureSource)
            {
                bool isMissing = !TryParseCell(path, lineNumber, header[c], fields[c], out float value);
                values.Add(value);
                missing.Add(isMissing);
                if (isMissing) missingCount++;
            }
            if (labels is not null)
            {
                if (!TryParseCell(path, lineNumber, header[labelIndex], fields[labelIndex], out float label))
                    throw Fail(path, $"line {lineNumber}, label column '{header[labelIndex]}' is missing", "every row needs a label; fill it in or remove the row");
                labels.Add(label);
            }
        }
        if (values.Count == 0) throw Fail(path, "has a header but no data rows", "add at least one row of numbers");
        return new CsvTable(path, featureNames, values.ToArray(), missing.ToArray(), missingCount, labelIndex >= 0 ? header[labelIndex] : null, labels?.ToArray());
    }

    /// <summary>
    /// Atomically writes a table: the header in the given order, then one line per row. Floats are written in
    /// their shortest round-trip form (invariant culture); NaN is written as an empty (missing) cell.
    /// </summary>
    /// <param name="path">Target file.</param>
    /// <param name="header">Column names; names containing commas, quotes or outer spaces are quoted.</param>
    /// <param name="rows">Rows, each with exactly <c>header.Count</c> values.</param>
    /// <exception cref="ArgumentException">A row has the wrong length or holds an infinity.</exception>
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<float>> rows)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        if (header.Count == 0) throw new ArgumentException("a CSV table needs at least one column", nameof(header));
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine(string.Join(",", header.Select(QuoteIfNeeded)));
            int rowNumber = 0;
            var line = new StringBuilder();
            foreach (IReadOnlyList<float> row in rows)
            {
                if (row.Count != header.Count)
                    throw new ArgumentException($"row {rowNumber} has {row.Count} values but the header has {header.Count} columns", nameof(rows));
                line.Clear();
                for (int c = 0; c < row.Count; c++)
                {
                    float v = row[c];
                    if (float.IsInfinity(v)) throw new ArgumentException($"row {rowNumber}, column '{header[c]}' is {v}; CSV tables hold finite numbers only", nameof(rows));
                    if (c > 0) line.Append(',');
                    if (!float.IsNaN(v)) line.Append(v.ToString("R", CultureInfo.InvariantCulture));
                }
                writer.WriteLine(line);
                rowNumber++;
            }
        });
    }

    /// <summary>Atomically writes a row-major block of values [rows, header.Count]; see the other overload.</summary>
    public static void Write(string path, IReadOnlyList<string> header, float[] values)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(values);
        int width = header.Count;
        if (width == 0 || values.Length % width != 0)
            throw new ArgumentException($"values has {values.Length} elements, not a multiple of the {width} columns", nameof(values));
        Write(path, header, Enumerable.Range(0, values.Length / width).Select(r => (IReadOnlyList<float>)new ArraySegment<float>(values, r * width, width)));
    }

    private static void ValidateHeader(string path, string[] header)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int c = 0; c < header.Length; c++)
        {
            if (header[c].Length == 0) throw Fail(path, $"line 1: column {c + 1} has an empty name", "give every column a name in the header line");
            if (!seen.Add(header[c])) throw Fail(path, $"line 1: column name '{header[c]}' appears twice", "column names must be unique");
        }
        if (header.All(h => float.TryParse(h, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            throw Fail(path, $"line 1 looks like data, not a header (first field '{header[0]}')", "add a header line of column names");
    }

    /// <summary>Parses one cell; false when it is missing (empty or NaN).</summary>
    private static bool TryParseCell(string path, int lineNumber, string column, string field, out float value)
    {
        ReadOnlySpan<char> text = field.AsSpan().Trim();
        if (text.Length == 0 || text.Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            value = float.NaN;
            return false;
        }
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
            throw Fail(path, $"line {lineNumber}, column '{column}': '{field}' is not a number", "fix the value, leave the cell empty for a missing value, or drop the column");
        if (!float.IsFinite(value))
            throw Fail(path, $"line {lineNumber}, column '{column}': '{field}' is not a finite float (infinite or beyond ±{float.MaxValue.ToString(CultureInfo.InvariantCulture)})", "rescale the column or fix the value");
        return true;
    }

    /// <summary>
    /// Splits one line at commas outside double quotes; <c>""</c> inside quotes is a literal quote. Shared with
    /// <see cref="CsvTextTable"/> so both readers accept exactly the same files.
    /// </summary>
    internal static void SplitFields(string path, int lineNumber, string line, List<string> fields)
    {
        fields.Clear();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            while (i < line.Length && line[i] is ' ' or '\t') i++;
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw Fail(path, $"line {lineNumber} has an unterminated quoted field", "close the quote (quoted fields cannot span lines)");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                while (i < line.Length && line[i] is ' ' or '\t') i++;
                if (i < line.Length && line[i] != ',')
                    throw Fail(path, $"line {lineNumber} has text after a closing quote at position {i + 1}", "quote the whole field or remove the stray quote");
            }
            else
            {
                int start = i;
                while (i < line.Length && line[i] != ',') i++;
                field.Append(line, start, i - start);
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return;
            i++; // the comma; a trailing comma yields a final empty field on the next pass
        }
    }

    private static string QuoteIfNeeded(string name)
    {
        bool needs = name.Length == 0 || name.IndexOfAny([',', '"', '\r', '\n']) >= 0 || char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]);
        return needs ? "\"" + name.Replace("\"", "\"\"") + "\"" : name;
    }

    private static DataFormatException Fail(string path, string problem, string fix) => new($"{path}: {problem}; {fix}");
}
