using System.Text;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Data;

/// <summary>
/// A CSV file kept as text: the header and every field as written (quotes removed), so a tool can change some
/// cells and write the rest back untouched - e.g. fill the missing cells of a table while keeping its text columns
/// and number formatting. Parsing follows <see cref="CsvTable"/>: commas, double-quoted fields with <c>""</c>
/// escapes, blank lines skipped, spaces before a field ignored.
/// <see cref="Write"/> copies the file's bytes and rewrites only the cells whose text was changed: everything else
/// (bytes that are not UTF-8, spaces around fields, quoting, blank lines, CRLF or LF line endings, a byte order
/// mark) comes out exactly as it went in. Only when rows are added or removed, or the header is changed, is the
/// table written out anew (LF line endings, fields quoted where needed).
/// </summary>
/// <example><code>
/// var text = CsvTextTable.Read("in.csv");        // rows [RowCount][Header.Count]
/// text.Rows[0][2] = "3.5";
/// text.Write("out.csv");                         // atomic; only that cell's bytes change
/// </code></example>
public sealed class CsvTextTable
{
    /// <summary>Largest file accepted (256 MiB): the table is held in memory as bytes and as text.</summary>
    public const long MaxFileBytes = 1L << 28;

    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly string _path;
    private readonly byte[] _content;
    private readonly string[] _originalHeader;
    private readonly List<(int Start, int End)> _rowLines;   // where each data row's text is in _content, without its line ending

    private CsvTextTable(string path, byte[] content, string[] header, List<string[]> rows, List<(int, int)> rowLines)
    {
        _path = path;
        _content = content;
        _originalHeader = header;
        _rowLines = rowLines;
        Header = [.. header];
        Rows = rows;
    }

    /// <summary>Column names in file order.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>The fields of every data row, [RowCount][Header.Count]; editable.</summary>
    public List<string[]> Rows { get; }

