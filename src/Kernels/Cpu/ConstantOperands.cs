namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// The buffers a <see cref="CpuBackend"/> holds constant (<see cref="IBackend.HoldConstant"/>) and the packed copies
/// of them that matrix products made, so that a weight read by several products in a row is packed once. The packing
/// storage outlives the holds and is reused by the next one, so that holding a model's weights once per training step
/// allocates nothing after the first step.
/// </summary>
internal sealed class ConstantOperands
{
    private readonly object _lock = new();
    private readonly Dictionary<DeviceBuffer, int> _held = new(ReferenceEqualityComparer.Instance);   // buffer -> holds
    private readonly Dictionary<(DeviceBuffer Buffer, bool Transposed), CpuGemm.PackedOperand> _packed = new();
    private readonly List<CpuGemm.PackedOperand> _spare = new();
    private volatile int _holds;

    /// <summary>Holds <paramref name="buffers"/> until the result is disposed (holds may nest and overlap).</summary>
    public IDisposable Hold(IReadOnlyList<DeviceBuffer> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        var held = buffers.ToArray();
        lock (_lock)
        {
            foreach (var buffer in held)
            {
                ArgumentNullException.ThrowIfNull(buffer, nameof(buffers));
                _held[buffer] = _held.GetValueOrDefault(buffer) + 1;
            }
            _holds++;
        }
        return new Scope(this, held);
    }

    /// <summary>The packing of op(B) when <paramref name="b"/> is held (packed now if it is not yet), else null.</summary>
    public CpuGemm.PackedOperand? PackedB(DeviceBuffer b, float[] data, int k, int n, bool transpose)
    {
        if (_holds == 0 || k == 0 || n == 0) return null;
        lock (_lock)
        {
            if (!_held.ContainsKey(b)) return null;
            if (_packed.TryGetValue((b, transpose), out var packed) && packed.Fits(k, n)) return packed;
            packed ??= TakeSpare(CpuGemm.PackedOperand.Length(k, n));
            packed.Pack(data, k, n, transpose);
            _packed[(b, transpose)] = packed;
            return packed;
        }
    }

    // The smallest spare storage that fits (the next hold packs the same weights again), else the largest, which grows.
    private CpuGemm.PackedOperand TakeSpare(long length)
    {
        int best = -1;
        for (int i = 0; i < _spare.Count; i++)
        {
            long capacity = _spare[i].Capacity, bestCapacity = best < 0 ? 0 : _spare[best].Capacity;
            bool fits = capacity >= length, bestFits = best >= 0 && bestCapacity >= length;
            if (best < 0 || (fits && (!bestFits || capacity < bestCapacity)) || (!fits && !bestFits && capacity > bestCapacity)) best = i;
        }
        if (best < 0) return new CpuGemm.PackedOperand();
        var spare = _spare[best];
        _spare.RemoveAt(best);
        return spare;
    }

    private void Release(DeviceBuffer[] buffers)
    {
        lock (_lock)
        {
            foreach (var buffer in buffers)
            {
                int count = _held[buffer] - 1;
                if (count > 0) { _held[buffer] = count; continue; }
                _held.Remove(buffer);
                foreach (bool transposed in (ReadOnlySpan<bool>)[false, true])
                    if (_packed.Remove((buffer, transposed), out var packed)) _spare.Add(packed);
            }
            _holds--;
        }
    }

    private sealed class Scope(ConstantOperands owner, DeviceBuffer[] buffers) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            owner.Release(buffers);
        }
    }
}
