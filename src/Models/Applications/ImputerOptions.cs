namespace NeuralCore.Models.Applications;

/// <summary>
/// Settings of <see cref="Imputer"/>. The defaults were tuned on the UCI wine table (178 rows, 13 correlated
/// features): they train in about a second on two cores and beat column-mean imputation clearly.
/// </summary>
public sealed class ImputerOptions
{
    /// <summary>Hidden layer widths of the MLP, e.g. [64, 64] (ReLU between layers).</summary>
    public int[] Hidden { get; init; } = [64, 64];

    /// <summary>Passes over the rows.</summary>
    public int Epochs { get; init; } = 300;

    /// <summary>Rows per mini-batch.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam learning rate.</summary>
    public float LearningRate { get; init; } = 2e-3f;

    /// <summary>Fraction of the observed cells hidden (set to the column mean) in every training batch: the masking noise.</summary>
    public float MaskFraction { get; init; } = 0.2f;

    /// <summary>Whether the model also sees the missingness mask (1 = value known) as extra input features.</summary>
    public bool AppendMask { get; init; }

    /// <summary>How many times missing cells are refilled from the reconstruction of the current fill (1 = once from the means).</summary>
    public int FillIterations { get; init; } = 3;

    /// <summary>Models trained from seeds Seed, Seed + 1, ...; their fills are averaged (1 = a single model).</summary>
    public int Ensemble { get; init; } = 1;

    /// <summary>Seed of initialisation, shuffling and masking noise.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (Hidden.Length == 0 || Hidden.Any(h => h <= 0)) throw new ArgumentException($"imputer: hidden sizes must be positive, got [{string.Join(", ", Hidden)}]");
        if (Epochs < 1) throw new ArgumentException($"imputer: epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"imputer: batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentException($"imputer: learning rate must be a positive number, got {LearningRate}");
        if (!(MaskFraction >= 0 && MaskFraction < 1)) throw new ArgumentException($"imputer: mask fraction must be in [0, 1), got {MaskFraction}");
        if (Ensemble < 1) throw new ArgumentException($"imputer: ensemble must be at least 1 model, got {Ensemble}");
        if (FillIterations < 1) throw new ArgumentException($"imputer: fill iterations must be at least 1, got {FillIterations}");
    }
}
