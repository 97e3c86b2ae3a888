using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Cli;

/// <summary>Chooses the backend named by --device; never picks one silently.</summary>
public static class Devices
{
    public const string Help = "--device NAME       cpu (default, SIMD), reference (naive oracle, slow)";

    public static IBackend Open(CommandLine cl)
    {
        string name = cl.String("device", "cpu")!;
        return name switch
        {
            "cpu" => new CpuBackend(),
            "reference" => new ReferenceBackend(),
            "cuda" or "opencl" => throw new CliException(
                $"--device {name}: this build has no GPU backend yet; devices found: cpu, reference. Use --device cpu", 1),
            _ => throw new CliException($"--device: unknown device '{name}'; choose cpu or reference", 2),
        };
    }
}
