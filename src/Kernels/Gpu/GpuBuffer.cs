using ILGPU;
using ILGPU.Runtime;

namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// A buffer resident in accelerator memory (CUDA, OpenCL or ILGPU's CPU emulator). The storage may be
/// longer than <see cref="DeviceBuffer.Length"/> (at least one element, so empty tensors still own a view).
/// </summary>
internal sealed class GpuBuffer : DeviceBuffer
{
    internal GpuBuffer(IlgpuBackend backend, MemoryBuffer1D<float, Stride1D.Dense> memory, int length)
        : base(backend, length)
    {
        Memory = memory;
    }

    /// <summary>The device storage (owned by the backend's pool).</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Memory { get; }

    /// <summary>The valid part: <see cref="DeviceBuffer.Length"/> floats.</summary>
    public ArrayView<float> View => Memory.View.SubView(0, Length);
}
