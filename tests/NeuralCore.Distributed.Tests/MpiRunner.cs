using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace NeuralCore.Distributed.Tests;

/// <summary>Runs the neuralcore tool alone or under <c>mpirun</c>, and makes the small data sets the runs train on.</summary>
internal static class MpiRunner
{
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    private static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "neuralcore.dll");

    /// <summary>Path of mpirun, or null where Open MPI is not installed.</summary>
    public static string? MpiRun { get; } = new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// True where mpirun is missing and the MPI tests are to pass quietly; under CI (CI=1, which installs Open MPI) a
    /// missing mpirun fails them instead.
    /// </summary>
    public static bool Skip()
    {
        if (MpiRun != null) return false;
        Assert.True(Environment.GetEnvironmentVariable("CI") is not ("1" or "true"), "mpirun is missing: install openmpi-bin and libopenmpi-dev (.ci/run does)");
        return true;
    }

    /// <summary>Starts `neuralcore ARGS` on <paramref name="processes"/> processes under mpirun (0: alone, without mpirun).</summary>
    public static Process Start(int processes, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(processes == 0 ? "dotnet" : MpiRun!)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory,
        };
        if (processes > 0)
            foreach (string a in (string[])["--oversubscribe", "-np", processes.ToString(), "dotnet"]) start.ArgumentList.Add(a);
        start.ArgumentList.Add(Tool);
        foreach (string a in args) start.ArgumentList.Add(a);
        // mpirun refuses root (a CI container) without these; a waiting rank yields its core to the ranks computing
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        start.Environment["OMPI_MCA_mpi_yield_when_idle"] = "1";
        start.Environment["TERM"] = "dumb";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        return Process.Start(start)!;
    }

    /// <summary>Runs `neuralcore ARGS` to its end (at most <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static Result Run(int processes, IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        using var process = Start(processes, args);
        var output = Collect(process);
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"neuralcore {string.Join(' ', args)} on {processes} processes did not end within {timeout}: {output}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, output.ToString(), clock.Elapsed);
    }

    /// <summary>Collects a process's standard output and error, as they come, into one text.</summary>
    public static StringBuilder Collect(Process process)
    {
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    /// <summary>The processes mpirun started for <paramref name="mpirun"/>, by rank (Open MPI puts the rank in each one's environment).</summary>
    public static Dictionary<int, int> Ranks(Process mpirun)
    {
        var ranks = new Dictionary<int, int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (parent != mpirun.Id) continue;
                foreach (string entry in File.ReadAllText(Path.Combine(dir, "environ")).Split('\0'))
                    if (entry.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal)) ranks[int.Parse(entry["OMPI_COMM_WORLD_RANK=".Length..])] = pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }   // a process that ended meanwhile
        }
        return ranks;
    }

    /// <summary>A temporary directory.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "neuralcore-mpi-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static readonly Lazy<string> SmallMnist = new(() => Subset(500, 100));
    private static readonly Lazy<string> MediumMnist = new(() => Subset(2000, 200));

    /// <summary>An IDX directory of the first 500 training and 100 test images of the bundled MNIST (made once).</summary>
    public static string Small => SmallMnist.Value;

    /// <summary>The first 2,000 training and 200 test images: epochs long enough to kill a rank in the middle of one.</summary>
    public static string Medium => MediumMnist.Value;

    private static string Subset(int trainCount, int testCount)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "data", "mnist-10k"), dir = TempDir();
        foreach (var (name, count) in new[] { ("train", trainCount), ("t10k", testCount) })
        {
            Copy(Path.Combine(source, $"{name}-images-idx3-ubyte.gz"), Path.Combine(dir, $"{name}-images-idx3-ubyte"), 16, 28 * 28, count);
            Copy(Path.Combine(source, $"{name}-labels-idx1-ubyte.gz"), Path.Combine(dir, $"{name}-labels-idx1-ubyte"), 8, 1, count);
        }
        return dir;
    }

    // An IDX file's header with its count (bytes 4-7, big-endian) set to count, then count items.
    private static void Copy(string gz, string target, int header, int itemBytes, int count)
    {
        using var input = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress);
        var bytes = new byte[header + count * itemBytes];
        input.ReadExactly(bytes);
        bytes[4] = (byte)(count >> 24); bytes[5] = (byte)(count >> 16); bytes[6] = (byte)(count >> 8); bytes[7] = (byte)count;
        File.WriteAllBytes(target, bytes);
    }
}
