namespace NeuralCore.Cli.Commands;

/// <summary>Files of the repository's data/ folder that travel with the binary (see NeuralCore.Cli.csproj).</summary>
internal static class BundledData
{
    /// <summary>
    /// The full path of data/<paramref name="name"/>: next to the executable first (the build and the tool package copy it
    /// there), then in data/ of the current directory or any parent of it or of the executable's directory.
    /// </summary>
    public static string Find(string name)
    {
        string relative = Path.Combine("data", name);
        string nextToExecutable = Path.Combine(AppContext.BaseDirectory, relative);
        if (File.Exists(nextToExecutable)) return nextToExecutable;
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate)) return candidate;
            }
        throw new CliException($"the bundled {relative} was not found next to the executable ({AppContext.BaseDirectory}) or above the current directory; pass the file's path instead");
    }
}
