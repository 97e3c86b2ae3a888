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
    private readonly Stack<CpuGemm.PackedOperand> _spare = new();
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
            packed ??= _spare.Count > 0 ? _spare.Pop() : new CpuGemm.PackedOperand();
            packed.Pack(data, k, n, transpose);
            _packed[(b, transpose)] = packed;
            return packed;
        }
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
                    if (_packed.Remove((buffer, transposed), out var packed)) _spare.Push(packed);
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
