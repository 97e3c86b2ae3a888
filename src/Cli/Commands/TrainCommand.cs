using System.CommandLine;
using System.Globalization;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore train</c>: trains an autoencoder and writes model, metrics and pictures.</summary>
internal static class TrainCommand
{
    private static readonly Option<string> Model = CommonOptions.ModelKind("vae");
    private static readonly TrainingOptionSet Training = new("passes over the training split", 10, 128, 1e-3f, minEpochs: 0);
    private static readonly Option<string> Optimizer = CliOption.String("--optimizer", "adam | adamw | sgd", "NAME", "adam");
    private static readonly Option<float> WeightDecay = CliOption.Float("--weight-decay", "L2 (adam, sgd) or decoupled (adamw) weight decay", 0f, 0f, 10f);
    private static readonly Option<int?> Latent = CliOption.OptionalInt("--latent", "embedding size",
        "20 for vae and conv-vae, 32 otherwise; tables: a quarter of the columns, at least 2", 1, SizeLimits.MaxLayerWidth);
    private static readonly Option<int[]?> Hidden = CliOption.OptionalIntList("--hidden", "MLP hidden layer sizes, e.g. 400 or 512,256", "400; tables 64");
    private static readonly Option<string?> Loss = CliOption.OptionalString("--loss", "bce (images) | mse (tables)", "NAME", "bce for images, mse for tables");
    private static readonly Option<float> Beta = CliOption.Float("--beta", "weight of the KL term of a VAE", 1f, 0f, 1000f);
    private static readonly Option<string> Init = CliOption.String("--init",
        "weight initialisation: pytorch (PyTorch's default) | kaiming | xavier", "NAME", "pytorch");
    private static readonly Option<string> Noise = CliOption.String("--noise", "denoising corruption: gaussian | masking", "NAME", "gaussian");
    private static readonly Option<float> NoiseLevel = CliOption.Float("--noise-level", "gaussian sigma or masking probability", 0.3f, 0f, 10f);
    private static readonly Option<RandomAlgorithm> Rng = CliOption.Of("--rng",
        "pytorch: draw as PyTorch does after torch.manual_seed(N), so the same model written in PyTorch starts from the same weights " +
        "and batch order | xoshiro: the engine's own independent stream per purpose", "NAME",
        (text, command) => RandomAlgorithmNames.TryParse(text, out var algorithm) ? algorithm
            : throw new CliException($"{command}: --rng must be {RandomAlgorithmNames.Choices}, got '{text}'", 2),
        () => RandomAlgorithm.PyTorch, "pytorch");
    private static readonly Option<int> CodebookSize = CliOption.Int("--codebook-size", "vqvae: number of codes K", 64, 2, VqSettings.MaxCodebookSize);
    private static readonly Option<int> CodeDim = CliOption.Int("--code-dim", "vqvae: dimension D of each code (the encoder's output channels)", 16, 1, VqSettings.MaxCodeDim);
    private static readonly Option<string> CodebookUpdate = CliOption.Choice("--codebook-update",
        "vqvae: ema (moving averages of the encoder outputs, no codebook loss) | loss (the codebook loss by gradient)", "NAME", ["ema", "loss"],
        (command, name) => $"{command}: --codebook-update must be ema or loss, got '{name}'", "ema");
    private static readonly Option<int> DeadCodeSteps = CliOption.Int("--dead-code-steps",
        "vqvae: re-seed a code from a random encoder output when no input chose it for this many steps (0: never)", 20, 0, 1_000_000);
    private static readonly Option<float> DeadCodeUsage = CliOption.Float("--dead-code-usage",
        "vqvae: a step counts towards --dead-code-steps when at most this share of the batch's cells chose the code (0: none)", 0.003f, 0f, 0.999f);
    private static readonly Option<float> Commitment = CliOption.Float("--commitment", "vqvae: weight beta of the commitment loss", 0.25f, 0f, 1000f);
    private static readonly Option<string?> Out = CliOption.OptionalString("--out", "output directory", "DIR", "runs/KIND");
    private static readonly Option<bool> LogGradients = CliOption.Flag("--log-grads",
        "record per-layer gradient norms every epoch (metrics.json, grad-norms.png)");
    private static readonly Option<bool> Quiet = CliOption.Flag("--quiet", "no progress output");
    private static readonly Option<bool> Overwrite = CliOption.Flag("--overwrite",
        "replace the run in --out DIR (its model, checkpoint, metrics and pictures); without it a directory holding a run is refused");
    private static readonly Option<int?> GradShards = CliOption.OptionalInt("--grad-shards",
        "compute each batch's gradient in S shards added in a fixed order; N processes under mpirun with the same S end " +
        "bit-identical to one process", $"1; {MpiLaunch.DefaultShards} under mpirun", 1, GradientShards.Max);
    private static readonly Option<string?> ResumeFrom = CliOption.OptionalString("--resume",
        "continue an interrupted run from DIR/checkpoint.safetensors with its settings (only --epochs, --device, --threads " +
        "and --quiet may be given; --epochs sets a new target)", "DIR");

