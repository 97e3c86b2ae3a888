using System.CommandLine;
using System.Globalization;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore train-prior</c>: trains a PixelCNN prior over a VQ-VAE's code grids, into the model's directory.</summary>
internal static class TrainPriorCommand
{
    private static readonly TrainingOptionSet Training = new("passes over the training split's code grids", 10, 128, 1e-3f);
    private static readonly Option<bool> Quiet = CliOption.Flag("--quiet", "no progress output");
    private static readonly Option<bool> Overwrite = CliOption.Flag("--overwrite", "replace a prior already trained in DIR");
    private static readonly Option<bool> Resume = CliOption.Flag("--resume",
        "continue an interrupted prior run from DIR/prior-checkpoint.safetensors with its settings (--epochs sets a new target)");

    public static CliCommand Create() => new CliCommand("train-prior", "train a PixelCNN prior over the codes of a VQ-VAE", Run)
    {
        Title = "train the autoregressive prior of a VQ-VAE (a PixelCNN over its code grids)",
        Usage = ["--model DIR [--epochs N] [--batch N] [--lr X] [--seed N]", "--model DIR --resume [--epochs N]"],
        Notes = """
            --model: a directory written by `neuralcore train --model vqvae`. The VQ-VAE is frozen; its codes of the
            training split are what the prior learns (cross-entropy per code), its codes of the test split are scored
            after every epoch (NLL in nats per code). Writes DIR/prior-checkpoint.safetensors after every epoch, then
            DIR/prior.safetensors, DIR/prior-metrics.json, DIR/prior-loss.png and DIR/samples.png (64 samples).
            """,
    }.With([CommonOptions.ModelDirectory, .. CommonOptions.DataOptions, .. Training.All, CommonOptions.Seed, Overwrite, Resume, Quiet,
        .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string dir = args.Get(CommonOptions.ModelDirectory);
        var spec = ModelStore.LoadSpec(dir);
        if (!spec.IsVectorQuantized)
            throw new CliException($"train-prior: {dir} holds a model of kind {spec.Kind}; a prior learns the codes of a VQ-VAE (train one with `neuralcore train --model vqvae`)", 2);
        bool resume = args.Get(Resume);
        if (resume)
        {
            foreach (var option in new Option[] { Training.Batch, Training.LearningRate, CommonOptions.Seed, Overwrite })
                if (args.Has(option)) throw new CliException($"train-prior: {option.Name} cannot be combined with --resume; a resumed prior keeps its checkpoint's settings", 2);
            if (!File.Exists(Path.Combine(dir, PriorTraining.CheckpointFile)))
                throw new CliException($"{Path.Combine(dir, PriorTraining.CheckpointFile)}: not found; --resume continues a train-prior run that wrote a checkpoint (start one without --resume)");
        }
        else if (!args.Get(Overwrite) && (File.Exists(Path.Combine(dir, PriorTraining.WeightsFile)) || File.Exists(Path.Combine(dir, PriorTraining.CheckpointFile))))
        {
            throw new CliException($"train-prior: {dir} already holds a prior ({PriorTraining.WeightsFile} or {PriorTraining.CheckpointFile}); give --overwrite to train a new one or --resume to continue it", 2);
        }
        var options = Training.Read(args);
        try { options.Validate(); } catch (ArgumentException e) { throw new CliException("train-prior: " + Cli.InCommandLineTerms(e), 2); }
        bool quiet = args.Get(Quiet);
        OutputDirectory.EnsureWritable(dir);
        using var runLock = RunDirectory.Lock(dir);
        var backend = Devices.Open(args);
        var data = DataSource.Load(args, spec, options.Seed);
        if (data.Features != spec.InputFeatures)
            throw new CliException($"train-prior: the data ({data.Description}) has {data.Features} features per row but the model of {dir} takes {spec.InputFeatures}; pass the data it was trained on with --data");
        var model = (VqVae)ModelStore.Load(dir, backend);
        if (!resume)
            foreach (string stale in new[] { PriorTraining.WeightsFile, PriorTraining.CheckpointFile, PriorTraining.MetricsFile })
                File.Delete(Path.Combine(dir, stale));
        if (!quiet)
            Console.WriteLine(resume
                ? $"resuming the prior of {dir} from {PriorTraining.CheckpointFile}, device {backend.Name}"
                : $"training the prior of {dir} ({model.CodebookSize} codes on a {model.GridHeight}x{model.GridWidth} grid) on the codes of {data.TrainCount} " +
                  $"training images, {options.Epochs} epochs, batch {options.BatchSize}, adam lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {options.Seed}, device {backend.Name}");
        var progress = new ProgressBar(quiet, 0, "nll");
        PriorTrainingResult result;
        try
        {
            bool finished = Interruption.TryRun(token => resume
                ? PriorTraining.Resume(model, dir, data.Train, data.TrainCount, data.Test, data.TestCount,
                    args.Has(Training.Epochs) ? args.Get(Training.Epochs) : null, progress, token)
                : PriorTraining.Fit(model, data.Train, data.TrainCount, data.Test, data.TestCount, options, dir, progress, token), out result);
            if (!finished)
            {
                Console.Error.WriteLine(Environment.NewLine + (progress.EpochsDone > 0
                    ? $"interrupted; epoch {progress.EpochsDone} of the prior is saved: continue with `neuralcore train-prior --model {dir} --resume`"
                    : "interrupted in epoch 1; nothing is saved yet (a checkpoint is written after every epoch)"));
                return Interruption.ExitCode;
            }
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "epochs")
        {
            throw new CliException("train-prior: " + e.Message.Split(" (Parameter")[0] + "; give a larger --epochs", 2);
        }
        if (result.History.Count > 0)
            Plot.WriteLines(Path.Combine(dir, "prior-loss.png"),
                [new("train", result.History.Select(h => (float)h.TrainLoss).ToList()), new("test", result.History.Select(h => (float)h.TestLoss).ToList())],
                "prior NLL (nats per code)", "epoch", "nats per code");
        SampleCommand.WriteSamples(Path.Combine(dir, "samples.png"), model, result.Prior, 64, (ulong)args.Get(CommonOptions.Seed), 8, 2);
        Console.WriteLine($"prior test NLL {result.TestNll:F4} nats per code ({result.TestNll * model.Cells / Math.Log(2):F1} bits per image; uniform: {Math.Log(model.CodebookSize):F4})");
        Console.WriteLine($"saved {Path.Combine(dir, PriorTraining.WeightsFile)}, {PriorTraining.MetricsFile}, prior-loss.png and samples.png in {dir}");
        return 0;
    }
}
