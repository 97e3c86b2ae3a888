namespace NeuralCore;

/// <summary>
/// One algorithm behind <see cref="SeededRandom"/>: its raw 32-bit outputs and the transforms it defines on top of
/// them (uniform floats, normals, shuffles), plus its state for checkpoints. <see cref="SeededRandom"/> holds one and
/// forwards to it; the bulk methods loop inside the algorithm, so a fill or a shuffle is one call.
/// </summary>
internal abstract class RandomGenerator
{
    public abstract RandomAlgorithm Algorithm { get; }
    public abstract uint NextUInt();
    public abstract float NextFloat();
    /// <summary>Uniform integer in [0, maxExclusive); maxExclusive &gt; 0 is checked by the caller.</summary>
    public abstract int NextInt(int maxExclusive);
    public abstract float NextGaussian();
    public abstract void FillUniform(Span<float> destination, float low, float high);
    public abstract void FillNormal(Span<float> destination, float mean, float std);
    public abstract void Shuffle(Span<int> values);
    public abstract uint[] GetState();
    /// <summary>Restores a state that <see cref="SeededRandom.IsState"/> accepted for this algorithm.</summary>
    public abstract void SetState(ReadOnlySpan<uint> state);
}
