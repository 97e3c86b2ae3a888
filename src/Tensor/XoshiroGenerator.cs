using System.Numerics;

namespace NeuralCore;

/// <summary>The engine's own generator: xoshiro128** seeded by SplitMix64 (<c>new SeededRandom(seed)</c>).</summary>
internal sealed class XoshiroGenerator : RandomGenerator
{
    /// <summary>Words of <see cref="GetState"/>: the four state words, then the cached normal (flag, bits).</summary>
    public const int StateWords = 6;

    private uint _s0, _s1, _s2, _s3;
    private float? _spareGaussian;

    public XoshiroGenerator(ulong seed)
    {
        ulong x = seed;
        _s0 = (uint)SplitMix(ref x); _s1 = (uint)SplitMix(ref x); _s2 = (uint)SplitMix(ref x); _s3 = (uint)SplitMix(ref x);
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 1;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public override RandomAlgorithm Algorithm => RandomAlgorithm.Xoshiro;

    public override uint NextUInt()
    {
        uint result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>The high 24 bits of one output.</summary>
    public override float NextFloat() => (NextUInt() >> 8) * (1f / (1 << 24));

    /// <summary>Lemire's multiply-shift.</summary>
    public override int NextInt(int maxExclusive) => (int)((ulong)NextUInt() * (ulong)maxExclusive >> 32);

    /// <summary>Box-Muller, both values used.</summary>
    public override float NextGaussian()
    {
        if (_spareGaussian is float spare) { _spareGaussian = null; return spare; }
        float u1;
        do u1 = NextFloat(); while (u1 <= 0f);
        float u2 = NextFloat();
        float r = MathF.Sqrt(-2f * MathF.Log(u1));
        _spareGaussian = r * MathF.Sin(2f * MathF.PI * u2);
        return r * MathF.Cos(2f * MathF.PI * u2);
    }

    public override void FillUniform(Span<float> destination, float low, float high)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = low + (high - low) * NextFloat();
    }

    public override void FillNormal(Span<float> destination, float mean, float std)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = mean + std * NextGaussian();
    }

    /// <summary>Fisher-Yates from the end.</summary>
    public override void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    public override uint[] GetState() =>
        [_s0, _s1, _s2, _s3, _spareGaussian.HasValue ? 1u : 0u, BitConverter.SingleToUInt32Bits(_spareGaussian ?? 0f)];

    public static bool IsState(ReadOnlySpan<uint> state) =>
        state.Length == StateWords && (state[0] | state[1] | state[2] | state[3]) != 0 && state[4] <= 1;

    public override void SetState(ReadOnlySpan<uint> state)
    {
        _s0 = state[0]; _s1 = state[1]; _s2 = state[2]; _s3 = state[3];
        _spareGaussian = state[4] != 0 ? BitConverter.UInt32BitsToSingle(state[5]) : null;
    }
}
