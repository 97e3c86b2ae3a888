using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Training;

/// <summary>
/// A resumable training run, as <c>neuralcore train</c> does it: trains up to <see cref="TrainingOptions.Epochs"/>,
/// atomically writes <c>checkpoint.safetensors</c> into the run directory after every epoch, and at the end writes
/// <c>model.safetensors</c>, <c>model.json</c> and <c>metrics.json</c> there.
/// <list type="bullet">
/// <item>Cancellation is checked between steps and throws <see cref="OperationCanceledException"/>; the checkpoint of
/// the last whole epoch stays on disk, and <see cref="Resume(string, IBackend, float[], int, float[], int, int?, IProgress{TrainingProgress}?, CancellationToken)"/>
/// continues from it.</item>
/// <item>A loss that becomes NaN or infinite throws <see cref="TrainingDivergedException"/> before that epoch's
/// checkpoint, so the last good one is kept.</item>
/// <item>A resumed run ends bit-identical to an uninterrupted one on a deterministic backend (CPU).</item>
/// <item>Of several processes training one model together (<see cref="Trainer.GradientReducer"/>), only process 0
/// writes files; the others train alike and return the same result.</item>
/// </list>
/// <code>
/// var run = TrainingRun.Fit(spec, backend, options, train, trainCount, test, testCount, "runs/vae", progress: progress, cancellationToken: token);
/// // after an interruption:
/// var resumed = TrainingRun.Resume("runs/vae", backend, train, trainCount, test, testCount);
/// </code>
/// </summary>
public static class TrainingRun
{
    // Checkpoint metadata entry recording Trainer.LogGradients, so that a resumed run goes on logging.
    private const string LogGradientsKey = "log_grads";

    /// <summary>Builds <paramref name="spec"/>'s model (see <see cref="Trainer.ForNewModel"/>) and trains it.</summary>
    /// <param name="spec">The model's architecture.</param>
    /// <param name="backend">Where it trains.</param>
    /// <param name="options">Settings of the run; <see cref="TrainingOptions.Epochs"/> is the number of epochs.</param>
    /// <param name="train">Training rows [trainCount, spec.InputFeatures].</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">Test rows [testCount, spec.InputFeatures], evaluated after every epoch and at the end.</param>
    /// <param name="testCount">Number of test rows (0: no evaluation).</param>
    /// <param name="runDirectory">Where checkpoint, model and metrics go (created when the first file is written); null keeps everything in memory.</param>
    /// <param name="metadata">
    /// The caller's entries for the checkpoint's metadata (e.g. where the data came from), returned by
    /// <see cref="Checkpoint.Extra"/>; the key <c>log_grads</c> is the run's own.
    /// </param>
    /// <param name="progress">Told of every step and of every finished epoch, on the training thread.</param>
    /// <param name="cancellationToken">Stops the run between steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model, the history and the final test evaluation.</returns>
    /// <exception cref="ArgumentException">An invalid spec or options (the parameter name is the property's).</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the last whole epoch's checkpoint is kept.</exception>
    public static TrainingRunResult Fit(ModelSpec spec, IBackend backend, TrainingOptions options,
        float[] train, int trainCount, float[] test, int testCount,
        string? runDirectory = null, IReadOnlyDictionary<string, string>? metadata = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Fit(Trainer.ForNewModel(spec, backend, options), train, trainCount, test, testCount, runDirectory, metadata, progress, cancellationToken);

    /// <summary>
    /// Trains a fresh <paramref name="trainer"/> (one that has done no epoch; e.g. built with
    /// <see cref="Trainer.ForNewModel"/> to show the model's size first, or with <see cref="Trainer.LogGradients"/> set).
    /// </summary>
    /// <param name="trainer">The trainer, with no epoch done; its options give the number of epochs.</param>
    /// <param name="train">Training rows [trainCount, features].</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">Test rows [testCount, features].</param>
    /// <param name="testCount">Number of test rows (0: no evaluation).</param>
    /// <param name="runDirectory">Where checkpoint, model and metrics go; null keeps everything in memory.</param>
    /// <param name="metadata">The caller's entries for the checkpoint's metadata (see <see cref="Checkpoint.Extra"/>).</param>
    /// <param name="progress">Told of every step and of every finished epoch, on the training thread.</param>
    /// <param name="cancellationToken">Stops the run between steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model, the history and the final test evaluation.</returns>
    /// <exception cref="ArgumentException">The trainer has already trained (continue a run with <c>Resume</c>).</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the last whole epoch's checkpoint is kept.</exception>
    public static TrainingRunResult Fit(Trainer trainer, float[] train, int trainCount, float[] test, int testCount,
        string? runDirectory = null, IReadOnlyDictionary<string, string>? metadata = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (trainer.EpochsDone != 0)
            throw new ArgumentException($"the trainer has already done {trainer.EpochsDone} epochs; continue a run from its checkpoint with TrainingRun.Resume", nameof(trainer));
        return Run(trainer, [], train, trainCount, test, testCount, runDirectory, metadata, progress, cancellationToken);
    }

    /// <summary>
    /// Continues the run in <paramref name="runDirectory"/> from its <c>checkpoint.safetensors</c> with the
    /// checkpoint's spec, options and metadata, on the same data.
    /// </summary>
    /// <param name="runDirectory">The run directory given to <c>Fit</c>.</param>
    /// <param name="backend">Where it trains (need not be the one that wrote the checkpoint).</param>
    /// <param name="train">The same training rows as the interrupted run.</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">The same test rows.</param>
    /// <param name="testCount">Number of test rows.</param>
    /// <param name="epochs">A new target number of epochs; null finishes the run's own target.</param>
    /// <param name="progress">Told of every step and of every finished epoch.</param>
    /// <param name="cancellationToken">Stops the run between steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model, the whole history (before and after the interruption) and the final test evaluation.</returns>
    /// <exception cref="FileNotFoundException">The directory has no checkpoint.</exception>
    /// <exception cref="IO.SafeTensorsFormatException">The checkpoint is corrupt or belongs to another program.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> is fewer than the epochs already done.</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the last whole epoch's checkpoint is kept.</exception>
    public static TrainingRunResult Resume(string runDirectory, IBackend backend, float[] train, int trainCount, float[] test, int testCount,
        int? epochs = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDirectory);
        var checkpoint = Checkpoint.Load(Path.Combine(runDirectory, Checkpoint.FileName));
        return Resume(checkpoint, runDirectory, backend, train, trainCount, test, testCount, epochs, progress, cancellationToken);
    }

