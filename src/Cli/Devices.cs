using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Gpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Cli;

/// <summary>Chooses the backend named by --device; never picks one silently.</summary>
internal static class Devices
{
    public const string Help = "--device NAME       cpu (default, SIMD), reference (naive oracle, slow), cuda, opencl, ilgpu-cpu (GPU kernels emulated, slow)\n" +
        "  --threads N         CPU threads with --device cpu (default: every core)";

    public static IBackend Open(CommandLine cl)
    {
        string name = cl.String("device", "cpu")!;
        int threads = Environment.ProcessorCount;
        if (cl.Has("threads"))
        {
            if (name != "cpu")
                throw new CliException($"--threads sets the CPU threads of --device cpu; --device {name} does not use it, leave it out", 2);
            threads = cl.Int("threads", Environment.ProcessorCount, 1, CpuBackend.MaxThreads);
        }
        return name switch
        {
            "cpu" => new CpuBackend(threads),
            "reference" => new ReferenceBackend(),
            "cuda" or "opencl" or "ilgpu-cpu" => OpenIlgpu(name),
            _ => throw new CliException($"--device: unknown device '{name}'; choose cpu, reference, cuda, opencl or ilgpu-cpu", 2),
        };
    }

    /// <summary>The ILGPU backend; an absent GPU is a one-line error naming what this machine has.</summary>
    private static IlgpuBackend OpenIlgpu(string name)
    {
        try
        {
            return IlgpuBackend.Create(name);
        }
        catch (AcceleratorNotFoundException e)
        {
            throw new CliException(
                $"--device {name}: no {name} device found; devices here: cpu, reference, {string.Join(", ", e.Found)}. Use --device cpu", 1);
        }
    }
}