    public static CliCommand Create() => new CliCommand("train", "train a model on the bundled MNIST, an IDX directory or a CSV table", Run)
    {
        Title = "train an autoencoder (AE, denoising AE, VAE or VQ-VAE; MLP or convolutional)",
        Usage = ["[--model KIND] [--data SOURCE] [--epochs N] [--out DIR] [options]", "--resume DIR [--epochs N]"],
        Notes = """
            writes DIR/checkpoint.safetensors after every epoch (weights, optimiser and generator state), then
            DIR/model.safetensors, DIR/model.json, DIR/metrics.json, DIR/loss.png, DIR/reconstructions.png
            (with the noisy inputs for denoising models) and DIR/samples.png for a VAE. DIR is locked while the run
            lasts (a second run on it is refused); a DIR that holds another run needs --overwrite.
            vqvae: a conv encoder to a (H/4)x(W/4) grid of --code-dim vectors, each replaced by its nearest of
            --codebook-size codes, and a conv decoder; each epoch line adds the codebook perplexity on the test split,
            the codes in use and the dead codes re-seeded; DIR/codebook-usage.png shows the code frequencies.
            Then `neuralcore train-prior --model DIR` and `neuralcore sample --model DIR` generate from its codes.
            Under `mpirun -np N` the N processes train one model, each computing its shards of every batch; rank 0
            writes DIR (docs/scaling.md).
            """,
    }.With([Model, .. CommonOptions.DataOptions, .. Training.All, Optimizer, WeightDecay, Latent, Hidden, Loss, Beta, Init, Noise,
        NoiseLevel, CodebookSize, CodeDim, CodebookUpdate, DeadCodeSteps, DeadCodeUsage, Commitment, CommonOptions.Seed, Rng, GradShards, Out, Overwrite, LogGradients, Quiet,
        .. CommonOptions.DeviceOptions, ResumeFrom]);

    private static readonly Option[] VqOptions = [CodebookSize, CodeDim, CodebookUpdate, DeadCodeSteps, DeadCodeUsage, Commitment];

