using System.Globalization;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore train</c>: trains an autoencoder and writes model, metrics and pictures.</summary>
internal static class TrainCommand
{
    public const string Help = """
        neuralcore train - train an autoencoder (AE, denoising AE or VAE; MLP or convolutional)

        usage: neuralcore train [--model KIND] [--data SOURCE] [--epochs N] [--out DIR] [options]

          --model KIND        ae | dae | vae (default) | conv-ae | conv-dae | conv-vae
          --data SOURCE       mnist (bundled MNIST-10k, default), a directory with MNIST IDX files, or FILE.csv
            --drop COLS         CSV: comma-separated columns to ignore (e.g. a class column)
            --label-column COL  CSV: a column holding labels (kept out of the features)
          --epochs N          passes over the training split (default 10)
          --batch N           mini-batch size (default 128)
          --lr X              learning rate (default 1e-3)
          --optimizer NAME    adam (default) | adamw | sgd
          --weight-decay X    L2 (adam, sgd) or decoupled (adamw) weight decay (default 0)
          --latent N          embedding size (default 20 for vae/conv-vae, 32 otherwise; tables: a quarter of the columns, at least 2)
          --hidden SIZES      MLP hidden layer sizes, e.g. 400 or 512,256 (default 400; tables 64)
          --loss NAME         bce (images, default) | mse (tables, default)
          --beta X            weight of the KL term of a VAE (default 1)
          --init NAME         weight initialisation: pytorch (PyTorch's default, default) | kaiming | xavier
          --noise NAME        denoising corruption: gaussian (default) | masking
          --noise-level X     gaussian sigma or masking probability (default 0.3)
          --seed N            seed of initialisation, shuffling and noise (default 0)
          --rng NAME          pytorch (default): draw them as PyTorch does after torch.manual_seed(N), so the
                              same model written in PyTorch starts from the same weights and batch order |
                              xoshiro: the engine's own independent stream per purpose
          --out DIR           output directory (default runs/KIND)
          --log-grads         record per-layer gradient norms every epoch (metrics.json, grad-norms.png)
          --quiet             no progress output
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)
          --resume DIR        continue an interrupted run from DIR/checkpoint.safetensors with its settings
                              (only --epochs, --device, --threads and --quiet may be given; --epochs sets a new target)

        writes DIR/checkpoint.safetensors after every epoch (weights, optimiser and generator state), then
        DIR/model.safetensors, DIR/model.json, DIR/metrics.json, DIR/loss.png, DIR/reconstructions.png
        (with the noisy inputs for denoising models) and DIR/samples.png for a VAE.
        """;

