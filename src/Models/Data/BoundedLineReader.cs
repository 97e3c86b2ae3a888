using System.Text;

namespace NeuralCore.Models.Data;

/// <summary>
/// Reads lines like <see cref="TextReader.ReadLine"/> (ending at \n, \r\n or \r) but refuses a line longer than
/// <see cref="CsvTable.MaxLineChars"/> as soon as it gets there, so a file without line breaks (<c>/dev/zero</c>, a
/// binary file, one giant line) costs at most that much memory.
/// </summary>
internal sealed class BoundedLineReader
{
    private readonly TextReader _reader;
    private readonly string _path;
    private readonly StringBuilder _line = new();

    public BoundedLineReader(TextReader reader, string path)
    {
        _reader = reader;
        _path = path;
    }

    /// <summary>Lines read so far (1-based number of the last line returned).</summary>
    public int LineNumber { get; private set; }

    /// <summary>The next line without its ending, or null at the end of the file.</summary>
    /// <exception cref="DataFormatException">The line is longer than <see cref="CsvTable.MaxLineChars"/>.</exception>
    public string? ReadLine()
    {
        _line.Clear();
        int c = _reader.Read();
        if (c < 0) return null;
        LineNumber++;
        while (c >= 0 && c != '\n' && c != '\r')
        {
            if (_line.Length == CsvTable.MaxLineChars)
                throw new DataFormatException($"{_path}: line {LineNumber} is longer than {CsvTable.MaxLineChars:N0} characters; this is not a CSV table of numbers (a binary file or a file without line breaks?)");
            _line.Append((char)c);
            c = _reader.Read();
        }
        if (c == '\r' && _reader.Peek() == '\n') _reader.Read();
        return _line.ToString();
    }

    /// <summary>The next line that is not blank (only spaces), or null at the end of the file.</summary>
    public string? NextNonBlankLine()
    {
        while (ReadLine() is string line)
        {
            if (!string.IsNullOrWhiteSpace(line)) return line;
        }
        return null;
    }
}
