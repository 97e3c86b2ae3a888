using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// Checks a command's output paths against its inputs before any work: an output that would replace an input (the
/// --data table, a file of the --model directory) is refused, as are two outputs on one file and standard output
/// (<c>-</c>) where a directory is needed or where it is closed. When an output goes to standard output, the
/// command's messages go to standard error, so they do not mix with the data.
/// </summary>
internal static class Outputs
{
    /// <summary>Set by the process entry when it started with standard output closed (it is then held on /dev/null).</summary>
    public static bool StandardOutputClosed { get; set; }

    /// <summary>An output of the command: the option that named it, its path, and whether it is a directory of files.</summary>
    public readonly record struct Output(string Option, string? Path, bool IsDirectory = false);

    /// <summary>
    /// Refuses outputs that would replace one of <paramref name="inputs"/> (files, or directories whose files are
    /// read), each other, or that cannot be written; sends messages to standard error when data goes to standard output.
    /// </summary>
    public static void Check(string command, IEnumerable<Input> inputs, params Output[] outputs)
    {
        var given = outputs.Where(o => o.Path != null).ToList();
        var protectedFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            if (string.IsNullOrEmpty(input.Path) || input.Path == "mnist") continue;
            string canonical = Canonical(input.Path);
            bool isDirectory = Directory.Exists(canonical);
            protectedFiles.TryAdd(canonical, input.What ?? $"the {input.Option} {(isDirectory ? "directory" : "file")}");
            // every file of a data directory is read (IDX files); a model directory lists its files as inputs of their own
            if (isDirectory && input.What == null && input.Option == "--data")
                foreach (string file in Directory.EnumerateFiles(canonical))
                    protectedFiles.TryAdd(Canonical(file), $"a file of the {input.Option} directory");
        }
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var output in given)
        {
            string path = output.Path!;
            string label = $"{output.Option} {Text.Safe(path)}";
            if (AtomicFile.IsStandardOutput(path))
            {
                if (output.IsDirectory)
                    throw new CliException($"{command}: {label}: {command} writes a directory of files, which cannot go to standard output; give a directory", 2);
                if (StandardOutputClosed) throw new CliException($"{command}: {label}: cannot write to standard output (closed)");
                if (seen.ContainsKey("-")) throw new CliException($"{command}: {seen["-"]} and {output.Option} both write to standard output; give one of them a file", 2);
                seen["-"] = output.Option;
                continue;
            }
            string canonicalOut = Canonical(path);
            if (protectedFiles.TryGetValue(canonicalOut, out string? what))
                throw new CliException($"{command}: {label} is {what}; writing there would replace an input, choose another {(output.IsDirectory ? "directory" : "file")}", 2);
            if (!output.IsDirectory && Directory.Exists(canonicalOut))
                throw new CliException($"{command}: {label} is a directory; give a file name", 2);
            if (seen.TryGetValue(canonicalOut, out string? other))
                throw new CliException($"{command}: {other} and {output.Option} name the same file {Text.Safe(path)}; give them different files", 2);
            seen[canonicalOut] = output.Option;
        }
        if (seen.ContainsKey("-")) Console.SetOut(Console.Error);
    }

    /// <summary>A path a command reads: a file, or a directory (of --data: all its files are read).</summary>
    public readonly record struct Input(string Option, string? Path, string? What = null);

    /// <summary>The inputs of a command that reads a saved model: its directory, the files in it that are read, and the data.</summary>
    public static Input[] ModelInputs(string modelDirectory, string? data) =>
    [
        new("--model", modelDirectory),
        .. new[] { ModelStore.SpecFile, ModelStore.WeightsFile, Checkpoint.FileName }
            .Select(file => new Input("--model", Path.Combine(modelDirectory, file), $"the model's {file} (in --model)")),
        new("--data", data),
    ];

    /// <summary>Whether a path must be written as it is (standard output, a FIFO, a device): no file-name extension to check.</summary>
    public static bool IsStream(string path) => AtomicFile.WritesInPlace(path);

    /// <summary>How a message names an output: "standard output" for <c>-</c>.</summary>
    public static string Name(string path) => path == AtomicFile.StandardOutput ? "standard output" : path;

    /// <summary>
    /// The path with every symbolic link resolved (each directory on the way and the file itself), so two names of one
    /// file compare equal.
    /// </summary>
    public static string Canonical(string path)
    {
        string full = Path.GetFullPath(path);
        string? parent = Path.GetDirectoryName(full);
        if (parent == null) return full;
        string resolved = Path.Combine(Canonical(parent), Path.GetFileName(full));
        try
        {
            var target = new FileInfo(resolved).LinkTarget != null ? File.ResolveLinkTarget(resolved, returnFinalTarget: true) : null;
            return target == null ? resolved : Canonical(target.FullName);
        }
        catch (IOException) { return resolved; }   // a loop of links: compared by name, and the write reports the loop
    }
}
