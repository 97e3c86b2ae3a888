using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Optimizers;

namespace NeuralCore.Models.Training;

/// <summary>What a <see cref="PriorTraining"/> run produced.</summary>
public sealed class PriorTrainingResult
{
    internal PriorTrainingResult(PixelCnnPrior prior, IReadOnlyList<EpochMetrics> history, double testNll, string? directory)
    {
        Prior = prior; History = history; TestNll = testNll; Directory = directory;
    }

    /// <summary>The trained prior.</summary>
    public PixelCnnPrior Prior { get; }
    /// <summary>Every epoch: <see cref="EpochMetrics.TrainLoss"/> and <see cref="EpochMetrics.TestLoss"/> are NLL in nats per code.</summary>
    public IReadOnlyList<EpochMetrics> History { get; }
    /// <summary>The final test NLL in nats per code (0 without test rows).</summary>
    public double TestNll { get; }
    /// <summary>The model directory the prior was saved in, or null.</summary>
    public string? Directory { get; }
}

/// <summary>
/// Trains a <see cref="PixelCnnPrior"/> over the code grids that a frozen <see cref="VqVae"/> gives its training rows
/// (cross-entropy per code, Adam, mini-batches shuffled by the run's seed). With a model directory it writes
/// <see cref="CheckpointFile"/> after every epoch (resumable with <see cref="Resume"/>), then <see cref="WeightsFile"/>
/// and <see cref="MetricsFile"/> next to the VQ-VAE's own files.
/// </summary>
public static class PriorTraining
{
    /// <summary>The trained prior's weights inside a model directory (its metadata holds the <see cref="PriorSpec"/>).</summary>
    public const string WeightsFile = "prior.safetensors";
    /// <summary>The prior's resumable checkpoint inside a model directory.</summary>
    public const string CheckpointFile = "prior-checkpoint.safetensors";
    /// <summary>The prior's metrics inside a model directory.</summary>
    public const string MetricsFile = "prior-metrics.json";

    private const string PriorContent = "prior";
    private const string CheckpointContent = "prior-checkpoint";

