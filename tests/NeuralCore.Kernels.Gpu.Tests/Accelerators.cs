using System.Collections.Concurrent;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>What ILGPU finds on this machine, looked up once per test run, and one backend per device.</summary>
internal static class Accelerators
{
    /// <summary>The devices every per-accelerator suite has a class for.</summary>
    public const string Cpu = "ilgpu-cpu", Cuda = "cuda", OpenCl = "opencl";

    private static readonly Lazy<IReadOnlyList<string>> Found = new(IlgpuBackend.FindAccelerators);
    private static readonly ConcurrentDictionary<string, Lazy<IlgpuBackend>> Backends = new();

    /// <summary>True when ILGPU finds a <paramref name="device"/> accelerator; its CPU emulator is always there.</summary>
    public static bool Has(string device) =>
        device == Cpu || Found.Value.Any(f => f.StartsWith(device + " ", StringComparison.Ordinal));

    public static string MissingReason(string device) =>
        $"no {device} device on this machine (found: {string.Join(", ", Found.Value.DefaultIfEmpty("none"))}); runs where one exists";

    /// <summary>
    /// The backend of <paramref name="device"/> that a device's test classes share: compiling every kernel takes a
    /// while, so it is built once. The classes of one device are in one collection (<see cref="Cpu"/>,
    /// <see cref="Cuda"/>, <see cref="OpenCl"/>), so they use it one after another (test hooks such as
    /// <see cref="IlgpuBackend.ForcedGemmKernel"/> are per backend).
    /// </summary>
    public static IlgpuBackend Shared(string device) => Backends.GetOrAdd(device, d => new Lazy<IlgpuBackend>(() => IlgpuBackend.Create(d))).Value;
}

/// <summary>
/// Marks a test class that needs an accelerator: where ILGPU finds none of that kind, every test of the class
/// (inherited ones included) is reported as skipped with the reason (see <see cref="AcceleratorTestFramework"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresAcceleratorAttribute(string device) : Attribute
{
    /// <summary>"cuda" or "opencl".</summary>
    public string Device { get; } = device;
}

/// <summary>A fact that runs only where ILGPU finds no accelerator of a kind (it checks what happens when one is missing).</summary>
public sealed class WithoutAcceleratorFactAttribute : FactAttribute
{
    public WithoutAcceleratorFactAttribute(string device)
    {
        if (Accelerators.Has(device)) Skip = $"this machine has a {device} device; the test needs one without";
    }
}
