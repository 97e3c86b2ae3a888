using System.Runtime.CompilerServices;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>What ILGPU finds on this machine, looked up once per test run.</summary>
internal static class Accelerators
{
    private static readonly Lazy<IReadOnlyList<string>> Found = new(IlgpuBackend.FindAccelerators);

    public static bool Has(string device) => Found.Value.Any(f => f.StartsWith(device + " ", StringComparison.Ordinal));

    public static string SkipReason(string device) => Has(device)
        ? ""
        : $"no {device} device on this machine (found: {string.Join(", ", Found.Value)}); runs where one exists";

    /// <summary>Test classes that use <see cref="SharedCpu"/> run one after another (one accelerator, test hooks).</summary>
    public const string CpuCollection = "ilgpu-cpu";

    /// <summary>The ILGPU CPU accelerator the emulated suites share (compiling every kernel takes a while).</summary>
    public static readonly Lazy<IlgpuBackend> SharedCpu = new(() => IlgpuBackend.Create("ilgpu-cpu"));
}

/// <summary>A fact that is skipped, with the reason shown, unless ILGPU finds a CUDA device.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute([CallerMemberName] string? _ = null)
    {
        if (!Accelerators.Has("cuda")) Skip = Accelerators.SkipReason("cuda");
    }
}

/// <summary>A fact that is skipped, with the reason shown, unless ILGPU finds an OpenCL device.</summary>
public sealed class OpenClFactAttribute : FactAttribute
{
    public OpenClFactAttribute([CallerMemberName] string? _ = null)
    {
        if (!Accelerators.Has("opencl")) Skip = Accelerators.SkipReason("opencl");
    }
}