    /// <summary>
    /// Trains a fresh prior on the codes of <paramref name="train"/> (and measures the NLL of <paramref name="test"/>'s
    /// codes after each epoch).
    /// </summary>
    /// <param name="model">The trained VQ-VAE (not changed).</param>
    /// <param name="train">Training rows [trainCount, features] (the VQ-VAE's training split).</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">Test rows [testCount, features].</param>
    /// <param name="testCount">Number of test rows (0: no evaluation).</param>
    /// <param name="options">Epochs, batch, learning rate, seed (the optimizer is Adam or AdamW/SGD as named).</param>
    /// <param name="directory">The VQ-VAE's model directory to write the prior into; null keeps it in memory.</param>
    /// <param name="progress">Told of every step and every finished epoch.</param>
    /// <param name="cancellationToken">Stops between steps; the last whole epoch's checkpoint is kept.</param>
    /// <param name="spec">The prior's architecture; null: the reference's for this VQ-VAE.</param>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    public static PriorTrainingResult Fit(VqVae model, float[] train, int trainCount, float[] test, int testCount, TrainingOptions options,
        string? directory = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, PriorSpec? spec = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        spec ??= new PriorSpec { CodebookSize = model.CodebookSize, Height = model.GridHeight, Width = model.GridWidth };
        if (spec.CodebookSize != model.CodebookSize || spec.Height != model.GridHeight || spec.Width != model.GridWidth)
            throw new ArgumentException($"the prior's {spec.CodebookSize} codes on a {spec.Height}x{spec.Width} grid do not fit the VQ-VAE's {model.CodebookSize} codes on {model.GridHeight}x{model.GridWidth}", nameof(spec));
        var random = SeededRandom.Create(options.Rng, options.Seed);
        var state = new State(new PixelCnnPrior(spec, model.Quantizer.Codebook.Backend, random), options, random, []);
        return Run(model, state, train, trainCount, test, testCount, directory, progress, cancellationToken);
    }

    /// <summary>
    /// Continues the prior run in <paramref name="directory"/> from its <see cref="CheckpointFile"/> (same VQ-VAE, same data).
    /// </summary>
    /// <param name="model">The VQ-VAE of that directory.</param>
    /// <param name="directory">The model directory.</param>
    /// <param name="train">The same training rows.</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">The same test rows.</param>
    /// <param name="testCount">Number of test rows.</param>
    /// <param name="epochs">A new target; null finishes the run's own.</param>
    /// <param name="progress">Told of every step and every finished epoch.</param>
    /// <param name="cancellationToken">Stops between steps.</param>
    /// <exception cref="FileNotFoundException">No checkpoint.</exception>
    /// <exception cref="SafeTensorsFormatException">The checkpoint is corrupt, not a prior checkpoint, or made for other VQ-VAE weights.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> is fewer than the epochs done.</exception>
    public static PriorTrainingResult Resume(VqVae model, string directory, float[] train, int trainCount, float[] test, int testCount,
        int? epochs = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        string path = Path.Combine(directory, CheckpointFile);
        var file = SafeTensors.Read(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue(Checkpoint.ContentKey, out var content) || content != CheckpointContent)
            throw new SafeTensorsFormatException($"{path}: is not a prior checkpoint (metadata \"{Checkpoint.ContentKey}\" is not '{CheckpointContent}')");
        string Require(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new SafeTensorsFormatException($"{path}: prior checkpoint metadata has no \"{key}\"; the file is incomplete");
        if (Require("vqvae_sha256") != WeightsFingerprint(model))
            throw new SafeTensorsFormatException($"{path}: was written for other VQ-VAE weights (the model was trained again since); start the prior afresh with --overwrite");
        TrainingOptions options;
        List<EpochMetrics> history;
        try
        {
            options = RunJson.ReadOptions(Require("training_options"));
            options.Validate();
            history = RunJson.ReadHistory(Require("history"));
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new SafeTensorsFormatException($"{path}: invalid prior checkpoint metadata ({e.Message.ReplaceLineEndings(" ")})");
        }
        var spec = PriorSpec.FromJson(Require("prior_spec"), path + " (prior_spec)");
        if (!int.TryParse(Require("epoch"), NumberStyles.None, CultureInfo.InvariantCulture, out int epoch) || epoch != history.Count
            || !int.TryParse(Require("optimizer_step"), NumberStyles.None, CultureInfo.InvariantCulture, out int steps))
            throw new SafeTensorsFormatException($"{path}: epoch, step count and history of the prior checkpoint do not agree");
        int target = epochs ?? Math.Max(options.Epochs, epoch);
        if (target < epoch) throw new ArgumentOutOfRangeException(nameof(epochs), $"epochs ({target}) is fewer than the {epoch} epochs the prior checkpoint has already trained");
        options = options with { Epochs = target };
        var random = SeededRandom.Create(options.Rng, options.Seed);
        var state = new State(new PixelCnnPrior(spec, model.Quantizer.Codebook.Backend, random), options, random, history);
        var expected = new List<string>();
        foreach (var (name, p) in state.Prior.NamedParameters())
        {
            var data = file.Require(name, p.Shape.ToArray()).Data;
            ModelStore.RequireFinite(path, name, data);
            p.CopyFrom(data);
            expected.Add(name);
        }
        foreach (var (name, t) in state.Optimizer.StateTensors())
        {
            var data = file.Require(Checkpoint.OptimizerPrefix + name, t.Shape.ToArray()).Data;
            t.CopyFrom(data);
            expected.Add(Checkpoint.OptimizerPrefix + name);
        }
        if (file.Names.Except(expected).Any())
            throw new SafeTensorsFormatException($"{path}: holds tensors this prior does not have; it belongs to a different run");
        state.Optimizer.RestoreStepCount(steps);
        var words = Require("rng").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var rng = new uint[words.Length];
        for (int i = 0; i < words.Length; i++)
            if (!uint.TryParse(words[i], NumberStyles.None, CultureInfo.InvariantCulture, out rng[i]))
                throw new SafeTensorsFormatException($"{path}: prior checkpoint metadata \"rng\" is not a generator state");
        if (!SeededRandom.IsState(rng, options.Rng)) throw new SafeTensorsFormatException($"{path}: prior checkpoint metadata \"rng\" is not a {options.Rng} generator state");
        random.SetState(rng);
        return Run(model, state, train, trainCount, test, testCount, directory, progress, cancellationToken);
    }

    /// <summary>Loads the prior saved in model directory <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">The directory has no trained prior.</exception>
    /// <exception cref="SafeTensorsFormatException">The file is corrupt or not a prior.</exception>
    public static PixelCnnPrior Load(string directory, IBackend backend)
    {
        string path = Path.Combine(directory, WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found; train the prior first (`neuralcore train-prior --model {directory}` or PriorTraining.Fit)", path);
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue(Checkpoint.ContentKey, out var content) || content != PriorContent || !file.Metadata.TryGetValue("prior_spec", out var json))
            throw new SafeTensorsFormatException($"{path}: is not a prior written by PriorTraining (metadata \"{Checkpoint.ContentKey}\" is not '{PriorContent}')");
        var prior = new PixelCnnPrior(PriorSpec.FromJson(json, path + " (prior_spec)"), backend, new SeededRandom(0));
        ModelStore.LoadWeights(prior, file);
        return prior;
    }

    /// <summary>Writes <paramref name="prior"/> as <see cref="WeightsFile"/> into <paramref name="directory"/> (atomically).</summary>
    public static void Save(PixelCnnPrior prior, string directory)
    {
        ArgumentNullException.ThrowIfNull(prior);
        Directory.CreateDirectory(directory);
        SafeTensors.Write(Path.Combine(directory, WeightsFile),
            prior.NamedParameters().Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.ToArray())).ToList(),
            new Dictionary<string, string> { [Checkpoint.ContentKey] = PriorContent, ["prior_spec"] = prior.Spec.ToJson() });
    }

    private sealed class State
    {
        public State(PixelCnnPrior prior, TrainingOptions options, SeededRandom random, List<EpochMetrics> history)
        {
            Prior = prior; Options = options; Random = random; History = history;
            var parameters = prior.TrainableParameters();
            Optimizer = options.Optimizer switch
            {
                "adamw" => new AdamW(parameters, options.LearningRate, weightDecay: options.WeightDecay),
                "sgd" => new Sgd(parameters, options.LearningRate, options.Momentum, options.WeightDecay),
                _ => new Adam(parameters, options.LearningRate, weightDecay: options.WeightDecay),
            };
        }
        public PixelCnnPrior Prior { get; }
        public TrainingOptions Options { get; }
        public SeededRandom Random { get; }
        public Optimizer Optimizer { get; }
        public List<EpochMetrics> History { get; }
    }

    /// <summary>A fingerprint of the VQ-VAE's weights: a prior checkpoint only resumes on the codes it was trained on.</summary>
    private static string WeightsFingerprint(VqVae model)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (_, p) in model.NamedParameters())
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.ToArray().AsSpan()));
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static PriorTrainingResult Run(VqVae model, State state, float[] train, int trainCount, float[] test, int testCount,
        string? directory, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (trainCount <= 0) throw new ArgumentOutOfRangeException(nameof(trainCount), "the prior needs at least one training row");
        int cells = model.Cells;
        // the frozen VQ-VAE's codes, once: the prior trains on integers, stored as floats so the usual loader shuffles them
        var trainCodes = model.CodesOf(train, trainCount).Select(c => (float)c).ToArray();
        var testCodes = testCount > 0 ? model.CodesOf(test, testCount) : [];
        string fingerprint = WeightsFingerprint(model);
        var options = state.Options;
        var prior = state.Prior;
        var loader = new MiniBatchLoader(trainCodes, trainCount, cells, options.BatchSize, state.Random);
        var batch = new float[loader.BatchSize * cells];
        var ints = new int[loader.BatchSize * cells];
        string? checkpointPath = directory == null ? null : Path.Combine(directory, CheckpointFile);
        while (state.History.Count < options.Epochs)
        {
            int epoch = state.History.Count + 1;
            prior.Train();
            loader.StartEpoch();
            var clock = Stopwatch.StartNew();
            double sum = 0;
            int seen = 0, step = 0;
            while (loader.TryNextBatch(batch, out int rows))
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (int i = 0; i < rows * cells; i++) ints[i] = (int)batch[i];
                using (TensorScope.Begin())
                {
                    state.Optimizer.ZeroGrad();
                    var loss = prior.Loss(ints.AsSpan(0, rows * cells));
                    loss.Backward();
                    float value = loss.Item();
                    if (!(value <= Trainer.DivergedLoss))
                        throw new TrainingDivergedException($"prior loss became {value.ToString(CultureInfo.InvariantCulture)} at epoch {epoch}, step {step + 1}; lower the learning rate (now {options.LearningRate})");
                    state.Optimizer.Step();
                    sum += value * rows;
                }
                seen += rows;
                step++;
                progress?.Report(new TrainingProgress(options.Epochs, new StepProgress(epoch, step, loader.BatchesPerEpoch, sum / seen, seen / clock.Elapsed.TotalSeconds), null));
            }
            double seconds = clock.Elapsed.TotalSeconds;
            double testNll = testCount > 0 ? prior.Nll(testCodes) : 0;
            var metrics = new EpochMetrics(epoch, sum / seen, testNll, testNll, 0, seconds, seen / seconds);
            state.History.Add(metrics);
            if (checkpointPath != null) SaveCheckpoint(checkpointPath, state, fingerprint);
            progress?.Report(new TrainingProgress(options.Epochs, null, metrics));
        }
        double final = testCount > 0 ? prior.Nll(testCodes) : 0;
        if (directory != null)
        {
            Save(prior, directory);
            var json = new System.Text.Json.Nodes.JsonObject
            {
                ["codebook_size"] = prior.Spec.CodebookSize,
                ["grid"] = $"{prior.Spec.Height}x{prior.Spec.Width}",
                ["test_nll_nats_per_code"] = final,
                ["test_bits_per_image"] = final * cells / Math.Log(2),
                ["training_options"] = RunJson.ToNode(options),
                ["history"] = RunJson.ToNode(state.History),
            };
            AtomicFile.WriteJson(Path.Combine(directory, MetricsFile), w => json.WriteTo(w));
        }
        return new PriorTrainingResult(prior, state.History, final, directory);
    }

    private static void SaveCheckpoint(string path, State state, string fingerprint)
    {
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        foreach (var (name, p) in state.Prior.NamedParameters()) tensors.Add((name, p.Shape.ToArray(), p.ToArray()));
        foreach (var (name, t) in state.Optimizer.StateTensors()) tensors.Add((Checkpoint.OptimizerPrefix + name, t.Shape.ToArray(), t.ToArray()));
        var metadata = new Dictionary<string, string>
        {
            [Checkpoint.ContentKey] = CheckpointContent,
            ["epoch"] = state.History.Count.ToString(CultureInfo.InvariantCulture),
            ["optimizer_step"] = state.Optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["rng"] = string.Join(' ', state.Random.GetState()),
            ["training_options"] = JsonSerializer.Serialize(state.Options, RunJson.Default.TrainingOptions),
            ["prior_spec"] = state.Prior.Spec.ToJson(),
            ["history"] = JsonSerializer.Serialize([.. state.History], RunJson.Default.ListEpochMetrics),
            ["vqvae_sha256"] = fingerprint,
        };
        SafeTensors.Write(path, tensors, metadata);
    }
}
