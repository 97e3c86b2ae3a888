namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// Reuses float arrays by exact length. Training allocates the same sizes every step, so after the first
/// step every request is served from the pool and the managed heap sees no new garbage.
/// </summary>
internal sealed class BufferPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = new();
    private readonly object _lock = new();

    /// <summary>Maximum arrays kept per length, so a one-off burst does not pin memory forever.</summary>
    public int MaxPerLength { get; init; } = 64;

    public float[] Rent(int length, bool clear)
    {
        float[]? array = null;
        lock (_lock)
        {
            if (_free.TryGetValue(length, out var stack) && stack.Count > 0) array = stack.Pop();
        }
        if (array == null) return new float[length];
        if (clear) Array.Clear(array);
        return array;
    }

    public void Return(float[] array)
    {
        lock (_lock)
        {
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
            if (stack.Count < MaxPerLength) stack.Push(array);
        }
    }

    public void Clear()
    {
        lock (_lock) _free.Clear();
    }
}
