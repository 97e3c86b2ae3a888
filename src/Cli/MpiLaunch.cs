using NeuralCore.Distributed;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// A command started by <c>mpirun</c>: joins the MPI job, and ends it as the command ends (MPI_Finalize after success;
/// MPI_Abort with the exit code after a failure, so that a failing rank stops the others at once instead of leaving
/// them waiting for its gradients).
/// </summary>
internal static class MpiLaunch
{
    /// <summary>Shards of each batch under mpirun when --grad-shards is not given: 6 divides among 1, 2, 3 and 6 processes.</summary>
    public const int DefaultShards = 6;

    /// <summary>
    /// CPU threads of a process when --threads is not given: every core, or under mpirun the cores shared evenly among
    /// the ranks on this machine (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE), at least one. Ranks that each ran a thread per
    /// core would oversubscribe the cores and wait for one another's threads; the results are the same bits at any
    /// thread count.
    /// </summary>
    public static int DefaultThreads() =>
        DefaultThreads(Environment.ProcessorCount, Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"));

    /// <summary><see cref="DefaultThreads()"/> for <paramref name="cores"/> cores and mpirun's count of local ranks (null without mpirun).</summary>
    public static int DefaultThreads(int cores, string? localRanks) =>
        int.TryParse(localRanks, out int local) && local > 1 ? Math.Max(1, cores / local) : cores;

    /// <summary>The joined job, or null in a process that mpirun did not start.</summary>
    public static MpiWorld? World { get; private set; }

    /// <summary>Joins the MPI job when mpirun started this process; null otherwise (the command runs alone, as always).</summary>
    public static MpiWorld? Join(string command)
    {
        if (!MpiWorld.IsLaunched) return null;
        try { return World = MpiWorld.Start(); }
        catch (MpiException e) { throw new CliException($"{command}: {e.Message}"); }
    }

    /// <summary>The shard count of a run: the one given, else 1 alone and <see cref="DefaultShards"/> (or one per process, if more) under mpirun.</summary>
    public static int Shards(string command, int? given, MpiWorld? world)
    {
        int size = world?.Size ?? 1;
        int shards = given ?? (world == null ? 1 : Math.Max(DefaultShards, size));
        if (shards < size)
            throw new CliException($"{command}: --grad-shards {shards} is fewer than the {size} processes; give --grad-shards {size} or more (each process computes whole shards)", 2);
        return shards;
    }

    /// <summary>Ends the MPI job, if any, with the command's exit code; returns it.</summary>
    public static int Finish(int exitCode)
    {
        if (World is not { } world) return exitCode;
        if (exitCode == 0) world.Finish();
        else world.Abort(exitCode);
        return exitCode;
    }

    /// <summary>The one-line summary a rank prints after training: its share of the rows and the time in the gradient exchange.</summary>
    public static string Summary(MpiWorld world, Trainer trainer, long rowsOfRun)
    {
        var reducer = trainer.GradientReducer as MpiGradientReducer;
        return $"rank {world.Rank} of {world.Size}: computed {trainer.RowsComputed} of {rowsOfRun} training rows; " +
               $"{reducer?.Steps ?? 0} steps, {reducer?.Seconds ?? 0:F2} s in the gradient exchange";
    }
}