    /// <summary>Reads every field of <paramref name="path"/> as text.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">No header, a row with the wrong number of fields, an unterminated quote or text
    /// after a closing quote, a line longer than <see cref="CsvTable.MaxLineChars"/>, a file larger than
    /// <see cref="MaxFileBytes"/> or with more than <see cref="CsvTable.MaxCells"/> cells, or a UTF-16/32 file.</exception>
    public static CsvTextTable Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        byte[] content = ReadBounded(path);
        if (content is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] or [0, 0, 0xFE, 0xFF, ..])
            throw new DataFormatException($"{path}: is UTF-16 or UTF-32 text; save the table as UTF-8");

        string[]? header = null;
        var rows = new List<string[]>();
        var rowLines = new List<(int, int)>();
        var parsed = new List<string>();
        long cells = 0;
        int lineNumber = 0;
        int position = content.AsSpan().StartsWith(Utf8Bom) ? Utf8Bom.Length : 0;
        while (position < content.Length)
        {
            var (start, end, next) = NextLine(content, position);
            position = next;
            lineNumber++;
            if (string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(content, start, end - start))) continue;   // as CsvTable skips it
            SplitFields(path, lineNumber, content, start, end, parsed, spans: null);
            if (header is null)
            {
                header = parsed.Select(f => f.Trim()).ToArray();
                continue;
            }
            if (parsed.Count != header.Length)
                throw new DataFormatException($"{path}: line {lineNumber} has {parsed.Count} fields but the header has {header.Length} columns; every row needs one field per column");
            cells += parsed.Count;
            if (cells > CsvTable.MaxCells)
                throw new DataFormatException($"{path}: has more than {CsvTable.MaxCells:N0} cells (line {lineNumber}); split the table, larger tables do not fit the 2 GB memory budget");
            rows.Add([.. parsed]);
            rowLines.Add((start, end));
        }
        if (header is null) throw new DataFormatException($"{path}: is empty; expected a header line of column names followed by rows");
        return new CsvTextTable(path, content, header, rows, rowLines);
    }

    /// <summary>
    /// Writes the table atomically: the input's bytes with only the changed cells rewritten (a changed cell keeps the
    /// spaces and quotes around it, and is quoted when its new text contains commas, quotes or outer spaces).
    /// </summary>
    public void Write(string path) => AtomicFile.Write(path, stream =>
    {
        bool sameShape = Rows.Count == _rowLines.Count && Header.SequenceEqual(_originalHeader) && Rows.All(r => r.Length == _originalHeader.Length);
        if (sameShape) WriteSplicedBytes(stream);
        else WriteNormalised(stream);
    });

    private void WriteSplicedBytes(Stream stream)
    {
        var parsed = new List<string>();
        var spans = new List<FieldSpan>();
        int copied = 0;
        for (int r = 0; r < Rows.Count; r++)
        {
            var (start, end) = _rowLines[r];
            SplitFields(_path, r + 2, _content, start, end, parsed, spans);
            string[] row = Rows[r];
            for (int c = 0; c < row.Length; c++)
            {
                if (row[c] == parsed[c]) continue;
                var span = spans[c];
                byte[] text = Encoding.UTF8.GetBytes(row[c]);
                bool needsQuotes = NeedsQuotes(row[c]);
                int from, to;
                if (needsQuotes && !span.Quoted)
                {
                    // quote the value where it stood, keeping the spaces around it
                    from = span.ValueStart;
                    to = TrimEndSpaces(span.ValueStart, span.ValueEnd);
                    text = Encoding.UTF8.GetBytes("\"" + row[c].Replace("\"", "\"\"") + "\"");
                }
                else if (span.Quoted)
                {
                    from = span.ValueStart;
                    to = span.ValueEnd;
                    text = Encoding.UTF8.GetBytes(row[c].Replace("\"", "\"\""));
                }
                else
                {
                    from = span.ValueStart;
                    to = TrimEndSpaces(span.ValueStart, span.ValueEnd);
                }
                stream.Write(_content, copied, from - copied);
                stream.Write(text);
                copied = to;
            }
        }
        stream.Write(_content, copied, _content.Length - copied);
    }

    private int TrimEndSpaces(int start, int end)
    {
        while (end > start && _content[end - 1] is (byte)' ' or (byte)'\t') end--;
        return end;
    }

    private void WriteNormalised(Stream stream)
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        writer.WriteLine(string.Join(",", Header.Select(Quote)));
        foreach (var row in Rows) writer.WriteLine(string.Join(",", row.Select(Quote)));
    }

    private static string Quote(string field) => NeedsQuotes(field) ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;

    private static bool NeedsQuotes(string field) =>
        field.IndexOfAny([',', '"', '\r', '\n']) >= 0 || (field.Length > 0 && (char.IsWhiteSpace(field[0]) || char.IsWhiteSpace(field[^1])));

    /// <summary>Reads the whole file, refusing a line longer than <see cref="CsvTable.MaxLineChars"/> bytes or a file over
    /// <see cref="MaxFileBytes"/> as soon as either is reached (so <c>/dev/zero</c> costs 1 MiB, not all memory).</summary>
    private static byte[] ReadBounded(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var content = new MemoryStream();
        var chunk = new byte[1 << 16];
        long lineLength = 0;
        int lineNumber = 1;
        int n;
        while ((n = file.Read(chunk)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (chunk[i] is (byte)'\n' or (byte)'\r') { lineLength = 0; if (chunk[i] == '\n') lineNumber++; continue; }
                if (++lineLength > CsvTable.MaxLineChars)
                    throw new DataFormatException($"{path}: line {lineNumber} is longer than {CsvTable.MaxLineChars:N0} bytes; this is not a CSV table (a binary file or a file without line breaks?)");
            }
            if (content.Length + n > MaxFileBytes)
                throw new DataFormatException($"{path}: is larger than {MaxFileBytes:N0} bytes; split the table, larger files do not fit the 2 GB memory budget");
            content.Write(chunk, 0, n);
        }
        return content.ToArray();
    }

    /// <summary>The line starting at <paramref name="position"/>: its text [Start, End) and where the next line starts.
    /// A line ends at \n, \r\n or \r, as <see cref="TextReader.ReadLine"/> has it.</summary>
    private static (int Start, int End, int Next) NextLine(byte[] content, int position)
    {
        int end = position;
        while (end < content.Length && content[end] is not ((byte)'\n' or (byte)'\r')) end++;
        int next = end;
        if (next < content.Length)
        {
            next += content[next] == '\r' && next + 1 < content.Length && content[next + 1] == '\n' ? 2 : 1;
        }
        return (position, end, next);
    }

    /// <summary>Where a field's value is in the file: inside the quotes of a quoted field, else from its first non-space
    /// byte to the comma.</summary>
    private readonly record struct FieldSpan(int ValueStart, int ValueEnd, bool Quoted);

    /// <summary>
    /// Splits one line of UTF-8 bytes exactly as <see cref="CsvTable.SplitFields"/> splits its text (commas, quotes and
    /// spaces are single bytes in UTF-8, never part of another character), decoding each field; with
    /// <paramref name="spans"/>, also where each value lies.
    /// </summary>
    private static void SplitFields(string path, int lineNumber, byte[] line, int start, int end, List<string> fields, List<FieldSpan>? spans)
    {
        fields.Clear();
        spans?.Clear();
        int i = start;
        while (true)
        {
            while (i < end && line[i] is (byte)' ' or (byte)'\t') i++;
            if (i < end && line[i] == '"')
            {
                int valueStart = ++i;
                bool escaped = false;
                while (true)
                {
                    if (i >= end) throw new DataFormatException($"{path}: line {lineNumber} has an unterminated quoted field; close the quote (quoted fields cannot span lines)");
                    if (line[i] == '"')
                    {
                        if (i + 1 < end && line[i + 1] == '"') { escaped = true; i += 2; continue; }
                        break;
                    }
                    i++;
                }
                int valueEnd = i++;
                string value = Encoding.UTF8.GetString(line, valueStart, valueEnd - valueStart);
                fields.Add(escaped ? value.Replace("\"\"", "\"") : value);
                spans?.Add(new FieldSpan(valueStart, valueEnd, true));
                while (i < end && line[i] is (byte)' ' or (byte)'\t') i++;
                if (i < end && line[i] != ',')
                    throw new DataFormatException($"{path}: line {lineNumber} has text after a closing quote at byte {i - start + 1}; quote the whole field or remove the stray quote");
            }
            else
            {
                int valueStart = i;
                while (i < end && line[i] != ',') i++;
                fields.Add(Encoding.UTF8.GetString(line, valueStart, i - valueStart));
                spans?.Add(new FieldSpan(valueStart, i, false));
            }
            if (i >= end) return;
            i++; // the comma; a trailing comma yields a final empty field on the next pass
        }
    }
}
