namespace NeuralCore;

/// <summary>
/// The one seeded random generator of the engine. Every backend receives noise drawn from it on the host, so runs
/// are reproducible across devices. Its state can be saved and restored (resumable training). Two algorithms:
/// <list type="bullet">
/// <item><c>new SeededRandom(seed)</c> / <see cref="ForStream"/>: xoshiro128** seeded by SplitMix64, with
/// independent hashed streams per purpose.</item>
/// <item><see cref="PyTorch"/>: PyTorch's CPU generator (MT19937 and PyTorch's own uniform, normal and randperm
/// transforms), so seed S draws what <c>torch.manual_seed(S)</c> draws.</item>
/// </list>
/// </summary>
public sealed class SeededRandom
{
    private readonly RandomGenerator _generator;

    private SeededRandom(RandomGenerator generator) => _generator = generator;

    /// <summary>The engine's own generator: xoshiro128** seeded by SplitMix64.</summary>
    public SeededRandom(ulong seed) : this(new XoshiroGenerator(seed)) { }

    /// <summary>
    /// PyTorch's CPU generator after <c>torch.manual_seed(seed)</c>: <see cref="FillUniform"/> is <c>uniform_</c>
    /// (so layers built in PyTorch's order get PyTorch's default initial weights), <see cref="Shuffle"/> of 0..n-1 is
    /// <c>torch.randperm(n)</c>, <see cref="FillNormal"/> is <c>normal_</c> / <c>randn</c>, <see cref="NextInt"/> is
    /// <c>random_(0, n)</c>. Only the low 32 bits of the seed are used, as in PyTorch.
    /// <code>
    /// var g = SeededRandom.PyTorch(0);
    /// var w = new float[3]; g.FillUniform(w, -1, 1);   // torch.manual_seed(0); torch.empty(3).uniform_(-1, 1)
    /// </code>
    /// </summary>
    public static SeededRandom PyTorch(ulong seed) => new(new PyTorchGenerator(seed));

    /// <summary>A new generator of <paramref name="algorithm"/> seeded by <paramref name="seed"/>.</summary>
    public static SeededRandom Create(RandomAlgorithm algorithm, ulong seed) =>
        algorithm == RandomAlgorithm.PyTorch ? PyTorch(seed) : new SeededRandom(seed);

    /// <summary>
    /// The generator for one purpose (<paramref name="stream"/>) of a user's <paramref name="seed"/>. The pair is hashed,
    /// so streams never overlap: seed 1's shuffling is unrelated to seed 0's noise (an offset like seed + 1 would
    /// make them the same stream). Stream <see cref="RandomStream.Init"/> is exactly <c>new SeededRandom(seed)</c>.
    /// </summary>
    public static SeededRandom ForStream(ulong seed, RandomStream stream)
    {
        if (stream == RandomStream.Init) return new SeededRandom(seed);
        ulong key = seed ^ ((ulong)stream * 0xD1B54A32D192ED03UL);
        key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9UL;   // SplitMix64's finaliser: a bijection that spreads the key
        key = (key ^ (key >> 27)) * 0x94D049BB133111EBUL;
        return new SeededRandom(key ^ (key >> 31));
    }

    /// <summary>Which algorithm this generator runs.</summary>
    public RandomAlgorithm Algorithm => _generator.Algorithm;

    /// <summary>Next 32 random bits.</summary>
    public uint NextUInt() => _generator.NextUInt();

    /// <summary>Uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat() => _generator.NextFloat();

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        return _generator.NextInt(maxExclusive);
    }

    /// <summary>Standard normal N(0, 1).</summary>
    public float NextGaussian() => _generator.NextGaussian();

    /// <summary>Fills with uniform values in [low, high).</summary>
    public void FillUniform(Span<float> destination, float low, float high) => _generator.FillUniform(destination, low, high);

    /// <summary>Fills with N(mean, std^2) values.</summary>
    public void FillNormal(Span<float> destination, float mean, float std) => _generator.FillNormal(destination, mean, std);

    /// <summary>Fisher-Yates shuffle in place (PyTorch's generator: the swaps of <c>torch.randperm</c>).</summary>
    public void Shuffle(Span<int> values) => _generator.Shuffle(values);

    /// <summary>The full generator state (for checkpoints).</summary>
    public uint[] GetState() => _generator.GetState();

    /// <summary>Whether <paramref name="state"/> is a state that <see cref="GetState"/> of an <paramref name="algorithm"/> generator returns.</summary>
    public static bool IsState(ReadOnlySpan<uint> state, RandomAlgorithm algorithm) =>
        algorithm == RandomAlgorithm.PyTorch ? PyTorchGenerator.IsState(state) : XoshiroGenerator.IsState(state);

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(ReadOnlySpan<uint> state)
    {
        if (!IsState(state, Algorithm))
            throw new ArgumentException($"not a saved state of the {Algorithm} generator ({state.Length} words)");
        _generator.SetState(state);
    }
}

/// <summary>The algorithms of <see cref="SeededRandom"/>.</summary>
public enum RandomAlgorithm
{
    /// <summary>PyTorch's CPU generator (<see cref="SeededRandom.PyTorch"/>).</summary>
    PyTorch,
    /// <summary>The engine's xoshiro128** with hashed streams (<see cref="SeededRandom.ForStream"/>).</summary>
    Xoshiro,
}

/// <summary>The names of <see cref="RandomAlgorithm"/> on the command line and in run files: <c>pytorch</c>, <c>xoshiro</c>.</summary>
public static class RandomAlgorithmNames
{
    /// <summary>Both names, for messages.</summary>
    public const string Choices = "pytorch or xoshiro";

    /// <summary>The name of <paramref name="algorithm"/> as the command line, checkpoints and metrics.json write it (pytorch, xoshiro).</summary>
    public static string Name(RandomAlgorithm algorithm) => algorithm == RandomAlgorithm.PyTorch ? "pytorch" : "xoshiro";

    /// <summary>The algorithm called <paramref name="name"/>; false for any other text.</summary>
    public static bool TryParse(string? name, out RandomAlgorithm algorithm)
    {
        algorithm = name == "xoshiro" ? RandomAlgorithm.Xoshiro : RandomAlgorithm.PyTorch;
        return name is "pytorch" or "xoshiro";
    }
}

/// <summary>The purposes a user's seed drives; each gets its own independent generator (<see cref="SeededRandom.ForStream"/>).</summary>
public enum RandomStream : ulong
{
    /// <summary>Initial weights (the seed itself).</summary>
    Init = 0,
    /// <summary>Mini-batch order.</summary>
    Shuffle = 1,
    /// <summary>Training noise: denoising corruption, VAE reparameterisation.</summary>
    Noise = 2,
    /// <summary>Noise used while evaluating (VAE latent samples in the test loss).</summary>
    Evaluation = 3,
    /// <summary>Train/test split of a table.</summary>
    DataSplit = 4,
    /// <summary>Corruption and samples drawn for pictures.</summary>
    Pictures = 5,
    /// <summary>Cells hidden to evaluate imputation.</summary>
    HiddenCells = 6,
    /// <summary>Corruption when measuring a denoiser.</summary>
    DenoisingMeasure = 7,
    /// <summary>Starting vectors of the iterative eigen-solver (PCA).</summary>
    Eigen = 8,
}
