namespace NeuralCore.Cli;

/// <summary>Checks an --out directory up front, so that a long run cannot fail only when it writes its results.</summary>
internal static class OutputDirectory
{
    /// <summary>
    /// Fails before any work when <paramref name="dir"/> cannot be written (a file in its place, no permission, a
    /// read-only file system): probes the nearest directory that exists with a temporary file, creating nothing.
    /// </summary>
    public static void EnsureWritable(string dir)
    {
        if (Models.IO.AtomicFile.IsStandardOutput(dir))
            throw new CliException($"--out {dir}: the command writes a directory of files, which cannot go to standard output; give a directory", 2);
        string full = Path.GetFullPath(dir);
        if (File.Exists(full)) throw new CliException($"--out {dir}: is a file; give a directory for the model files");
        string existing = full;
        while (!Directory.Exists(existing))
        {
            string? parent = Path.GetDirectoryName(existing);
            if (parent == null) break;
            if (File.Exists(parent)) throw new CliException($"--out {dir}: {parent} is a file, not a directory; choose another --out");
            existing = parent;
        }
        string probe = Path.Combine(existing, $".neuralcore-write-test-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--out {dir}: cannot write in {existing}; choose a directory you can write to");
        }
    }
}
