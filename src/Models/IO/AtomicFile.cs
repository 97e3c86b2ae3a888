using System.Text;
using Microsoft.Win32.SafeHandles;

namespace NeuralCore.Models.IO;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the target's directory, is flushed to
/// disk, and is then renamed over the target. A reader therefore sees either the old file or the complete
/// new one, never a half-written file (a crash mid-save cannot destroy the previous checkpoint). On any
/// failure the temporary file is deleted and the target is left untouched.
/// </summary>
/// <remarks>
/// Only a regular file (or a new one) is replaced so. A symbolic link is followed and the file it points to is
/// replaced, next to that file, so the link stays a link. A FIFO, a device (<c>/dev/null</c>) or a socket cannot be
/// replaced without destroying it, so it is written to directly; so are <c>/proc/.../fd/N</c> and <c>/dev/fd/N</c>.
/// <see cref="StandardOutput"/> (<c>-</c>), <c>/dev/stdout</c> and <c>/dev/fd/1</c> write to the process's
/// standard output; a closed one fails with <see cref="StandardOutputClosedException"/>.
/// </remarks>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files (they are named <c>.{name}.{random}.tmp</c>).</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>The path that stands for standard output.</summary>
    public const string StandardOutput = "-";

    // More links than this in a row is a loop (Linux gives up at 40 as well).
    private const int MaxLinks = 40;

    /// <summary>Whether <paramref name="path"/> names the process's standard output: <c>-</c>, <c>/dev/stdout</c>, <c>/dev/fd/1</c>.</summary>
    public static bool IsStandardOutput(string path) =>
        path is StandardOutput or "/dev/stdout" or "/dev/fd/1" or "/proc/self/fd/1";

    /// <summary>
    /// Whether a write to <paramref name="path"/> goes to it as it is (standard output, a FIFO, a device, a process's
    /// descriptor) rather than replacing a regular file.
    /// </summary>
    public static bool WritesInPlace(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (IsStandardOutput(path)) return true;
        var (fullPath, direct) = Target(path);
        return direct || FileKinds.Of(fullPath) == FileKind.Special;
    }

    /// <summary>
    /// Writes <paramref name="path"/> by calling <paramref name="write"/> with a stream on a temporary file,
    /// then renaming it over the target. Creates the parent directory if needed. Special files and standard
    /// output are written directly (see the remarks of <see cref="AtomicFile"/>).
    /// </summary>
    /// <param name="path">Target file path.</param>
    /// <param name="write">Writes the whole content; an exception aborts the write and is rethrown.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        if (IsStandardOutput(path))
        {
            WriteStandardOutput(write);
            return;
        }
        var (fullPath, direct) = Target(path);
        if (direct || FileKinds.Of(fullPath) == FileKind.Special)
        {
            WriteInPlace(fullPath, write);
            return;
        }
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

    /// <summary>
    /// The file a write to <paramref name="path"/> lands in: the full path with every symbolic link of its last
    /// component followed, and whether it must be written directly (a link into <c>/proc</c> or <c>/dev/fd</c>,
    /// a process's descriptor, which has no directory to rename in).
    /// </summary>
    private static (string Path, bool Direct) Target(string path)
    {
        string current = Path.GetFullPath(path);
        for (int links = 0; ; links++)
        {
            if (IsDescriptorPath(current)) return (current, true);
            var info = new FileInfo(current);
            if (info.LinkTarget is not { } next) return (current, false);
            if (links == MaxLinks) throw new IOException($"{path}: too many levels of symbolic links");
            current = Path.GetFullPath(next, Path.GetDirectoryName(current)!);
        }
    }

    private static bool IsDescriptorPath(string fullPath) =>
        fullPath.StartsWith("/proc/", StringComparison.Ordinal) || fullPath.StartsWith("/dev/fd/", StringComparison.Ordinal);

    /// <summary>A FIFO or device: opened as it is (not truncated, not replaced) and written.</summary>
    private static void WriteInPlace(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
        write(stream);
        stream.Flush();
    }

    private static void WriteStandardOutput(Action<Stream> write)
    {
        // The descriptor itself, not Console's stream: Console ignores a broken pipe, which would lose the output silently.
        try
        {
            using var stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 1 << 16);
            write(stream);
            stream.Flush();
        }
        // a closed descriptor reads as "access denied" (EBADF), a pipe whose reader has gone as "broken pipe" (EPIPE)
        catch (Exception e) when (e is UnauthorizedAccessException || e is IOException { HResult: BrokenPipe } || e is IOException && !StandardOutputIsOpen())
        {
            throw new StandardOutputClosedException(e);
        }
    }

    // HResult .NET gives an IOException for EPIPE on Unix (errno 32 in the low bits).
    private const int BrokenPipe = 32;

    /// <summary>Whether the process's standard output is open for writing (not closed with <c>&gt;&amp;-</c>).</summary>
    public static bool StandardOutputIsOpen() => FileKinds.IsWritable(1);

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

/// <summary>Standard output is closed, or is a pipe whose reader has gone: the output cannot be written.</summary>
public sealed class StandardOutputClosedException(Exception inner) : IOException("cannot write to standard output (closed)", inner);