    private static int Run(Args args)
    {
        var world = MpiLaunch.Join("train");
        if (args.Has(ResumeFrom)) return Resume(args, world);
        string kind = args.Get(Model);
        var options = Training.Read(args) with
        {
            Optimizer = args.Get(Optimizer), WeightDecay = args.Get(WeightDecay), Rng = args.Get(Rng),
            GradientShards = MpiLaunch.Shards("train", args.Get(GradShards), world),
        };
        try { options.Validate(); } catch (ArgumentException e) { throw new CliException("train: " + Cli.InCommandLineTerms(e), 2); }
        string outDir = args.Get(Out) ?? Path.Combine("runs", kind);
        bool writer = world == null || world.Rank == 0;   // of several processes, rank 0 alone writes the run
        if (writer) Outputs.Check("train", [new("--data", args.Get(CommonOptions.Data))], new Outputs.Output("--out", outDir, IsDirectory: true));
        bool quiet = args.Get(Quiet) || !writer;
        var backend = Devices.Open(args);
        var data = DataSource.Load(args, null, options.Seed);
        var provenance = Provenance(args.Get(CommonOptions.Data) ?? "mnist", args.Get(CommonOptions.Drop), args.Get(CommonOptions.LabelColumn));
        bool isTable = data.Columns != null;
        bool conv = kind.StartsWith("conv-", StringComparison.Ordinal);
        if (conv && data.ImageShape == null)
            throw new CliException($"train: --model {kind} needs image data; tables train with ae, dae or vae", 2);
        bool vq = kind == "vqvae";
        if (!vq && VqOptions.FirstOrDefault(args.Has) is { } vqOnly)
            throw new CliException($"train: {vqOnly.Name} belongs to --model vqvae, not {kind}", 2);
        if (vq) CheckVqArguments(args, data);
        if (vq && options.GradientShards > 1)
            throw new CliException("train: --model vqvae trains in one process with one gradient shard (its codebook updates and dead-code restarts follow each whole batch); run it without mpirun and --grad-shards", 2);
        int defaultLatent = isTable ? Math.Max(2, data.Features / 4) : kind.EndsWith("vae", StringComparison.Ordinal) ? 20 : 32;
        var vqSettings = vq ? new VqSettings
        {
            CodebookSize = args.Get(CodebookSize),
            CodeDim = args.Get(CodeDim),
            Update = args.Get(CodebookUpdate),
            DeadCodeSteps = args.Get(DeadCodeSteps),
            DeadCodeUsage = args.Get(DeadCodeUsage),
            Commitment = args.Get(Commitment),
            DataVariance = VqVae.Variance(data.Train.AsSpan(0, data.TrainCount * data.Features)),
        } : null;
        var spec = new ModelSpec
        {
            Kind = kind,
            InputFeatures = data.Features,
            ImageShape = data.ImageShape,
            Latent = vq ? args.Get(CodeDim) * (data.ImageShape![1] / 4) * (data.ImageShape[2] / 4) : args.Get(Latent) ?? defaultLatent,
            Hidden = args.Get(Hidden) ?? (isTable ? [64] : [400]),
            Vq = vqSettings,
            Loss = args.Get(Loss) ?? (isTable || vq ? "mse" : "bce"),
            Beta = args.Get(Beta),
            Init = args.Get(Init),
            Noise = args.Get(Noise),
            NoiseLevel = args.Get(NoiseLevel),
            Data = DataSource.AbsoluteSource(data.Description),
            DataSha256 = provenance["data_sha256"],
            Columns = data.Columns,
            Scaler = data.Scaler,
        };
        // a batch larger than the data trains as one batch of all rows
        int rowsAtOnce = Math.Min(options.BatchSize, Math.Max(data.TrainCount, data.TestCount));
        try { spec.ValidateTrainingMemory(rowsAtOnce); } catch (ArgumentException e) { throw new CliException("train: " + Cli.InCommandLineTerms(e), 2); }

        if (writer) OutputDirectory.EnsureWritable(outDir);
        using var runLock = writer ? RunDirectory.Lock(outDir) : null;
        if (writer) RunDirectory.PrepareForNewRun(outDir, args.Get(Overwrite));
        var trainer = Trainer.ForNewModel(spec, backend, options);
        trainer.LogGradients = args.Get(LogGradients);
        if (world != null) trainer.GradientReducer = world.CreateReducer();
        if (!quiet)
            Console.WriteLine($"training {kind} ({trainer.Model.ParameterCount():N0} parameters) on {data.Description}: {data.TrainCount} train / {data.TestCount} test rows, " +
                              $"{options.Epochs} epochs, batch {options.BatchSize}, {options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                              $"seed {options.Seed} ({(options.Rng == RandomAlgorithm.PyTorch ? "PyTorch's generator" : "xoshiro streams")}), device {backend.Name}" +
                              Processes(options, world));
        var progress = new ProgressBar(quiet);
        return Train(outDir, data, progress, world, args.Get(Quiet), trainer.EpochsDone,
            token => TrainingRun.Fit(trainer, data.Train, data.TrainCount, data.Test, data.TestCount, outDir, provenance, progress, token));
    }

    /// <summary>The opening line's end: the processes (world_size) and gradient shards, when either is above 1.</summary>
    private static string Processes(TrainingOptions options, Distributed.MpiWorld? world) =>
        world == null && options.GradientShards == 1 ? ""
            : $", world_size {world?.Size ?? 1} (gradient in {options.GradientShards} shards)";

