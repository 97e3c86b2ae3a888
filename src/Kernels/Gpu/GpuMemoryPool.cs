using ILGPU;
using ILGPU.Runtime;

namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// Reuses device allocations by exact length (like the CPU backend's BufferPool): training asks for the same
/// sizes every step, so after the first step no cudaMalloc/cudaFree happens. All kernels run on one stream,
/// so a buffer released after queuing work can be handed out again at once: later work is ordered after it.
/// </summary>
internal sealed class GpuMemoryPool(Accelerator accelerator) : IDisposable
{
    private readonly Dictionary<int, Stack<MemoryBuffer1D<float, Stride1D.Dense>>> _free = new();
    private readonly object _lock = new();

    /// <summary>Maximum buffers kept per length, so a one-off burst does not pin device memory forever.</summary>
    public int MaxPerLength { get; init; } = 64;

    /// <summary>Storage for <paramref name="length"/> floats (contents undefined).</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Rent(int length)
    {
        lock (_lock)
        {
            if (_free.TryGetValue(length, out var stack) && stack.Count > 0) return stack.Pop();
        }
        return accelerator.Allocate1D<float>(Math.Max(length, 1));
    }

    public void Return(MemoryBuffer1D<float, Stride1D.Dense> memory, int length)
    {
        lock (_lock)
        {
            if (!_free.TryGetValue(length, out var stack)) _free[length] = stack = new();
            if (stack.Count < MaxPerLength) { stack.Push(memory); return; }
        }
        memory.Dispose();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var stack in _free.Values)
                while (stack.Count > 0) stack.Pop().Dispose();
            _free.Clear();
        }
    }
}