    /// <summary>
    /// Continues a run from an already loaded <paramref name="checkpoint"/> (e.g. read first to find the run's data
    /// in <see cref="Checkpoint.Extra"/>); new checkpoints and the final files go to <paramref name="runDirectory"/>.
    /// </summary>
    /// <param name="checkpoint">The loaded checkpoint.</param>
    /// <param name="runDirectory">Where checkpoints and the final files go; null keeps them in memory.</param>
    /// <param name="backend">Where it trains.</param>
    /// <param name="train">The same training rows as the interrupted run.</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">The same test rows.</param>
    /// <param name="testCount">Number of test rows.</param>
    /// <param name="epochs">A new target number of epochs; null finishes the run's own target.</param>
    /// <param name="progress">Told of every step and of every finished epoch.</param>
    /// <param name="cancellationToken">Stops the run between steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model, the whole history and the final test evaluation.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> is fewer than the epochs already done.</exception>
    /// <exception cref="IO.SafeTensorsFormatException">The checkpoint's tensors do not fit its own model and optimiser.</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the last whole epoch's checkpoint is kept.</exception>
    public static TrainingRunResult Resume(Checkpoint checkpoint, string? runDirectory, IBackend backend, float[] train, int trainCount, float[] test, int testCount,
        int? epochs = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var settings = checkpoint.Settings;
        int target = epochs ?? Math.Max(settings.Options.Epochs, checkpoint.Epoch);
        if (target < checkpoint.Epoch)
            throw new ArgumentOutOfRangeException(nameof(epochs), $"epochs ({target}) is fewer than the {checkpoint.Epoch} epochs the checkpoint has already trained");
        var trainer = Trainer.ForNewModel(settings.Spec, backend, settings.Options with { Epochs = target });   // a resumed run may train longer
        return Continue(trainer, checkpoint, runDirectory, train, trainCount, test, testCount, progress, cancellationToken);
    }