    /// <summary>The options and data a vqvae refuses, each with the fix.</summary>
    private static void CheckVqArguments(Args args, Dataset data)
    {
        if (data.ImageShape is not { } image)
            throw new CliException("train: --model vqvae needs image data (MNIST or an IDX directory); tables train with ae, dae or vae", 2);
        if (image[1] % 4 != 0 || image[2] % 4 != 0)
            throw new CliException($"train: --model vqvae needs image sides divisible by 4, got {image[1]}x{image[2]}", 2);
        if (args.Has(Latent)) throw new CliException("train: --latent does not apply to --model vqvae; its code grid has --code-dim values per cell", 2);
        foreach (var option in new Option[] { Hidden, Beta, Noise, NoiseLevel, Init })
            if (args.Has(option)) throw new CliException($"train: {option.Name} does not apply to --model vqvae (a fixed conv architecture; see --codebook-size, --code-dim, --commitment)", 2);
        if (args.Get(Loss) is { } loss && loss != "mse")
            throw new CliException($"train: --model vqvae trains with --loss mse (a linear decoder output), got --loss {loss}", 2);
    }

    // Options a resumed run takes from its checkpoint; giving them with --resume is an error.
    private static readonly Option[] FixedWhenResuming =
        [Model, .. CommonOptions.DataOptions, Training.Batch, Training.LearningRate, Optimizer, WeightDecay, Latent, Hidden, Loss, Beta, Init, Noise,
         NoiseLevel, CodebookSize, CodeDim, CodebookUpdate, DeadCodeSteps, DeadCodeUsage, Commitment, CommonOptions.Seed, Rng, GradShards, Out, Overwrite, LogGradients];

    /// <summary>--resume DIR: rebuilds the run from DIR/checkpoint.safetensors and trains the remaining epochs.</summary>
    private static int Resume(Args args, Distributed.MpiWorld? world)
    {
        string dir = args.Get(ResumeFrom)!;
        foreach (var option in FixedWhenResuming)
            if (args.Has(option)) throw new CliException($"train: {option.Name} cannot be combined with --resume; a resumed run keeps its checkpoint's settings (only --epochs, --device, --threads and --quiet may be given)", 2);
        string path = Path.Combine(dir, Checkpoint.FileName);
        if (!File.Exists(path))
            throw new CliException($"{path}: not found; --resume needs the --out directory of a `neuralcore train` run that wrote a checkpoint");
        bool writer = world == null || world.Rank == 0;   // of several processes, rank 0 alone writes the run
        using var runLock = writer ? RunDirectory.Lock(dir) : null;   // before reading: a run still writing this checkpoint holds the lock
        var checkpoint = Checkpoint.Load(path);
        var settings = checkpoint.Settings;
        if (world != null && settings.Options.GradientShards < world.Size)
            throw new CliException($"train: {path} was trained with --grad-shards {settings.Options.GradientShards}, so it resumes on at most {settings.Options.GradientShards} processes, not {world.Size} (a run with S shards resumes to the same bits on 1 to S processes)", 2);
        int epochs = args.Has(Training.Epochs) ? args.Get(Training.Epochs) : Math.Max(settings.Options.Epochs, checkpoint.Epoch);
        if (epochs < 1) throw new CliException($"train: --epochs must be >= 1, got {epochs}", 2);
        if (epochs < checkpoint.Epoch)
            throw new CliException($"train: --epochs {epochs} is fewer than the {checkpoint.Epoch} epochs {path} has already trained; give --epochs {checkpoint.Epoch + 1} or more to continue, or leave --epochs out to finish the run", 2);
        bool quiet = args.Get(Quiet) || !writer;
        var backend = Devices.Open(args);
        var spec = settings.Spec;
        string Extra(string key) => checkpoint.Extra.TryGetValue(key, out var v) ? v : "";
        var data = DataSource.Load(Extra("data") is { Length: > 0 } source ? source : "mnist",
            Extra("drop").Split(',', StringSplitOptions.RemoveEmptyEntries), Extra("label_column") is { Length: > 0 } label ? label : null, null, settings.Options.Seed);
        if (Extra("data_sha256") is { Length: > 0 } sha256)
            DataSource.RequireUnchanged(Extra("data") is { Length: > 0 } trained ? trained : "mnist", sha256, $"{path}: the data of the run,",
                "resuming would continue on other rows; restore the original data, or start a new run without --resume");
        if (data.Features != spec.InputFeatures || data.Scaler?.ToJson() != spec.Scaler?.ToJson())
            throw new CliException($"{path}: the data ({data.Description}) has changed since the checkpoint was written; resuming would not continue the same run");
        if (!quiet)
            Console.WriteLine((checkpoint.Epoch < epochs
                ? $"resuming {spec.Kind} from {path} after epoch {checkpoint.Epoch} of {epochs}, device {backend.Name}"
                : $"all {epochs} epochs of {path} are done; writing the model files from it again (--epochs {epochs + 1} or more trains further)"
                ) + Processes(settings.Options, world));
        var progress = new ProgressBar(quiet, checkpoint.Epoch);
        var trainer = Trainer.ForNewModel(spec, backend, settings.Options with { Epochs = epochs });
        if (world != null) trainer.GradientReducer = world.CreateReducer();
        return Train(dir, data, progress, world, args.Get(Quiet), checkpoint.Epoch,
            token => TrainingRun.Continue(trainer, checkpoint, dir, data.Train, data.TrainCount, data.Test, data.TestCount, progress, token));
    }

