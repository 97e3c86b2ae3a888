using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// A few Adam steps of real models from the same seed on the SIMD CPU backend and on one ILGPU accelerator end
/// with the same parameters: the whole training path (layers, autograd, losses, the reparameterisation noise from
/// the host, the fused optimiser) agrees across devices.
/// </summary>
public abstract class TrainingParityTests
{
    /// <summary>The accelerator under test (see <see cref="Accelerators"/>).</summary>
    protected abstract string Device { get; }

    [Theory]
    [InlineData("vae", 4)]
    [InlineData("conv-ae", 2)]
    public void FewAdamSteps_SameParametersOnCpuAndAccelerator(string kind, int steps)
    {
        const int batch = 8, side = 8, features = side * side;
        var spec = new ModelSpec
        {
            Kind = kind, InputFeatures = features, Latent = 4, Hidden = [32], Loss = "bce",
            ImageShape = kind.StartsWith("conv", StringComparison.Ordinal) ? [1, side, side] : null,
        };
        var data = new float[steps * batch * features];
        var random = new Random(5);
        for (int i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();

        var cpu = Train(new CpuBackend(), spec, data, steps * batch, batch);
        var gpu = Train(Accelerators.Shared(Device), spec, data, steps * batch, batch);

        Assert.Equal(cpu.Loss, gpu.Loss, 3);
        Assert.Equal(cpu.Parameters.Keys.Order(), gpu.Parameters.Keys.Order());
        foreach (var (name, expected) in cpu.Parameters)
            IlgpuKernelTests.AssertClose($"{kind} parameter {name} after {steps} steps", expected, gpu.Parameters[name], 2e-4, 1e-3);
    }

    private static (double Loss, Dictionary<string, float[]> Parameters) Train(IBackend backend, ModelSpec spec, float[] data, int rows, int batch)
    {
        var model = ModelFactory.Create(spec, backend, new SeededRandom(11));
        var trainer = new Trainer(model, new TrainingOptions { Epochs = 1, BatchSize = batch, Seed = 3 });
        var metrics = trainer.RunEpoch(data, rows, [], 0);
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.ToArray());
        Assert.All(parameters.Values, v => Assert.All(v, f => Assert.True(float.IsFinite(f))));
        return (metrics.TrainLoss, parameters);
    }
}

[Collection(Accelerators.Cpu)]
public sealed class IlgpuCpuTrainingParityTests : TrainingParityTests
{
    protected override string Device => Accelerators.Cpu;
}

[Collection(Accelerators.Cuda), RequiresAccelerator(Accelerators.Cuda)]
public sealed class CudaTrainingParityTests : TrainingParityTests
{
    protected override string Device => Accelerators.Cuda;
}

[Collection(Accelerators.OpenCl), RequiresAccelerator(Accelerators.OpenCl)]
public sealed class OpenClTrainingParityTests : TrainingParityTests
{
    protected override string Device => Accelerators.OpenCl;
}
