using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Cli;

/// <summary>Options that several commands read the same way, with one error message each.</summary>
internal static class CommonOptions
{
    /// <summary>--model as one of <see cref="ModelSpec.Kinds"/>.</summary>
    public static string ModelKind(this CommandLine cl, string fallback)
    {
        string kind = cl.String("model", fallback)!;
        if (!ModelSpec.Kinds.Contains(kind))
            throw new CliException($"{cl.Command}: unknown model '{kind}'; choose one of {string.Join(", ", ModelSpec.Kinds)}", 2);
        return kind;
    }

    /// <summary>--rng: the generator of a training run (default pytorch).</summary>
    public static RandomAlgorithm Rng(this CommandLine cl)
    {
        string name = cl.String("rng", "pytorch")!;
        return RandomAlgorithmNames.TryParse(name, out var algorithm) ? algorithm
            : throw new CliException($"{cl.Command}: --rng must be {RandomAlgorithmNames.Choices}, got '{name}'", 2);
    }

    /// <summary>--score: how a row's reconstruction error becomes its anomaly score (default mse).</summary>
    public static ReconstructionScore Score(this CommandLine cl) => cl.String("score", "mse") switch
    {
        "mse" => ReconstructionScore.Mse,
        "bce" => ReconstructionScore.Bce,
        var s => throw new CliException($"{cl.Command}: --score must be mse or bce, got '{s}'", 2),
    };
}
