using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// A reference-counted device buffer shared by a tensor and its views (reshape). The buffer goes back to
/// its backend's pool when the last tensor using it is disposed.
/// </summary>
internal sealed class Storage
{
    private int _references = 1;

    public Storage(DeviceBuffer buffer) => Buffer = buffer;

    public DeviceBuffer Buffer { get; }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0) Buffer.Dispose();
    }
}
