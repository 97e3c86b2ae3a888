using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// The --out directory of a training run: locked for the run's whole length, so that two runs cannot write one
/// directory, and kept from silently mixing a new run with the files of an old one.
/// </summary>
internal static class RunDirectory
{
    /// <summary>The lock file; it exists only while a run holds the directory.</summary>
    public const string LockFile = ".neuralcore.lock";

    private const string MetricsFile = "metrics.json";

    /// <summary>Every file a run (and the commands that read its model by default) writes into its directory.</summary>
    public static readonly string[] RunFiles =
    [
        ModelStore.WeightsFile, ModelStore.SpecFile, MetricsFile, Checkpoint.FileName,
        "loss.png", "reconstructions.png", "samples.png", "grad-norms.png", "features.csv", "scores.csv",
        // a VQ-VAE's prior is trained on its codes: a new run in the directory makes it stale
        PriorTraining.WeightsFile, PriorTraining.CheckpointFile, PriorTraining.MetricsFile, "prior-loss.png", "codebook-usage.png", "codes.csv",
    ];

    /// <summary>The files that make a directory hold a run: the model or a checkpoint.</summary>
    private static readonly string[] RunMarkers = [ModelStore.WeightsFile, ModelStore.SpecFile, Checkpoint.FileName, MetricsFile];

    /// <summary>
    /// Creates <paramref name="dir"/> if needed and takes its lock, exclusively (an advisory lock on the lock file, which
    /// the system releases when the process ends, however it ends). Dispose the result to release the lock; a directory
    /// it created is removed again if the run left nothing in it (a run that failed before writing).
    /// </summary>
    public static IDisposable Lock(string dir)
    {
        bool created = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, LockFile);
        try
        {
            return new RunLock(dir, created, new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose));
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new CliException($"{dir} is in use by another run (it holds {LockFile}); wait for that run to end or choose another --out");
        }
    }

    private sealed class RunLock(string dir, bool created, FileStream file) : IDisposable
    {
        public void Dispose()
        {
            file.Dispose();
            if (created && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
    }

    /// <summary>Whether <paramref name="dir"/> holds the files of a run (a model or a checkpoint).</summary>
    public static bool HoldsRun(string dir) => RunMarkers.Any(file => File.Exists(Path.Combine(dir, file)));

    /// <summary>
    /// Prepares <paramref name="dir"/> for a new run: a directory holding another run is refused unless
    /// <paramref name="overwrite"/>, which removes that run's files (its model, checkpoint, metrics and pictures; other
    /// files stay), so no picture of the old run is left beside the new model.
    /// </summary>
    public static void PrepareForNewRun(string dir, bool overwrite)
    {
        if (!HoldsRun(dir)) return;
        if (!overwrite)
            throw new CliException($"train: --out {dir} holds another run ({string.Join(", ", RunMarkers.Where(f => File.Exists(Path.Combine(dir, f))))}); " +
                                   "give --overwrite to replace it, --resume to continue it, or another --out", 2);
        foreach (string file in RunFiles) File.Delete(Path.Combine(dir, file));
        foreach (string temp in Directory.EnumerateFiles(dir, $".*{AtomicFile.TempSuffix}")) File.Delete(temp);
    }
}
