using NeuralCore.AutogradTests.PyTorch;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// The differential test against PyTorch (every op, forward and backward, random and edge values) on ILGPU's CPU
/// accelerator, which runs the GPU kernels; on CUDA and OpenCL where a device exists. Skipped with the reason where
/// PyTorch cannot be imported, except under CI=1.
/// </summary>
[Collection(Accelerators.Cpu)]
public sealed class IlgpuCpuPyTorchDifferentialTests
{
    [TorchFact]
    public void EveryOp_MatchesPyTorch() => PyTorchDifferentialTests.AssertMatches(new SharedBackend(Accelerators.Shared(Accelerators.Cpu)));
}

[Collection(Accelerators.Cuda), RequiresAccelerator(Accelerators.Cuda)]
public sealed class CudaPyTorchDifferentialTests
{
    [TorchFact]
    public void EveryOp_MatchesPyTorch() => PyTorchDifferentialTests.AssertMatches(new SharedBackend(Accelerators.Shared(Accelerators.Cuda)));
}

[Collection(Accelerators.OpenCl), RequiresAccelerator(Accelerators.OpenCl)]
public sealed class OpenClPyTorchDifferentialTests
{
    [TorchFact]
    public void EveryOp_MatchesPyTorch() => PyTorchDifferentialTests.AssertMatches(new SharedBackend(Accelerators.Shared(Accelerators.OpenCl)));
}
