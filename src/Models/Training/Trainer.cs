using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Layers;
using NeuralCore.Models.Optimizers;

namespace NeuralCore.Models.Training;

/// <summary>How a model is trained (defaults match PyTorch's reference: Adam 1e-3, batch 128). A record, so a
/// variant is <c>options with { Epochs = 20 }</c>. With the model's <see cref="ModelSpec"/> it makes a run's
/// <see cref="RunSettings"/>; run files name each option in snake case (<c>weight_decay</c>), the batch size
/// <c>batch</c> and the learning rate <c>lr</c>.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training rows (0 or more; default 10).</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Rows per mini-batch (default 128); the last batch of an epoch may be smaller.</summary>
    [JsonPropertyName("batch")]
    public int BatchSize { get; init; } = 128;
    /// <summary>Step size of the optimizer (positive; default 1e-3).</summary>
    [JsonPropertyName("lr")]
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Seed of the initial weights, the batch order and the training noise (default 0).</summary>
    public ulong Seed { get; init; }
    /// <summary>"adam", "adamw" or "sgd".</summary>
    public string Optimizer { get; init; } = "adam";
    /// <summary>Weight decay: L2 added to the gradient for adam and sgd, decoupled for adamw (default 0).</summary>
    public float WeightDecay { get; init; }
    /// <summary>Momentum of sgd (default 0.9; ignored by adam and adamw).</summary>
    public float Momentum { get; init; } = 0.9f;
    /// <summary>
    /// The generator of initial weights, batch order and noise. <see cref="RandomAlgorithm.PyTorch"/> (default): one
    /// stream like PyTorch's after <c>torch.manual_seed(Seed)</c>, drawn in PyTorch's order (weights layer by layer,
    /// then per epoch a <c>randperm</c>, per step the noise), so a run starts where the same model written in PyTorch
    /// starts. <see cref="RandomAlgorithm.Xoshiro"/>: the engine's own independent streams per purpose.
    /// </summary>
    public RandomAlgorithm Rng { get; init; } = RandomAlgorithm.PyTorch;
    /// <summary>
    /// Shards each batch's gradient is computed in (1 to <see cref="Training.GradientShards.Max"/>; default 1): the
    /// batch's rows are cut into this many contiguous parts, each part's gradient is computed alone, and the parts'
    /// gradients are added in order (<see cref="IGradientReducer"/>). The sum does not depend on how many processes
    /// compute the parts, so a run on N processes (at most this many) ends bit-identical to one process with the same
    /// number; 1 computes each batch at once, as PyTorch does.
    /// </summary>
    [JsonPropertyName("grad_shards")]
    public int GradientShards { get; init; } = 1;

    /// <summary>Checks the settings; the exception's <see cref="ArgumentException.ParamName"/> is the property at fault.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A number is out of its range.</exception>
    /// <exception cref="ArgumentException"><see cref="Optimizer"/> is not a known name.</exception>
    public void Validate()
    {
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), $"TrainingOptions.Epochs must be 0 or more, got {Epochs}");
        if (BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"TrainingOptions.BatchSize must be positive, got {BatchSize}");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), $"TrainingOptions.LearningRate must be a positive number, got {LearningRate}");
        if (!(WeightDecay >= 0) || !float.IsFinite(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), $"TrainingOptions.WeightDecay must be 0 or a positive number, got {WeightDecay}");
        if (!(Momentum >= 0) || !float.IsFinite(Momentum))
            throw new ArgumentOutOfRangeException(nameof(Momentum), $"TrainingOptions.Momentum must be 0 or a positive number, got {Momentum}");
        if (Optimizer is not ("adam" or "adamw" or "sgd")) throw new ArgumentException($"unknown optimizer '{Optimizer}'; choose adam, adamw or sgd", nameof(Optimizer));
        if (GradientShards is < 1 or > Training.GradientShards.Max)
            throw new ArgumentOutOfRangeException(nameof(GradientShards), $"TrainingOptions.GradientShards must be 1 to {Training.GradientShards.Max}, got {GradientShards}");
    }
}

