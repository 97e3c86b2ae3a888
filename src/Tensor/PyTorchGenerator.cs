namespace NeuralCore;

/// <summary>
/// PyTorch's CPU generator (ATen's <c>mt19937</c> and its distributions, as in PyTorch 1.13 to 2.x): after
/// <c>torch.manual_seed(seed)</c>, PyTorch draws exactly these numbers for <c>uniform_</c> (and so the default
/// Linear/Conv initialisation), <c>randperm</c>, <c>randn</c>/<c>normal_</c> and <c>random_</c>. Used by
/// <see cref="SeededRandom.PyTorch"/>; the tests compare it with values printed by PyTorch.
/// </summary>
internal sealed class PyTorchGenerator : RandomGenerator
{
    private const int N = 624, M = 397;
    /// <summary>Words of <see cref="GetState"/>: a tag, the position, the 624 state words, the cached normal (flag + 2 words).</summary>
    public const int StateWords = 1 + 1 + N + 3;
    /// <summary>First word of a saved state, so a state of the other generator is refused.</summary>
    public const uint StateTag = 0x4D543139;   // "MT19"

    private readonly uint[] _state = new uint[N];
    private int _next;
    private double? _nextDoubleNormal;

    public PyTorchGenerator(ulong seed)
    {
        // mt19937::init_with_uint32: only the low 32 bits of the seed are used (as in torch.manual_seed).
        _state[0] = (uint)seed;
        for (int j = 1; j < N; j++) _state[j] = 1812433253u * (_state[j - 1] ^ (_state[j - 1] >> 30)) + (uint)j;
        _next = N;
    }

    public override RandomAlgorithm Algorithm => RandomAlgorithm.PyTorch;

    /// <summary>The next 32-bit output of MT19937 (PyTorch's <c>generator->random()</c>).</summary>
    public override uint NextUInt()
    {
        if (_next >= N) Twist();
        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680u;
        y ^= (y << 15) & 0xEFC60000u;
        return y ^ (y >> 18);
    }

    /// <summary>PyTorch's <c>random64()</c>: two outputs, the first in the high word.</summary>
    private ulong Random64()
    {
        uint hi = NextUInt(), lo = NextUInt();
        return ((ulong)hi << 32) | lo;
    }

    private void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7FFFFFFFu);
            _state[i] = _state[(i + M) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908B0DFu : 0u);
        }
        _next = 0;
    }

    /// <summary><c>uniform_real_distribution&lt;float&gt;(0, 1)</c>: the low 24 bits of one output.</summary>
    public override float NextFloat() => (NextUInt() & 0xFFFFFFu) * (1f / (1 << 24));

    /// <summary><c>uniform_real_distribution&lt;double&gt;(0, 1)</c>: the low 53 bits of <see cref="Random64"/>.</summary>
    private double NextDouble() => (Random64() & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));

    /// <summary><c>tensor.uniform_(low, high)</c> on float32: x * (high - low) + low in single precision, element by element.</summary>
    public override void FillUniform(Span<float> destination, float low, float high)
    {
        float range = high - low;
        for (int i = 0; i < destination.Length; i++) destination[i] = NextFloat() * range + low;
    }

    /// <summary>
    /// <c>tensor.normal_(mean, std)</c> on a contiguous float32 tensor. From 16 values on, PyTorch draws all the
    /// uniforms first and turns each block of 16 into normals by Box-Muller (u1 from the first 8, u2 from the next 8);
    /// a tail shorter than 16 redraws 16 fresh uniforms for the last 16 values. Fewer than 16 values use the scalar path.
    /// </summary>
    public override void FillNormal(Span<float> destination, float mean, float std)
    {
        int size = destination.Length;
        if (size < 16)
        {
            for (int i = 0; i < size; i++) destination[i] = (float)(NextDoubleGaussian() * std + mean);
            return;
        }
        for (int i = 0; i < size; i++) destination[i] = NextFloat();
        for (int i = 0; i + 16 <= size; i += 16) BoxMuller16(destination.Slice(i, 16), mean, std);
        if (size % 16 != 0)
        {
            var tail = destination.Slice(size - 16, 16);
            for (int i = 0; i < 16; i++) tail[i] = NextFloat();
            BoxMuller16(tail, mean, std);
        }
    }

    private static void BoxMuller16(Span<float> data, float mean, float std)
    {
        for (int j = 0; j < 8; j++)
        {
            float u1 = 1 - data[j], u2 = data[j + 8];
            float radius = MathF.Sqrt(-2 * MathF.Log(u1));
            float theta = 2.0f * MathF.PI * u2;
            data[j] = radius * MathF.Cos(theta) * std + mean;
            data[j + 8] = radius * MathF.Sin(theta) * std + mean;
        }
    }

    /// <summary>
    /// <c>normal_distribution&lt;double&gt;</c>: Box-Muller on two 53-bit uniforms; the sine value is kept for the next call.
    /// </summary>
    private double NextDoubleGaussian()
    {
        if (_nextDoubleNormal is double cached)
        {
            _nextDoubleNormal = null;
            return cached;
        }
        double u1 = NextDouble(), u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        _nextDoubleNormal = r * Math.Sin(theta);
        return r * Math.Cos(theta);
    }

    /// <summary>One normal of the scalar path, in float.</summary>
    public override float NextGaussian() => (float)NextDoubleGaussian();

    /// <summary><c>random_(0, max)</c> and <c>randperm</c>'s draw: one output modulo <paramref name="maxExclusive"/>.</summary>
    public override int NextInt(int maxExclusive) => (int)(NextUInt() % (uint)maxExclusive);

    /// <summary>
    /// <c>torch.randperm(n)</c> applied to <paramref name="values"/>: for i = 0 .. n-2, swap element i with element
    /// i + random() % (n - i). On 0..n-1 this gives exactly PyTorch's permutation.
    /// </summary>
    public override void Shuffle(Span<int> values)
    {
        int n = values.Length;
        for (int i = 0; i < n - 1; i++)
        {
            int z = NextInt(n - i);
            (values[i], values[z + i]) = (values[z + i], values[i]);
        }
    }

    public override uint[] GetState()
    {
        var state = new uint[StateWords];
        state[0] = StateTag;
        state[1] = (uint)_next;
        _state.CopyTo(state, 2);
        ulong cached = BitConverter.DoubleToUInt64Bits(_nextDoubleNormal ?? 0);
        state[2 + N] = _nextDoubleNormal.HasValue ? 1u : 0u;
        state[3 + N] = (uint)cached;
        state[4 + N] = (uint)(cached >> 32);
        return state;
    }

    /// <summary>Whether <paramref name="state"/> could have come from <see cref="GetState"/>.</summary>
    public static bool IsState(ReadOnlySpan<uint> state) =>
        state.Length == StateWords && state[0] == StateTag && state[1] <= N && state[2 + N] <= 1;

    public override void SetState(ReadOnlySpan<uint> state)
    {
        _next = (int)state[1];
        state.Slice(2, N).CopyTo(_state);
        _nextDoubleNormal = state[2 + N] != 0 ? BitConverter.UInt64BitsToDouble(state[3 + N] | ((ulong)state[4 + N] << 32)) : null;
    }
}
