namespace NeuralCore.Kernels.Gpu;

/// <summary>The requested kind of accelerator (CUDA, OpenCL) is not present on this machine.</summary>
public sealed class AcceleratorNotFoundException(string requested, IReadOnlyList<string> found)
    : InvalidOperationException($"no {requested} device found; accelerators found: {string.Join(", ", found)}")
{
    /// <summary>The device name that was asked for ("cuda", "opencl", "ilgpu-cpu").</summary>
    public string Requested { get; } = requested;

    /// <summary>What ILGPU found instead, e.g. "ilgpu-cpu (CPUAccelerator)".</summary>
    public IReadOnlyList<string> Found { get; } = found;
}