/// <summary>Figures of one epoch (losses per sample); run files name them in snake case (<c>train_loss</c>).</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TestLoss, double TestReconstruction, double TestKl, double Seconds,
    double SamplesPerSecond, [property: JsonPropertyName("grad_norms")] IReadOnlyDictionary<string, double>? GradientNorms = null)
{
    /// <summary>A VQ-VAE's codebook perplexity on the test rows (exp of the entropy of the code frequencies); null for other kinds.</summary>
    public double? Perplexity { get; init; }
    /// <summary>A VQ-VAE's number of codes the test rows use; null for other kinds.</summary>
    public int? CodesUsed { get; init; }
    /// <summary>A VQ-VAE's dead codes re-seeded during the epoch; null for other kinds.</summary>
    public int? Restarts { get; init; }
}

/// <summary>Progress of a step inside an epoch, for progress bars.</summary>
public readonly record struct StepProgress(int Epoch, int Step, int Steps, double RunningLoss, double SamplesPerSecond);

/// <summary>Test-set evaluation: losses per sample.</summary>
public readonly record struct Evaluation(double Loss, double Reconstruction, double Kl, int Count)
{
    /// <summary>A VQ-VAE's codebook perplexity on these rows; null for other kinds.</summary>
    public double? Perplexity { get; init; }
    /// <summary>A VQ-VAE's number of codes these rows use; null for other kinds.</summary>
    public int? CodesUsed { get; init; }
}

/// <summary>
/// Mini-batch training of an autoencoder on rows [count, features] in host memory: shuffles with a seed,
/// wraps every step in a <see cref="TensorScope"/> (no device memory grows), reads back one scalar per step.
/// </summary>
public sealed class Trainer
{
    private float[] _batch = [];
    // the sharded step: this process's shard vectors (parameter gradients then the loss), their fold, the batch's noise
    private ShardBuffers? _shardBuffers;
    private float[] _noise = [];
    // the sharded step computed at once: the sum's tensors and its segments (the tensors' memory, then the loss)
    private Tensor[]? _sumGrads;
    private Memory<float>[]? _sumSegments;
    private IGradientReducer _reducer = LocalGradientReducer.Instance;

    /// <summary>
    /// Builds <paramref name="spec"/>'s model with its initial weights drawn from the run's generator
    /// (<see cref="TrainingOptions.Rng"/>, <see cref="TrainingOptions.Seed"/>) and a trainer that goes on drawing from it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The model would need more than <see cref="MemoryLimit.MaxTrainingBytes"/> even
    /// with small batches (checked before any weight is allocated; the batch itself is checked when the rows are known).</exception>
    public static Trainer ForNewModel(ModelSpec spec, IBackend backend, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        spec.Validate();
        var random = SeededRandom.Create(options.Rng, options.Seed);
        return new Trainer(ModelFactory.Create(spec, backend, random), options, random);
    }

    /// <summary>A trainer for <paramref name="model"/>.</summary>
    /// <param name="model">The model, trained in place.</param>
    /// <param name="options">Settings of the run.</param>
    /// <param name="initRandom">
    /// With <see cref="RandomAlgorithm.PyTorch"/>, the generator the model's weights were drawn from; shuffling and
    /// noise continue it, as in PyTorch. When null, a fresh one is advanced by one draw per parameter (what PyTorch's
    /// default initialisation of the model uses). Ignored with <see cref="RandomAlgorithm.Xoshiro"/>.
    /// </param>
    public Trainer(Autoencoder model, TrainingOptions options, SeededRandom? initRandom = null)
    {
        options.Validate();
        Model = model;
        Options = options;
        var parameters = model.TrainableParameters();
        Optimizer = options.Optimizer switch
        {
            "adamw" => new AdamW(parameters, options.LearningRate, weightDecay: options.WeightDecay),
            "sgd" => new Sgd(parameters, options.LearningRate, options.Momentum, options.WeightDecay),
            _ => new Adam(parameters, options.LearningRate, weightDecay: options.WeightDecay),
        };
        if (options.Rng == RandomAlgorithm.PyTorch)
        {
            // One stream, consumed in PyTorch's order: initialisation, then per epoch randperm, per step the noise.
            if (initRandom is not { Algorithm: RandomAlgorithm.PyTorch })
            {
                initRandom = SeededRandom.PyTorch(options.Seed);
                for (long i = model.ParameterCount(); i > 0; i--) initRandom.NextUInt();
            }
            ShuffleRandom = NoiseRandom = initRandom;
        }
        else
        {
            // Separate, hashed streams: changing one (e.g. noise) does not change the others, and no seed reuses another seed's stream.
            ShuffleRandom = SeededRandom.ForStream(options.Seed, RandomStream.Shuffle);
            NoiseRandom = SeededRandom.ForStream(options.Seed, RandomStream.Noise);
        }
    }