    public static int Run(CommandLine cl)
    {
        if (cl.Has("resume")) return Resume(cl);
        string kind = cl.ModelKind("vae");
        var options = new TrainingOptions
        {
            Epochs = cl.Int("epochs", 10, 0),
            BatchSize = cl.Int("batch", 128, 1),
            LearningRate = cl.Float("lr", 1e-3f, 1e-12f, 100f),
            Optimizer = cl.String("optimizer", "adam")!,
            WeightDecay = cl.Float("weight-decay", 0f, 0f, 10f),
            Seed = (ulong)cl.Int("seed", 0, 0),
            Rng = cl.Rng(),
        };
        try { options.Validate(); } catch (ArgumentException e) { throw new CliException("train: " + Cli.InCommandLineTerms(e), 2); }
        string outDir = cl.String("out", Path.Combine("runs", kind))!;
        bool quiet = cl.Flag("quiet");
        bool logGrads = cl.Flag("log-grads");
        var backend = Devices.Open(cl);
        var data = DataSource.Load(cl, null, options.Seed);
        var provenance = Provenance(cl.String("data", "mnist")!, cl.StringList("drop"), cl.String("label-column"));
        bool isTable = data.Columns != null;
        bool conv = kind.StartsWith("conv-", StringComparison.Ordinal);
        if (conv && data.ImageShape == null)
            throw new CliException($"train: --model {kind} needs image data; tables train with ae, dae or vae", 2);
        int defaultLatent = isTable ? Math.Max(2, data.Features / 4) : kind.EndsWith("vae", StringComparison.Ordinal) ? 20 : 32;
        var spec = new ModelSpec
        {
            Kind = kind,
            InputFeatures = data.Features,
            ImageShape = data.ImageShape,
            Latent = cl.Int("latent", defaultLatent, 1),
            Hidden = cl.IntList("hidden", isTable ? [64] : [400]),
            Loss = cl.String("loss", isTable ? "mse" : "bce")!,
            Beta = cl.Float("beta", 1f, 0f, 1000f),
            Init = cl.String("init", "pytorch")!,
            Noise = cl.String("noise", "gaussian")!,
            NoiseLevel = cl.Float("noise-level", 0.3f, 0f, 10f),
            Data = data.Description,
            Columns = data.Columns,
            Scaler = data.Scaler,
        };
        cl.RejectUnknown();
        try { spec.Validate(); } catch (ArgumentException e) { throw new CliException("train: " + Cli.InCommandLineTerms(e), 2); }

        OutputDirectory.EnsureWritable(outDir);
        var trainer = Trainer.ForNewModel(spec, backend, options);
        trainer.LogGradients = logGrads;
        if (!quiet)
            Console.WriteLine($"training {kind} ({trainer.Model.ParameterCount():N0} parameters) on {data.Description}: {data.TrainCount} train / {data.TestCount} test rows, " +
                              $"{options.Epochs} epochs, batch {options.BatchSize}, {options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                              $"seed {options.Seed} ({(options.Rng == RandomAlgorithm.PyTorch ? "PyTorch's generator" : "xoshiro streams")}), device {backend.Name}");
        var progress = new ProgressBar(quiet);
        return Train(outDir, data, progress, token => TrainingRun.Fit(trainer, data.Train, data.TrainCount, data.Test, data.TestCount, outDir, provenance, progress, token));
    }

    // Options a resumed run takes from its checkpoint; giving them with --resume is an error.
    private static readonly string[] FixedWhenResuming =
        ["model", "data", "drop", "label-column", "batch", "lr", "optimizer", "weight-decay", "latent", "hidden", "loss", "beta",
         "noise", "noise-level", "seed", "rng", "out", "log-grads"];

    /// <summary>--resume DIR: rebuilds the run from DIR/checkpoint.safetensors and trains the remaining epochs.</summary>
    private static int Resume(CommandLine cl)
    {
        string dir = cl.Required("resume");
        foreach (string name in FixedWhenResuming)
            if (cl.Has(name)) throw new CliException($"train: --{name} cannot be combined with --resume; a resumed run keeps its checkpoint's settings (only --epochs, --device, --threads and --quiet may be given)", 2);
        string path = Path.Combine(dir, Checkpoint.FileName);
        if (!File.Exists(path))
            throw new CliException($"{path}: not found; --resume needs the --out directory of a `neuralcore train` run that wrote a checkpoint");
        var checkpoint = Checkpoint.Load(path);
        var settings = checkpoint.Settings;
        int epochs = cl.Int("epochs", Math.Max(settings.Options.Epochs, checkpoint.Epoch), 1);
        if (epochs < checkpoint.Epoch)
            throw new CliException($"train: --epochs {epochs} is fewer than the {checkpoint.Epoch} epochs {path} has already trained; give --epochs {checkpoint.Epoch + 1} or more to continue, or leave --epochs out to finish the run", 2);
        bool quiet = cl.Flag("quiet");
        var backend = Devices.Open(cl);
        cl.RejectUnknown();
        var spec = settings.Spec;
        string Extra(string key) => checkpoint.Extra.TryGetValue(key, out var v) ? v : "";
        var data = DataSource.Load(Extra("data") is { Length: > 0 } source ? source : "mnist",
            Extra("drop").Split(',', StringSplitOptions.RemoveEmptyEntries), Extra("label_column") is { Length: > 0 } label ? label : null, null, settings.Options.Seed);
        if (data.Features != spec.InputFeatures || data.Scaler?.ToJson() != spec.Scaler?.ToJson())
            throw new CliException($"{path}: the data ({data.Description}) has changed since the checkpoint was written; resuming would not continue the same run");
        if (!quiet)
            Console.WriteLine(checkpoint.Epoch < epochs
                ? $"resuming {spec.Kind} from {path} after epoch {checkpoint.Epoch} of {epochs}, device {backend.Name}"
                : $"all {epochs} epochs of {path} are done; writing the model files from it again (--epochs {epochs + 1} or more trains further)");
        var progress = new ProgressBar(quiet, checkpoint.Epoch);
        return Train(dir, data, progress, token => TrainingRun.Resume(checkpoint, dir, backend, data.Train, data.TrainCount, data.Test, data.TestCount, epochs, progress, token));
    }

    /// <summary>Where the data came from: what a resumed run needs to load the same rows again.</summary>
    private static Dictionary<string, string> Provenance(string source, string[] drop, string? labelColumn) => new()
    {
        ["data"] = source != "mnist" && Path.Exists(source) ? Path.GetFullPath(source) : source,
        ["drop"] = string.Join(",", drop),
        ["label_column"] = labelColumn ?? "",
    };

    /// <summary>
    /// Runs <paramref name="fit"/> with Ctrl-C wired to its cancellation token (a second Ctrl-C ends the process at
    /// once; checkpoints are written atomically, so none is ever half-written), then writes the pictures and says
    /// where everything is. An interrupted run says which epoch is saved and how to go on, and exits with 130.
    /// </summary>
    private static int Train(string outDir, Dataset data, ProgressBar progress, Func<CancellationToken, TrainingRunResult> fit)
    {
        TrainingRunResult result;
        using (var interrupt = new CancellationTokenSource())
        {
            ConsoleCancelEventHandler onInterrupt = (_, e) =>
            {
                if (interrupt.IsCancellationRequested) return;
                e.Cancel = true;
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onInterrupt;
            try { result = fit(interrupt.Token); }
            catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
            {
                int saved = progress.EpochsDone;
                Console.Error.WriteLine(Environment.NewLine + (saved > 0
                    ? $"interrupted in epoch {saved + 1}; epoch {saved} is saved in {Path.Combine(outDir, Checkpoint.FileName)}: continue with `neuralcore train --resume {outDir}`"
                    : "interrupted in epoch 1; nothing is saved yet (a checkpoint is written after every epoch)"));
                return InterruptedExitCode;
            }
            finally { Console.CancelKeyPress -= onInterrupt; }
        }

        var model = result.Model;
        Pictures.WriteAll(outDir, model, data, result.History, result.Options.Seed);
        var final = result.Final;
        Console.WriteLine($"test loss per sample: {final.Loss:F3}" + (model.Spec.IsVariational ? $" (reconstruction {final.Reconstruction:F3} + KL {final.Kl:F3})" : ""));
        Console.WriteLine($"saved {Path.Combine(outDir, ModelStore.WeightsFile)} and {ModelStore.SpecFile}, metrics.json, pictures in {outDir}");
        return 0;
    }

    /// <summary>Exit code of a run stopped by Ctrl-C: 128 + SIGINT, as shells report a process that SIGINT ended.</summary>
    private const int InterruptedExitCode = 130;
}
