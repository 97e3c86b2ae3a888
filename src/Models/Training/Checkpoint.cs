using System.Globalization;
using System.Text.Json;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;

namespace NeuralCore.Models.Training;

/// <summary>
/// A resumable snapshot of a training run after a whole epoch, in one safetensors file: the model's parameters
/// under their usual names, the optimiser's state tensors under <c>optimizer.{name}</c> (e.g.
/// <c>optimizer.0.exp_avg</c>), and in <c>__metadata__</c> the epoch, the optimiser's step count, the states of
/// <see cref="Trainer.ShuffleRandom"/> and <see cref="Trainer.NoiseRandom"/> (the words of <see cref="SeededRandom.GetState"/> as decimal text),
/// the run's <see cref="RunSettings"/> as JSON (<c>model_spec</c> and <c>training_options</c>), and the metrics
/// history. Restoring it into a fresh <see cref="Trainer"/> continues the run exactly: on a deterministic backend
/// (CPU, same thread count) the final model is bit-identical to an uninterrupted run with the same seed.
/// <code>
/// Checkpoint.Save(path, trainer, history);                  // after each epoch; atomic
/// var checkpoint = Checkpoint.Load(path);
/// var trainer = Trainer.ForNewModel(checkpoint.Settings.Spec, backend, checkpoint.Settings.Options);
/// checkpoint.Restore(trainer);                              // weights, optimiser state, generators, EpochsDone
/// </code>
/// </summary>
public sealed class Checkpoint
{
    /// <summary>File name of the checkpoint inside a run directory.</summary>
    public const string FileName = "checkpoint.safetensors";

    /// <summary>Value of the <see cref="ContentKey"/> metadata entry of a checkpoint (a model's weights file says "model").</summary>
    public const string Format = "checkpoint";

    /// <summary>
    /// Metadata key saying what a NeuralCore file holds. The <c>format</c> entry itself says "pt" (PyTorch layouts), as
    /// Hugging Face's loaders expect.
    /// </summary>
    public const string ContentKey = "neuralcore";

    // Checkpoints written before the files said "format": "pt" carried this instead; they still resume.
    private const string LegacyFormat = "neuralcore-checkpoint";

    /// <summary>Prefix of the optimiser's state tensors.</summary>
    public const string OptimizerPrefix = "optimizer.";

    // Metadata keys owned by the checkpoint; callers' extra entries must not use them.
    private static readonly string[] ReservedKeys = ["format", ContentKey, "epoch", "optimizer_step", "shuffle_rng", "noise_rng", "training_options", "model_spec", "history"];

    private readonly SafeTensorsFile _file;

    private Checkpoint(SafeTensorsFile file, RunSettings settings, int epoch, int optimizerSteps,
        uint[] shuffleState, uint[] noiseState, IReadOnlyList<EpochMetrics> history, IReadOnlyDictionary<string, string> extra)
    {
        _file = file; Settings = settings; Epoch = epoch; OptimizerSteps = optimizerSteps;
        ShuffleState = shuffleState; NoiseState = noiseState; History = history; Extra = extra;
    }

    /// <summary>The file this checkpoint was read from (for a stream or bytes, the name given to <c>Load</c>).</summary>
    public string Path => _file.Path;
    /// <summary>The run's model spec and training options (<see cref="TrainingOptions.Epochs"/> is the run's target, not the epochs done).</summary>
    public RunSettings Settings { get; }
    /// <summary>Epochs completed when the checkpoint was written.</summary>
    public int Epoch { get; }
    /// <summary>The optimiser's step count.</summary>
    public int OptimizerSteps { get; }
    /// <summary>State of <see cref="Trainer.ShuffleRandom"/> (see <see cref="SeededRandom.GetState"/>).</summary>
    public IReadOnlyList<uint> ShuffleState { get; }
    /// <summary>State of <see cref="Trainer.NoiseRandom"/>.</summary>
    public IReadOnlyList<uint> NoiseState { get; }
    /// <summary>Metrics of every epoch so far, [Epoch].</summary>
    public IReadOnlyList<EpochMetrics> History { get; }
    /// <summary>The caller's extra metadata given to <see cref="Save"/> (e.g. where the data came from).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; }