    /// <summary>
    /// A loss above this (per batch in training, per sample on the test rows), like a NaN or infinite one, stops training
    /// as divergence: summed BCE or squared error of inputs scaled to [0, 1] stays many orders of magnitude below it,
    /// so such a model has blown up even while its loss is still a finite float.
    /// </summary>
    public const double DivergedLoss = 1e12;

    /// <summary>The model being trained (in place).</summary>
    public Autoencoder Model { get; }
    /// <summary>How the model is trained.</summary>
    public TrainingOptions Options { get; }
    /// <summary>The run's settings: the model's spec and <see cref="Options"/>.</summary>
    public RunSettings Settings => new(Model.Spec, Options);
    /// <summary>The optimizer built from <see cref="TrainingOptions.Optimizer"/>; its state is saved in checkpoints.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>Draws each epoch's batch order (with <see cref="RandomAlgorithm.PyTorch"/>, the same object as <see cref="NoiseRandom"/>).</summary>
    public SeededRandom ShuffleRandom { get; }
    /// <summary>Draws the training noise: denoising corruption, VAE samples.</summary>
    public SeededRandom NoiseRandom { get; }

    /// <summary>Epochs completed so far.</summary>
    public int EpochsDone { get; set; }

    /// <summary>When set, per-parameter gradient norms of the last step of each epoch are recorded.</summary>
    public bool LogGradients { get; set; }

