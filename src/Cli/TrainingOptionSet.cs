using System.CommandLine;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>
/// --epochs, --batch and --lr of a command that trains, with that command's defaults; with --seed they make its
/// <see cref="TrainingOptions"/>.
/// </summary>
internal sealed class TrainingOptionSet(string epochsMeaning, int epochs, int batch, float learningRate, int minEpochs = 1)
{
    public Option<int> Epochs { get; } = CliOption.Int("--epochs", epochsMeaning, epochs, minEpochs, SizeLimits.MaxEpochs);
    public Option<int> Batch { get; } = CliOption.Int("--batch", "mini-batch size", batch, 1, SizeLimits.MaxBatch);
    public Option<float> LearningRate { get; } = CliOption.Float("--lr", "learning rate", learningRate, 1e-12f, 100f);

    /// <summary>The three options, in the order help lists them.</summary>
    public Option[] All => [Epochs, Batch, LearningRate];

    /// <summary>The training options given on the command line (the rest at their defaults).</summary>
    public TrainingOptions Read(Args args) => new()
    {
        Epochs = args.Get(Epochs),
        BatchSize = args.Get(Batch),
        LearningRate = args.Get(LearningRate),
        Seed = (ulong)args.Get(CommonOptions.Seed),
    };
}