    /// <summary>
    /// Atomically writes the state of <paramref name="trainer"/> after a whole epoch to <paramref name="path"/>
    /// (a crash while saving leaves the previous checkpoint intact). Stale temporary files of earlier killed saves
    /// next to it are removed.
    /// </summary>
    /// <param name="path">Target file, usually <c>DIR/checkpoint.safetensors</c>.</param>
    /// <param name="trainer">The trainer; its model, optimiser, generators and <see cref="Trainer.EpochsDone"/> are saved.</param>
    /// <param name="history">Metrics of the epochs done so far (one per epoch).</param>
    /// <param name="extra">Optional string metadata of the caller, returned by <see cref="Extra"/>.</param>
    public static void Save(string path, Trainer trainer, IReadOnlyList<EpochMetrics> history, IReadOnlyDictionary<string, string>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count != trainer.EpochsDone)
            throw new ArgumentException($"history has {history.Count} epochs but the trainer has done {trainer.EpochsDone}", nameof(history));
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        foreach (var (name, p) in trainer.Model.NamedParameters()) tensors.Add((name, p.Shape.ToArray(), p.ToArray()));
        foreach (var (name, state) in trainer.Optimizer.StateTensors()) tensors.Add((OptimizerPrefix + name, state.Shape.ToArray(), state.ToArray()));

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            if (ReservedKeys.Contains(key)) throw new ArgumentException($"extra metadata key '{key}' is reserved by the checkpoint", nameof(extra));
            metadata[key] = value;
        }
        metadata[ContentKey] = Format;
        metadata["epoch"] = trainer.EpochsDone.ToString(CultureInfo.InvariantCulture);
        metadata["optimizer_step"] = trainer.Optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        metadata["shuffle_rng"] = string.Join(' ', trainer.ShuffleRandom.GetState());
        metadata["noise_rng"] = string.Join(' ', trainer.NoiseRandom.GetState());
        metadata["training_options"] = JsonSerializer.Serialize(trainer.Options, RunJson.Default.TrainingOptions);
        metadata["model_spec"] = trainer.Model.Spec.ToJson();
        metadata["history"] = JsonSerializer.Serialize([.. history], RunJson.Default.ListEpochMetrics);

        DeleteStaleTempFiles(path);
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>Reads and validates a checkpoint (the tensors are checked against the model in <see cref="Restore"/>).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="SafeTensorsFormatException">Not a valid safetensors file, not a checkpoint, or corrupt metadata.</exception>
    /// <exception cref="DataFormatException">The stored model spec is invalid.</exception>
    public static Checkpoint Load(string path) => FromFile(SafeTensors.Read(path));

    /// <summary>
    /// Reads and validates a checkpoint from <paramref name="stream"/> (from its current position; left open), with the
    /// same checks as <see cref="Load(string)"/>. A non-seekable stream works.
    /// </summary>
    /// <param name="stream">The checkpoint file's content.</param>
    /// <param name="name">Names the stream in error messages and in <see cref="Path"/>.</param>
    /// <exception cref="SafeTensorsFormatException">Not a valid safetensors file, not a checkpoint, or corrupt metadata.</exception>
    /// <exception cref="DataFormatException">The stored model spec is invalid.</exception>
    public static Checkpoint Load(Stream stream, string name = SafeTensors.StreamName) => FromFile(SafeTensors.Read(stream, name));

    /// <summary>Reads and validates a checkpoint from the bytes of its file, as <see cref="Load(string)"/> does.</summary>
    /// <param name="bytes">The checkpoint file's content (a <c>byte[]</c> converts implicitly).</param>
    /// <param name="name">Names the bytes in error messages and in <see cref="Path"/>.</param>
    /// <exception cref="SafeTensorsFormatException">Not a valid safetensors file, not a checkpoint, or corrupt metadata.</exception>
    /// <exception cref="DataFormatException">The stored model spec is invalid.</exception>
    public static Checkpoint Load(ReadOnlyMemory<byte> bytes, string name = SafeTensors.BytesName) => FromFile(SafeTensors.Read(bytes, name));

    /// <summary>True when a safetensors file's metadata marks it as a training checkpoint.</summary>
    internal static bool IsCheckpoint(IReadOnlyDictionary<string, string> metadata) =>
        (metadata.TryGetValue(ContentKey, out var content) && content == Format)
        || (metadata.TryGetValue("format", out var format) && format == LegacyFormat);

    private static Checkpoint FromFile(SafeTensorsFile file)
    {
        string path = file.Path;
        var meta = file.Metadata;
        if (!IsCheckpoint(meta))
            throw Fail(path, $"is not a training checkpoint (metadata \"{ContentKey}\" is {(meta.TryGetValue(ContentKey, out var content) ? $"'{content}'" : "missing")}, expected '{Format}')");
        int epoch = ParseCount(path, meta, "epoch");
        int steps = ParseCount(path, meta, "optimizer_step");
        var options = ReadOptions(path, Require(path, meta, "training_options"));
        uint[] shuffle = ParseState(path, meta, "shuffle_rng", options.Rng);
        uint[] noise = ParseState(path, meta, "noise_rng", options.Rng);
        var spec = ModelSpec.FromJson(Require(path, meta, "model_spec"), path + " (model_spec)");
        var history = ReadHistory(path, Require(path, meta, "history"));
        if (history.Count != epoch) throw Fail(path, $"records {history.Count} epochs of metrics but says {epoch} epochs are done");
        var extra = meta.Where(kv => !ReservedKeys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new Checkpoint(file, new RunSettings(spec, options), epoch, steps, shuffle, noise, history, extra);
    }

    /// <summary>
    /// Copies the checkpoint into <paramref name="trainer"/>: parameters, optimiser state and step count, both
    /// generators, and <see cref="Trainer.EpochsDone"/>. The trainer must have been built from <see cref="Settings"/>
    /// (another number of epochs is fine).
    /// </summary>
    /// <exception cref="SafeTensorsFormatException">A tensor is missing, has another shape, holds NaN or an infinity, or is not used by this model and optimiser.</exception>
    public void Restore(Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var expected = new List<string>();
        foreach (var (name, p) in trainer.Model.NamedParameters())
        {
            var data = _file.Require(name, p.Shape.ToArray()).Data;
            ModelStore.RequireFinite(Path, name, data);
            p.CopyFrom(data);
            expected.Add(name);
        }
        foreach (var (name, state) in trainer.Optimizer.StateTensors())
        {
            var data = _file.Require(OptimizerPrefix + name, state.Shape.ToArray()).Data;
            ModelStore.RequireFinite(Path, OptimizerPrefix + name, data);
            state.CopyFrom(data);
            expected.Add(OptimizerPrefix + name);
        }
        var extra = _file.Names.Except(expected).ToList();
        if (extra.Count > 0)
            throw Fail(Path, $"holds tensors this model and optimiser do not have ({string.Join(", ", extra.Take(5))}); it belongs to a different run");
        trainer.Optimizer.RestoreStepCount(OptimizerSteps);
        trainer.ShuffleRandom.SetState(ShuffleState.ToArray());
        trainer.NoiseRandom.SetState(NoiseState.ToArray());
        trainer.EpochsDone = Epoch;
    }

    private static TrainingOptions ReadOptions(string path, string json)
    {
        try
        {
            var options = RunJson.ReadOptions(json);
            options.Validate();
            return options;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw Fail(path, $"training_options are invalid ({e.Message.ReplaceLineEndings(" ")})");
        }
    }

    private static List<EpochMetrics> ReadHistory(string path, string json)
    {
        try { return RunJson.ReadHistory(json); }
        catch (JsonException e) { throw Fail(path, $"history is invalid ({e.Message.ReplaceLineEndings(" ")})"); }
    }

    private static string Require(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var value) ? value : throw Fail(path, $"checkpoint metadata has no \"{key}\"; the file is incomplete or was written by another program");

    private static int ParseCount(string path, IReadOnlyDictionary<string, string> meta, string key)
    {
        string text = Require(path, meta, key);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw Fail(path, $"checkpoint metadata \"{key}\" is '{text}', not a non-negative integer");
        return value;
    }

    private static uint[] ParseState(string path, IReadOnlyDictionary<string, string> meta, string key, RandomAlgorithm algorithm)
    {
        string text = Require(path, meta, key);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var state = new uint[words.Length];
        bool ok = true;
        for (int i = 0; ok && i < words.Length; i++) ok = uint.TryParse(words[i], NumberStyles.None, CultureInfo.InvariantCulture, out state[i]);
        if (!ok || !SeededRandom.IsState(state, algorithm))
            throw Fail(path, $"checkpoint metadata \"{key}\" is not a saved state of the {algorithm} generator ('{(text.Length > 80 ? text[..80] + "..." : text)}')");
        return state;
    }

    /// <summary>Removes temporary files an earlier save left behind when its process was killed mid-write.</summary>
    private static void DeleteStaleTempFiles(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        string? directory = System.IO.Path.GetDirectoryName(full);
        if (directory == null || !Directory.Exists(directory)) return;
        foreach (string stale in Directory.EnumerateFiles(directory, $".{System.IO.Path.GetFileName(full)}.*{AtomicFile.TempSuffix}"))
        {
            try { File.Delete(stale); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static SafeTensorsFormatException Fail(string path, string problem) => new($"{path}: {problem}");
}