    /// <summary>
    /// Sums each step's gradients over the processes that train the model together (default: this process alone).
    /// With another reducer, or with <see cref="TrainingOptions.GradientShards"/> above 1, every batch is computed in
    /// shards and this process computes only its own (<see cref="GradientShards.Owned"/>).
    /// </summary>
    public IGradientReducer GradientReducer
    {
        get => _reducer;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.WorldSize < 1 || value.Rank < 0 || value.Rank >= value.WorldSize)
                throw new ArgumentException($"the reducer's rank {value.Rank} of {value.WorldSize} processes is not a valid rank", nameof(value));
            _reducer = value;
        }
    }

    /// <summary>Training rows whose loss and gradient this process has computed (its share of every batch), over the trainer's life.</summary>
    public long RowsComputed { get; private set; }

    /// <summary>Whether a process computes its shards as one batch where it can (<see cref="GroupedGradient"/>; the same
    /// bits as shard by shard, which tests compare it with).</summary>
    internal bool ShardsAtOnce { get; set; } = true;

    /// <summary>Steps whose shards this process computed at once (for tests).</summary>
    internal long StepsAtOnce { get; private set; }

    private bool Sharded => Options.GradientShards > 1 || _reducer.WorldSize > 1;

    /// <summary>Trains one epoch over <paramref name="train"/> and evaluates on <paramref name="test"/>.</summary>
    /// <param name="train">Training rows [trainCount, features].</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">Test rows [testCount, features].</param>
    /// <param name="testCount">Number of test rows; 0 skips the evaluation.</param>
    /// <param name="progress">Called after every step.</param>
    /// <param name="cancellationToken">Checked before every step. After a cancellation the trainer is in the middle of
    /// an epoch; continue from a checkpoint of a whole epoch, not from this trainer.</param>
    /// <exception cref="TrainingDivergedException">The loss became NaN, infinite or larger than <see cref="DivergedLoss"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A batch of this many rows would need more than <see cref="MemoryLimit.MaxTrainingBytes"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public EpochMetrics RunEpoch(float[] train, int trainCount, float[] test, int testCount, Action<StepProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        int features = Model.Spec.InputFeatures;
        var loader = new MiniBatchLoader(train, trainCount, features, Options.BatchSize, ShuffleRandom);
        // the rows in flight are the batch capped at the rows there are, in training and in the evaluation that follows
        Model.Spec.ValidateTrainingMemory(Math.Max(loader.BatchSize, Math.Min(Options.BatchSize, testCount)));
        // sized by the loader, which caps the batch at the rows there are: a huge BatchSize needs no huge buffer
        if (_batch.Length < loader.BatchSize * features) _batch = new float[loader.BatchSize * features];
        var backend = Model.Parameters()[0].Backend;
        int epoch = EpochsDone + 1;
        Model.Train();
        int restartsBefore = (Model as VqVae)?.Quantizer.Restarts ?? 0;
        loader.StartEpoch();
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int seen = 0, step = 0;
        Dictionary<string, double>? norms = null;
        while (loader.TryNextBatch(_batch, out int rows))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (TensorScope.Begin())
            {
                float loss;
                if (Sharded) loss = ShardedGradient(rows, features, backend);
                else
                {
                    var x = Tensor.FromArray(backend, _batch.AsSpan(0, rows * features), new Shape(rows, features));
                    Optimizer.ZeroGradDeferred();
                    var parts = Model.ComputeLoss(x, NoiseRandom);
                    parts.Total.Backward();
                    loss = parts.Total.Item();
                    RowsComputed += rows;
                }
                if (!(loss <= DivergedLoss))   // NaN, an infinity, or a loss no model that is learning reaches
                    throw new TrainingDivergedException(
                        $"loss became {loss.ToString(CultureInfo.InvariantCulture)} at epoch {epoch}, step {step + 1}; lower the learning rate (TrainingOptions.LearningRate, now {Options.LearningRate}) or check the input scaling");
                Optimizer.Step();
                lossSum += loss;
                seen += rows;
                step++;
                if (LogGradients && step == loader.BatchesPerEpoch) norms = GradientNorms();
            }
            progress?.Invoke(new StepProgress(epoch, step, loader.BatchesPerEpoch, lossSum / seen, seen / clock.Elapsed.TotalSeconds));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        EpochsDone = epoch;
        var eval = testCount > 0 ? EvaluateTest(test, testCount, Options.BatchSize) : default;
        if (testCount > 0 && !(eval.Loss <= DivergedLoss))   // finite training losses can still leave weights that overflow on other rows
            throw new TrainingDivergedException(
                $"test loss became {eval.Loss.ToString(CultureInfo.InvariantCulture)} after epoch {epoch}; lower the learning rate (TrainingOptions.LearningRate, now {Options.LearningRate}) or check the input scaling");
        return new EpochMetrics(epoch, lossSum / Math.Max(1, seen), eval.Loss, eval.Reconstruction, eval.Kl, seconds, seen / seconds, norms)
        {
            Perplexity = eval.Perplexity,
            CodesUsed = eval.CodesUsed,
            Restarts = Model is VqVae vq ? vq.Quantizer.Restarts - restartsBefore : null,
        };
    }

    /// <summary>
    /// The gradient of the batch in <c>_batch</c> computed shard by shard: draws the whole batch's noise (as the
    /// unsharded step does, so the generators advance alike), computes this process's shards one at a time, each into
    /// gradient tensors of its own, lets the reducer fold every process's shards in order, and leaves the sum in the
    /// parameters' gradients. Returns the batch's loss, the fold of the shards' losses.
    /// </summary>
    private float ShardedGradient(int rows, int features, IBackend backend)
    {
        // A VQ-VAE's EMA codebook and dead-code restarts update from each whole batch inside the forward pass, which
        // shards would split (and processes would each apply differently).
        if (Model is VqVae)
            throw new NotSupportedException("a VQ-VAE trains with one gradient shard in one process (TrainingOptions.GradientShards = 1, no reducer)");
        int shards = Options.GradientShards;
        var (first, count) = GradientShards.Owned(shards, _reducer.Rank, _reducer.WorldSize);
        var parameters = Model.Parameters();
        int perRow = Model.TrainingNoisePerRow;
        if (_noise.Length < rows * perRow) _noise = new float[rows * perRow];
        if (perRow > 0) Model.DrawTrainingNoise(NoiseRandom, _noise.AsSpan(0, rows * perRow));
        if (ShardsAtOnce && backend.ComputesRowGroups && IsRowWise(Model) && ShardsVectorise(rows, shards, first, count))
            return GroupedGradient(rows, features, backend, first, count);
        if (_shardBuffers == null || !_shardBuffers.Fits(parameters, count, first == 0, backend))
            _shardBuffers = new ShardBuffers(parameters, count, first == 0, backend);
        var buffers = _shardBuffers;
        using var weights = count > 1 ? HoldWeights(Model) : null;
        for (int k = 0; k < count; k++)
        {
            // each shard's gradients start at zero, in tensors of their own, so that the shards stay apart for the fold
            // without a copy; the zero is deferred, so that backward writes most of them instead of adding to zeros
            var grads = buffers.Shards[k];
            for (int i = 0; i < parameters.Count; i++)
            {
                parameters[i].Grad = grads[i];
                parameters[i].ZeroGradDeferred();
            }
            var (start, n) = GradientShards.Rows(rows, shards, first + k);
            float loss = 0f;   // an empty shard (a last batch smaller than the shard count) adds zeros
            if (n > 0)
                using (TensorScope.Begin())
                {
                    var x = Tensor.FromArray(backend, _batch.AsSpan(start * features, n * features), new Shape(n, features));
                    var parts = Model.ComputeLoss(x, _noise.AsSpan(start * perRow, n * perRow));
                    parts.Total.Backward();
                    loss = parts.Total.Item();
                }
            foreach (var p in parameters) p.SettleGrad();   // those backward did not reach (all of them for an empty shard)
            buffers.Loaded(k, loss);
            RowsComputed += n;
        }
        _reducer.Reduce(buffers.Sum, GradientShards.FoldOnto(buffers.Local, buffers.Sum), Optimizer.StepCount + 1L);
        buffers.Unload();
        for (int i = 0; i < parameters.Count; i++) parameters[i].Grad = buffers.SumGrads[i];
        return buffers.Loss;
    }

    /// <summary>
    /// This process's shards of the batch in <c>_batch</c> computed at once, as one batch of their rows in
    /// <see cref="RowGroups"/> (one group per shard): the forward pass and the products that carry the rows through the
    /// layers are row-wise, so they have the bits of each shard computed alone, and the loss and the parameters'
    /// gradients (sums over the rows) are kept apart per shard. The gradients are not written per shard: the reducer
    /// has each one computed into the sum tensor on top of the other processes' shards before this process's, each
    /// shard's sum added in shard order, which is the fold of the shards' own gradients. So the bits are those of
    /// <see cref="ShardedGradient"/>'s shard-by-shard path, at the cost of one pass over the rows and no shard copies.
    /// </summary>
    private float GroupedGradient(int rows, int features, IBackend backend, int first, int count)
    {
        var parameters = Model.Parameters();
        if (_sumGrads == null || _sumGrads.Length != parameters.Count || _sumGrads.Zip(parameters).Any(g => g.First.Shape != g.Second.Shape))
        {
            _sumGrads = parameters.Select(p => ShardBuffers.NewGradient(backend, p)).ToArray();
            _sumSegments = _sumGrads.Select(g => g.Buffer.HostMemory).Append(new float[1]).ToArray();
        }
        int shards = Options.GradientShards, perRow = Model.TrainingNoisePerRow;
        int rowStart = GradientShards.Rows(rows, shards, first).Start;
        var starts = new int[count + 1];
        for (int k = 0; k <= count; k++)
            starts[k] = (first + k < shards ? GradientShards.Rows(rows, shards, first + k).Start : rows) - rowStart;
        int local = starts[count];
        var losses = new float[Math.Max(count, 1)];   // an empty shard's loss is 0, as in the shard-by-shard path
        using var groups = RowGroups.Begin(starts);
        if (local > 0)
        {
            foreach (var p in parameters) p.Grad = null;   // so that a gradient written outside the groups shows
            var x = Tensor.FromArray(backend, _batch.AsSpan(rowStart * features, local * features), new Shape(local, features));
            var total = Model.ComputeLoss(x, _noise.AsSpan(rowStart * perRow, local * perRow)).Total;
            total.Backward(Tensor.Ones(backend, count));
            total.ToArray().CopyTo(losses, 0);
            for (int k = 0; k < count; k++)
                if (starts[k + 1] == starts[k]) losses[k] = 0f;
            foreach (var p in parameters)
                if (p.Grad != null || !groups.HasGradient(p))
                    throw new InvalidOperationException($"{Model.Spec.Kind}: a parameter's gradient does not sum over the rows by row groups; the model cannot compute its shards at once");
            RowsComputed += local;
        }
        StepsAtOnce++;
        var sums = _sumSegments!;
        _reducer.Reduce(sums, (segment, accumulate) =>
        {
            if (segment < parameters.Count)
            {
                if (local > 0) groups.ApplyGradient(parameters[segment], _sumGrads[segment], accumulate);
                else GradientShards.AddZeros(sums[segment].Span, accumulate);   // this process's shards are all empty
                return;
            }
            var loss = sums[segment].Span;   // count >= 1: there are no more processes than shards
            float sum = accumulate ? loss[0] + losses[0] : losses[0];
            for (int k = 1; k < count; k++) sum += losses[k];
            loss[0] = sum;
        }, Optimizer.StepCount + 1L);
        for (int i = 0; i < parameters.Count; i++) parameters[i].Grad = _sumGrads[i];
        return sums[^1].Span[0];
    }

    /// <summary>
    /// Whether each of this process's shards that has rows gives every elementwise op at least 4 values (its rows
    /// times the narrowest layer). The CPU's elementwise kernels compute fewer values than a vector of 4 one at a time
    /// with the scalar library functions, whose exp or log can differ in the last bit from the vector formulas that
    /// compute the same values inside a larger batch.
    /// </summary>
    private bool ShardsVectorise(int rows, int shards, int first, int count)
    {
        var spec = Model.Spec;
        int narrowest = Math.Min(spec.InputFeatures, Math.Min(spec.Latent, spec.Hidden.DefaultIfEmpty(int.MaxValue).Min()));
        for (int k = first; k < first + count; k++)
        {
            int n = GradientShards.Rows(rows, shards, k).Count;
            if (n > 0 && (long)n * narrowest < System.Runtime.Intrinsics.Vector128<float>.Count) return false;
        }
        return true;
    }

    /// <summary>
    /// Whether every layer of <paramref name="module"/> treats the rows of a batch apart (fully connected layers and
    /// elementwise activations), so that <see cref="GroupedGradient"/> can compute shards at once. Convolutions and a
    /// VQ-VAE's quantiser are left to the shard-by-shard path.
    /// </summary>
    private static bool IsRowWise(Module module) =>
        module is Linear or ReLU or LeakyReLU or Sigmoid or Tanh or Sequential or Autoencoder && module is not VqVae
        && module.Children().All(c => IsRowWise(c.Module));

    /// <summary>
    /// A process's gradient shards as the reducer sees them: per local shard one gradient tensor per parameter and the
    /// shard's loss, as segments; the sum's segments. On a CPU backend the segments are the tensors' own memory; on a
    /// device they are host copies. The process holding shard 0 folds in place into that shard's tensors.
    /// </summary>
    private sealed class ShardBuffers
    {
        public readonly Tensor[][] Shards;              // [local shard][parameter]
        public readonly Tensor[] SumGrads;              // [parameter]: where the sum ends up
        public readonly Memory<float>[][] Local;        // [local shard][parameter segments..., loss]
        public readonly Memory<float>[] Sum;
        private readonly bool _host;
        private readonly IBackend _backend;

        public ShardBuffers(IReadOnlyList<Tensor> parameters, int count, bool head, IBackend backend)
        {
            _backend = backend;
            Shards = new Tensor[count][];
            for (int k = 0; k < count; k++) Shards[k] = parameters.Select(p => NewGradient(backend, p)).ToArray();
            SumGrads = head && count > 0 ? Shards[0] : parameters.Select(p => NewGradient(backend, p)).ToArray();
            _host = SumGrads.Concat(Shards.SelectMany(g => g)).All(g => !g.Buffer.HostMemory.IsEmpty);
            Local = Shards.Select(Segments).ToArray();
            Sum = head && count > 0 ? Local[0] : Segments(SumGrads);
        }

        public bool Fits(IReadOnlyList<Tensor> parameters, int count, bool head, IBackend backend)
        {
            if (backend != _backend || Shards.Length != count || ReferenceEquals(SumGrads, count > 0 ? Shards[0] : null) != head
                || SumGrads.Length != parameters.Count)
                return false;
            for (int i = 0; i < parameters.Count; i++)
                if (SumGrads[i].Shape != parameters[i].Shape) return false;
            return true;
        }

        public float Loss => Sum[^1].Span[0];

        /// <summary>Shard <paramref name="k"/> is computed: its loss goes in its last segment (and a device's gradients to the host).</summary>
        public void Loaded(int k, float loss)
        {
            var segments = Local[k];
            if (!_host)
                for (int i = 0; i < Shards[k].Length; i++) Shards[k][i].CopyTo(segments[i].Span);
            segments[^1].Span[0] = loss;
        }

        /// <summary>The sum is in <see cref="Sum"/>: a device's copy goes back into <see cref="SumGrads"/>.</summary>
        public void Unload()
        {
            if (_host) return;
            for (int i = 0; i < SumGrads.Length; i++) SumGrads[i].CopyFrom(Sum[i].Span);
        }

        private Memory<float>[] Segments(Tensor[] grads) =>
            grads.Select(g => _host ? g.Buffer.HostMemory : new float[g.Count]).Append(new float[1]).ToArray();

        public static Tensor NewGradient(IBackend backend, Tensor p)
        {
            var grad = Tensor.Parameter(backend, new float[p.Count], p.Shape);   // a tensor no scope disposes, as gradients are
            grad.RequiresGrad = false;
            return grad;
        }
    }

    /// <summary>
    /// <see cref="Evaluate"/> on the test rows, shared among the processes when there are several: each evaluates its
    /// contiguous range of batches (and draws, without using them, the other batches' randoms, so that its generator
    /// matches), and the batches' losses, gathered through the reducer, are added in batch order: the figures of one
    /// process, bit for bit, at a 1/N share of the work.
    /// </summary>
    internal Evaluation EvaluateTest(float[] test, int testCount, int batchSize)
    {
        if (_reducer.WorldSize == 1) return Evaluate(Model, test, testCount, batchSize, Options.Seed);
        int batches = (testCount + batchSize - 1) / batchSize;
        var (first, count) = GradientShards.Owned(batches, _reducer.Rank, _reducer.WorldSize);
        // one slot per batch and part; the slots of other processes' batches stay 0, so the fold copies each value
        var slots = new float[3 * batches];
        var random = SeededRandom.ForStream(Options.Seed, RandomStream.Evaluation);
        var skipped = Array.Empty<float>();
        using var weights = count > 1 ? HoldWeights(Model) : null;
        Model.ForEachBatch(test, testCount, Model.Spec.InputFeatures, batchSize, (x, start) =>
        {
            int batch = start / batchSize, rows = x.Shape[0];
            if (batch < first || batch >= first + count)
            {
                int draws = rows * Model.TrainingNoisePerRow;   // what the loss draws in eval mode: a VAE's eps
                if (skipped.Length < draws) skipped = new float[draws];
                Model.DrawTrainingNoise(random, skipped.AsSpan(0, draws));
                return;
            }
            var parts = Model.ComputeLoss(x, random);
            slots[3 * batch] = parts.Total.Item();
            slots[3 * batch + 1] = parts.Reconstruction.Item();
            if (parts.Kl != null) slots[3 * batch + 2] = parts.Kl.Item();
        });
        var sum = new float[slots.Length];
        Memory<float>[] sums = [sum];
        _reducer.Reduce(sums, GradientShards.FoldOnto([[slots]], sums), -EpochsDone);   // a step number no training step has: the processes still check they agree
        double total = 0, reconstruction = 0, kl = 0;
        for (int b = 0; b < batches; b++)
        {
            total += sum[3 * b];
            reconstruction += sum[3 * b + 1];
            kl += sum[3 * b + 2];
        }
        return new Evaluation(total / testCount, reconstruction / testCount, kl / testCount, testCount);
    }

    /// <summary>
    /// Tells the backend that the model's weights stay as they are (between the shards of a step, over the batches of
    /// an evaluation), so that what it derives from them, such as packed matrix operands, is derived once. Only worth
    /// it when the weights are read more than once: a kept packing is read back from further away in memory than
    /// one made just before the product.
    /// </summary>
    private static IDisposable HoldWeights(Autoencoder model)
    {
        var parameters = model.Parameters();
        return parameters[0].Backend.HoldConstant(parameters.Select(p => p.Buffer).ToArray());
    }

    /// <summary>L2 norm of each parameter's gradient, by parameter name.</summary>
    public Dictionary<string, double> GradientNorms()
    {
        var result = new Dictionary<string, double>();
        foreach (var (name, p) in Model.NamedParameters())
        {
            if (p.Grad == null) continue;
            double s = 0;
            foreach (float v in p.Grad.ToArray()) s += (double)v * v;
            result[name] = Math.Sqrt(s);
        }
        return result;
    }

    /// <summary>
    /// Loss per sample on <paramref name="data"/> in eval mode (no denoising corruption). A VAE samples its latent
    /// from a generator seeded by <paramref name="seed"/>, so the figure is reproducible.
    /// </summary>
    public static Evaluation Evaluate(Autoencoder model, float[] data, int count, int batchSize = 500, ulong seed = 0)
    {
        var random = SeededRandom.ForStream(seed, RandomStream.Evaluation);
        var quantizer = (model as VqVae)?.Quantizer;
        quantizer?.ResetUsage();
        double total = 0, recon = 0, kl = 0;
        using var weights = count > batchSize ? HoldWeights(model) : null;
        model.ForEachBatch(data, count, model.Spec.InputFeatures, batchSize, (x, _) =>
        {
            var parts = model.ComputeLoss(x, random);
            total += parts.Total.Item();
            recon += parts.Reconstruction.Item();
            if (parts.Kl != null) kl += parts.Kl.Item();
        });
        var evaluation = new Evaluation(total / count, recon / count, kl / count, count);
        if (quantizer == null) return evaluation;
        var usage = quantizer.Usage;
        return evaluation with { Perplexity = VectorQuantizer.Perplexity(usage), CodesUsed = usage.Count(u => u > 0) };
    }
}

/// <summary>
/// Training stopped because the loss became NaN or infinite. A <see cref="TrainingRun"/> keeps the checkpoint of
/// the last whole epoch (the message names it).
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception with a message naming the epoch, the step and the learning rate.</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception it adds to.</summary>
    public TrainingDivergedException(string message, Exception? innerException) : base(message, innerException) { }
}