    /// <summary>Where the data came from: what a resumed run needs to load the same rows again.</summary>
    private static Dictionary<string, string> Provenance(string source, string[] drop, string? labelColumn) => new()
    {
        ["data"] = DataSource.AbsoluteSource(source),
        ["data_sha256"] = DataSource.Fingerprint(source),
        ["drop"] = string.Join(",", drop),
        ["label_column"] = labelColumn ?? "",
    };

    /// <summary>
    /// Runs <paramref name="fit"/> with Ctrl-C wired to its cancellation token (a second Ctrl-C ends the process at
    /// once; checkpoints are written atomically, so none is ever half-written), then writes the pictures and says
    /// where everything is. An interrupted run says which epoch is saved and how to go on, and exits with 130.
    /// </summary>
    private static int Train(string outDir, Dataset data, ProgressBar progress, Distributed.MpiWorld? world, bool quiet, int epochsBefore,
        Func<CancellationToken, TrainingRunResult> fit)
    {
        if (!Interruption.TryRun(fit, out var result))
        {
            int saved = progress.EpochsDone;
            Console.Error.WriteLine(Environment.NewLine + (saved > 0
                ? $"interrupted in epoch {saved + 1}; epoch {saved} is saved in {Path.Combine(outDir, Checkpoint.FileName)}: continue with `neuralcore train --resume {outDir}`"
                : "interrupted in epoch 1; nothing is saved yet (a checkpoint is written after every epoch)"));
            return Interruption.ExitCode;
        }

        if (world != null && !quiet)
            Console.WriteLine(MpiLaunch.Summary(world, result.Trainer, (long)(result.History.Count - epochsBefore) * data.TrainCount));
        if (world != null && world.Rank != 0) return 0;   // rank 0 writes the pictures and reports
        var model = result.Model;
        Pictures.WriteAll(outDir, model, data, result.History, result.Options.Seed);
        var final = result.Final;
        Console.WriteLine($"test loss per sample: {final.Loss:F3}" + (model.Spec.IsVariational ? $" (reconstruction {final.Reconstruction:F3} + KL {final.Kl:F3})" : ""));
        if (final.Perplexity is { } perplexity)
            Console.WriteLine($"test MSE per pixel {final.Reconstruction / model.Spec.InputFeatures:F5}, codebook perplexity {perplexity:F2}, {final.CodesUsed} of {model.Spec.Vq!.CodebookSize} codes used");
        Console.WriteLine($"saved {Path.Combine(outDir, ModelStore.WeightsFile)} and {ModelStore.SpecFile}, metrics.json, pictures in {outDir}");
        return 0;
    }
}
