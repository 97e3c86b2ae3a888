namespace NeuralCore.Kernels;

/// <summary>
/// A block of float32 storage owned by one <see cref="IBackend"/>. Kernels see only buffers plus
/// dimension integers, never tensors. A buffer may be longer than the tensor that uses it (pooled sizes).
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    /// <summary>A buffer of <paramref name="length"/> floats owned by <paramref name="backend"/>.</summary>
    protected DeviceBuffer(IBackend backend, int length)
    {
        Backend = backend;
        Length = length;
    }

    /// <summary>The backend that allocated this buffer; only that backend's kernels may touch it.</summary>
    public IBackend Backend { get; }

    /// <summary>Number of float32 elements that are valid to use.</summary>
    public int Length { get; }

    /// <summary>
    /// The buffer's floats when they live in this process's memory (the CPU backends), else empty: lets host code that
    /// moves whole buffers elsewhere (a gradient exchange between processes) read and write them without a copy.
    /// </summary>
    public virtual Memory<float> HostMemory => Memory<float>.Empty;

    /// <summary>True once the buffer was returned to its backend.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Marks a pooled buffer live again: a backend may hand the same buffer object out again after
    /// <see cref="IBackend.Release"/> (the CPU backend does, so that steady-state training allocates no objects).</summary>
    internal void Revive() => IsDisposed = false;

    /// <summary>Returns the storage to the backend (which may pool it). Using it afterwards is an error.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Backend.Release(this);
        GC.SuppressFinalize(this);
    }
}

/// <summary>A buffer that lives in managed memory (reference and SIMD CPU backends).</summary>
internal sealed class HostBuffer : DeviceBuffer
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a buffer of <paramref name="length"/> floats owned by <paramref name="backend"/>.</summary>
    public HostBuffer(IBackend backend, float[] data, int length) : base(backend, length)
    {
        if (length > data.Length) throw new ArgumentOutOfRangeException(nameof(length));
        Data = data;
    }

    /// <summary>The storage; may be longer than <see cref="DeviceBuffer.Length"/>.</summary>
    public float[] Data { get; }

    /// <summary>The valid part as a span.</summary>
    public Span<float> Span => Data.AsSpan(0, Length);

    /// <inheritdoc />
    public override Memory<float> HostMemory => Data.AsMemory(0, Length);
}
