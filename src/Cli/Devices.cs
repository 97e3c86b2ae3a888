using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Gpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Cli;

/// <summary>Chooses the backend named by --device; never picks one silently.</summary>
internal static class Devices
{
    public static IBackend Open(Args args)
    {
        string name = args.Get(CommonOptions.Device);
        if (args.Has(CommonOptions.Threads) && name != "cpu")
            throw new CliException($"--threads sets the CPU threads of --device cpu; --device {name} does not use it, leave it out", 2);
        return name switch
        {
            "cpu" => new CpuBackend(args.Get(CommonOptions.Threads) ?? MpiLaunch.DefaultThreads()),
            "reference" => new ReferenceBackend(),
            _ => OpenIlgpu(name),
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
