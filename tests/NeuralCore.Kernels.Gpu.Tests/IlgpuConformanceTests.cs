using NeuralCore.Kernels.Tests.Conformance;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// The shared conformance suite on one ILGPU accelerator, against the reference backend. The CPU accelerator runs
/// the very GPU kernels (groups, shared memory and barriers emulated), so every CI run checks them without a GPU;
/// the CUDA and OpenCL classes run the same tests on real devices and are skipped, with the reason, elsewhere.
/// </summary>
public abstract class IlgpuConformanceTests : BackendConformanceTests
{
    /// <summary>The accelerator under test (see <see cref="Accelerators"/>).</summary>
    protected abstract string Device { get; }

    protected override IBackend CreateBackend() => new SharedBackend(Accelerators.Shared(Device));
}

/// <summary>
/// The suite on ILGPU's CPU emulator. It runs each GPU thread as managed code, so the batch-128 conv-AE cases run
/// here with the batch cut to fit 2M multiply-adds (same channels, sizes and strides); full batches run on CUDA and
/// OpenCL.
/// </summary>
[Collection(Accelerators.Cpu)]
public sealed class IlgpuCpuConformanceTests : IlgpuConformanceTests
{
    protected override string Device => Accelerators.Cpu;
    protected override long MaxConvMultiplyAdds => 2_000_000;
}

[Collection(Accelerators.Cuda), RequiresAccelerator(Accelerators.Cuda)]
public sealed class CudaConformanceTests : IlgpuConformanceTests
{
    protected override string Device => Accelerators.Cuda;
}

[Collection(Accelerators.OpenCl), RequiresAccelerator(Accelerators.OpenCl)]
public sealed class OpenClConformanceTests : IlgpuConformanceTests
{
    protected override string Device => Accelerators.OpenCl;
}
