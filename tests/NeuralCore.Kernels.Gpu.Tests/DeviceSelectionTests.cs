namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>Choosing a device by name, on every machine.</summary>
public sealed class DeviceSelectionTests
{
    [WithoutAcceleratorFact(Accelerators.Cuda)]
    public void MissingDeviceKind_ThrowsListingWhatWasFound()
    {
        var e = Assert.Throws<AcceleratorNotFoundException>(() => IlgpuBackend.Create(Accelerators.Cuda));
        Assert.Contains("no cuda device found", e.Message);
        Assert.Contains("ilgpu-cpu", e.Message);
    }

    [Fact]
    public void UnknownDeviceName_IsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentException>(() => IlgpuBackend.Create("tpu"));
        Assert.Contains("cuda, opencl, ilgpu-cpu", e.Message);
    }
}
