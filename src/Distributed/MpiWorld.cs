using System.Diagnostics;
using System.Globalization;

namespace NeuralCore.Distributed;

/// <summary>
/// The MPI job this process belongs to (MPI_COMM_WORLD): started once per process with <see cref="Start"/>, ended with
/// <see cref="Finish"/> (all went well) or <see cref="Abort"/> (this process failed: the whole job stops).
/// <code>
/// using var world = MpiWorld.Start();                 // in a process launched by mpirun
/// trainer.GradientReducer = world.CreateReducer();
/// TrainingRun.Fit(trainer, ...);                      // process 0 alone writes the run directory
/// world.Finish();
/// </code>
/// Errors of MPI calls are returned, not fatal: a failed call, or a peer that does not answer within
/// <see cref="Timeout"/>, throws <see cref="MpiException"/> with one line naming the rank at fault.
/// </summary>
public sealed class MpiWorld : IDisposable
{
    private static MpiWorld? _current;
    private bool _ended;

    private MpiWorld(int rank, int size, TimeSpan timeout)
    {
        Rank = rank; Size = size; Timeout = timeout;
    }

    /// <summary>Default of <see cref="Timeout"/>: long enough for any step of the bundled models, short enough that a hung job ends within a minute.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Environment variable that sets <see cref="Timeout"/> in seconds.</summary>
    public const string TimeoutVariable = "NEURALCORE_MPI_TIMEOUT";

    /// <summary>
    /// Whether this process was started by Open MPI's <c>mpirun</c> (or another launcher that sets its environment):
    /// only then does <see cref="Start"/> join a job of several processes.
    /// </summary>
    public static bool IsLaunched =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { Length: > 0 }
        || Environment.GetEnvironmentVariable("PMIX_RANK") is { Length: > 0 };

    /// <summary>The started world of this process, or null.</summary>
    public static MpiWorld? Current => _current;

    /// <summary>This process's rank in the job, 0 to <see cref="Size"/> - 1.</summary>
    public int Rank { get; }
    /// <summary>Number of processes in the job.</summary>
    public int Size { get; }
    /// <summary>
    /// How long process 0 waits for a peer in a gradient exchange before it stops the job (the others wait 10 s more,
    /// so that process 0, which knows which rank has not arrived, is the one that names it). Set with
    /// <see cref="TimeoutVariable"/>; default <see cref="DefaultTimeout"/>.
    /// </summary>
    public TimeSpan Timeout { get; }

    /// <summary>Initialises MPI (once per process) and returns the job's world.</summary>
    /// <exception cref="MpiException">libmpi cannot be loaded or initialised, or <see cref="TimeoutVariable"/> is not a number of seconds.</exception>
    public static MpiWorld Start()
    {
        if (_current != null) return _current;
        var timeout = DefaultTimeout;
        if (Environment.GetEnvironmentVariable(TimeoutVariable) is { Length: > 0 } text)
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0) || seconds > 86400)
                throw new MpiException($"{TimeoutVariable} is '{text}'; give the seconds a rank may wait for a peer (e.g. 30)");
            timeout = TimeSpan.FromSeconds(seconds);
        }
        MpiNative.Load();
        Check(MpiNative.MPI_Initialized(out int initialized), "MPI_Initialized");
        if (initialized == 0) Check(MpiNative.MPI_Init(0, 0), "MPI_Init");
        Check(MpiNative.MPI_Comm_set_errhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(MpiNative.MPI_Comm_rank(MpiNative.CommWorld, out int rank), "MPI_Comm_rank");
        Check(MpiNative.MPI_Comm_size(MpiNative.CommWorld, out int size), "MPI_Comm_size");
        return _current = new MpiWorld(rank, size, timeout);
    }

    /// <summary>A gradient reducer over this world's processes, for <c>Trainer.GradientReducer</c>.</summary>
    public MpiGradientReducer CreateReducer() => new(this);

    /// <summary>Ends MPI in this process after a run that went well (every process must call it).</summary>
    public void Finish()
    {
        if (_ended) return;
        _ended = true;
        Check(MpiNative.MPI_Finalize(), "MPI_Finalize");
    }

    /// <summary>Stops every process of the job with <paramref name="exitCode"/> (MPI_Abort); does not return.</summary>
    public void Abort(int exitCode)
    {
        _ended = true;
        Console.Out.Flush();
        Console.Error.Flush();
        MpiNative.MPI_Abort(MpiNative.CommWorld, exitCode);
        Environment.Exit(exitCode);   // MPI_Abort does not return; this is for a library that does
    }

    /// <summary>Finishes MPI unless the world was ended already.</summary>
    public void Dispose() => Finish();

    internal static void Check(int code, string call)
    {
        if (code != MpiNative.Success) throw new MpiException($"{call} failed: {MpiNative.ErrorText(code)}");
    }

    internal string Describe(string problem) => $"MPI rank {Rank} of {Size}: {problem}";

    internal static long Deadline(TimeSpan wait) => Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
}