    /// <summary>
    /// Continues a run from <paramref name="checkpoint"/> with a trainer the caller built from its settings (e.g. one
    /// given a <see cref="Trainer.GradientReducer"/> to train on several processes): restores the checkpoint into it and
    /// trains up to the trainer's <see cref="TrainingOptions.Epochs"/>.
    /// </summary>
    /// <param name="trainer">A fresh trainer of <c>checkpoint.Settings</c> (the number of epochs may differ; at least the checkpoint's).</param>
    /// <param name="checkpoint">The loaded checkpoint.</param>
    /// <param name="runDirectory">Where checkpoints and the final files go; null keeps them in memory.</param>
    /// <param name="train">The same training rows as the interrupted run.</param>
    /// <param name="trainCount">Number of training rows.</param>
    /// <param name="test">The same test rows.</param>
    /// <param name="testCount">Number of test rows.</param>
    /// <param name="progress">Told of every step and of every finished epoch.</param>
    /// <param name="cancellationToken">Stops the run between steps with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model, the whole history and the final test evaluation.</returns>
    /// <exception cref="ArgumentException">The trainer has already trained, or its settings are not the checkpoint's.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The trainer's epochs are fewer than the epochs already done.</exception>
    /// <exception cref="IO.SafeTensorsFormatException">The checkpoint's tensors do not fit its own model and optimiser.</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the last whole epoch's checkpoint is kept.</exception>
    public static TrainingRunResult Continue(Trainer trainer, Checkpoint checkpoint, string? runDirectory, float[] train, int trainCount, float[] test, int testCount,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (trainer.EpochsDone != 0)
            throw new ArgumentException($"the trainer has already done {trainer.EpochsDone} epochs; continue with a fresh trainer built from the checkpoint's settings", nameof(trainer));
        if (trainer.Model.Spec.ToJson() != checkpoint.Settings.Spec.ToJson()
            || trainer.Options with { Epochs = checkpoint.Settings.Options.Epochs } != checkpoint.Settings.Options)
            throw new ArgumentException($"the trainer's settings are not those of {checkpoint.Path}; build it from checkpoint.Settings", nameof(trainer));
        if (trainer.Options.Epochs < checkpoint.Epoch)
            throw new ArgumentOutOfRangeException(nameof(trainer), $"the trainer's epochs ({trainer.Options.Epochs}) are fewer than the {checkpoint.Epoch} epochs the checkpoint has already trained");
        trainer.LogGradients = checkpoint.Extra.TryGetValue(LogGradientsKey, out var logGradients) && logGradients == "true";
        checkpoint.Restore(trainer);
        return Run(trainer, [.. checkpoint.History], train, trainCount, test, testCount, runDirectory, checkpoint.Extra, progress, cancellationToken);
    }

    private static TrainingRunResult Run(Trainer trainer, List<EpochMetrics> history, float[] train, int trainCount, float[] test, int testCount,
        string? runDirectory, IReadOnlyDictionary<string, string>? metadata, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var model = trainer.Model;
        var options = trainer.Options;
        // of several processes training together, process 0 alone writes the run's files
        bool writes = runDirectory != null && trainer.GradientReducer.Rank == 0;
        string? checkpointPath = runDirectory == null ? null : Path.Combine(runDirectory, Checkpoint.FileName);
        var extra = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [LogGradientsKey] = trainer.LogGradients ? "true" : "false",
        };
        Action<StepProgress>? onStep = progress == null ? null : step => progress.Report(new TrainingProgress(options.Epochs, step, null));
        while (trainer.EpochsDone < options.Epochs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            EpochMetrics m;
            try { m = trainer.RunEpoch(train, trainCount, test, testCount, onStep, cancellationToken); }
            catch (TrainingDivergedException e) when (checkpointPath != null && history.Count > 0)
            {
                throw new TrainingDivergedException($"{e.Message}; the checkpoint of epoch {history.Count} is kept in {checkpointPath}", e);
            }
            history.Add(m);
            if (writes) Checkpoint.Save(checkpointPath!, trainer, history, extra);
            progress?.Report(new TrainingProgress(options.Epochs, null, m));
        }

        var final = testCount > 0 ? trainer.EvaluateTest(test, testCount, 500) : default;
        if (testCount > 0 && !(final.Loss <= Trainer.DivergedLoss))
            throw new TrainingDivergedException(
                $"final test loss is {final.Loss.ToString(System.Globalization.CultureInfo.InvariantCulture)}; the model is not saved; lower the learning rate (TrainingOptions.LearningRate, now {options.LearningRate}) or check the input scaling");
        foreach (var (name, parameter) in model.NamedParameters())
        {
            if (parameter.ToArray().Any(v => !float.IsFinite(v)))
                throw new TrainingDivergedException(
                    $"parameter '{name}' holds NaN or an infinity after training; the model is not saved; lower the learning rate (TrainingOptions.LearningRate, now {options.LearningRate}) or check the input scaling");
        }
        if (writes)
        {
            ModelStore.Save(model, runDirectory!);
            MetricsJson.Write(Path.Combine(runDirectory!, MetricsJson.FileName), trainer.Settings, history, final, trainer.GradientReducer.WorldSize);
        }
        return new TrainingRunResult(trainer, history, final, runDirectory);
    }
}
