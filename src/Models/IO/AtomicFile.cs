using System.Text;

namespace NeuralCore.Models.IO;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the target's directory, is flushed to
/// disk, and is then renamed over the target. A reader therefore sees either the old file or the complete
/// new one, never a half-written file (a crash mid-save cannot destroy the previous checkpoint). On any
/// failure the temporary file is deleted and the target is left untouched.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files (they are named <c>.{name}.{random}.tmp</c>).</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>
    /// Writes <paramref name="path"/> by calling <paramref name="write"/> with a stream on a temporary file,
    /// then renaming it over the target. Creates the parent directory if needed.
    /// </summary>
    /// <param name="path">Target file path.</param>
    /// <param name="write">Writes the whole content; an exception aborts the write and is rethrown.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        Directory.CreateDirectory(directory);
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    /// <summary>Atomically writes <paramref name="bytes"/> to <paramref name="path"/>.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Atomically writes the indented JSON that <paramref name="write"/> produces (UTF-8, no byte-order mark).</summary>
    public static void WriteJson(string path, Action<System.Text.Json.Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Write(path, stream =>
        {
            using var w = new System.Text.Json.Utf8JsonWriter(stream, new System.Text.Json.JsonWriterOptions { Indented = true });
            write(w);
        });
    }

    /// <summary>Atomically writes <paramref name="text"/> to <paramref name="path"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    private static void TryDelete(string tempPath)
    {
        try { File.Delete(tempPath); }
        catch (IOException) { /* best effort: the original exception matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
