using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;
using Xunit;

namespace NeuralCore.Models.Tests.Training;

/// <summary>
/// With the default generator (<see cref="RandomAlgorithm.PyTorch"/>) a run starts where the peer's PyTorch script
/// (bench/peers/torch_cpu_ref.py, <c>torch.manual_seed(0)</c>) starts: the same initial weights, then the same
/// first batch order. Expected figures printed by PyTorch 1.13 (first two values, last value and sum of each
/// parameter in PyTorch's creation order; the first five rows of the next <c>torch.randperm(8000)</c>).
/// </summary>
public class PyTorchStartTests
{
    private static void Check(Trainer trainer, (string Name, float First, float Second, float Last, double Sum)[] expected, int[] firstRows)
    {
        var named = trainer.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.ToArray());
        foreach (var (name, first, second, last, sum) in expected)
        {
            float[] v = named[name];
            Assert.Equal(first, v[0], 1e-7f);
            Assert.Equal(second, v[Math.Min(1, v.Length - 1)], 1e-7f);
            Assert.Equal(last, v[^1], 1e-7f);
            Assert.Equal(sum, v.Sum(x => (double)x), 1e-4);
        }
        var loader = new MiniBatchLoader(new float[8000], 8000, 1, 128, trainer.ShuffleRandom);
        loader.StartEpoch();
        Assert.Equal(firstRows, loader.EpochOrder[..5].ToArray());
    }

    [Fact]
    public void Vae_StartsFromPyTorchsWeightsAndOrder()
    {
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 20, Hidden = [400] };
        var trainer = Trainer.ForNewModel(spec, new CpuBackend(), new TrainingOptions { Seed = 0 });
        Check(trainer, [
            ("encoder.0.weight", -0.00026739f, 0.0191587f, -0.0150692f, 3.286534),   // fc1
            ("encoder.0.bias", -0.0153875f, 0.02215521f, 0.00394462f, -0.404209),
            ("mu.weight", -0.00437596f, -0.00103486f, 0.0329429f, 0.010772),        // fc21
            ("mu.bias", -0.00301902f, 0.01121593f, -0.03546384f, -0.136155),
            ("logvar.weight", 0.00824572f, 0.04065919f, 0.04210137f, 1.173296),     // fc22
            ("logvar.bias", -0.00285019f, -0.01984364f, -0.01145728f, -0.000367),
            ("decoder.0.weight", 0.03341554f, -0.09321856f, -0.14454079f, 23.304487), // fc3
            ("decoder.0.bias", 0.0238064f, 0.08800505f, 0.20668961f, -1.943647),
            ("decoder.2.weight", 0.01958292f, -0.04560008f, 0.02085492f, 16.139676),  // fc4
            ("decoder.2.bias", -0.03589407f, -0.04541744f, -0.01090771f, 0.435418),
        ], [5495, 5561, 5171, 2806, 4185]);
    }

    [Fact]
    public void ConvAe_StartsFromPyTorchsWeightsAndOrder()
    {
        var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 };
        var trainer = Trainer.ForNewModel(spec, new CpuBackend(), new TrainingOptions { Seed = 0 });
        Check(trainer, [
            ("encoder.1.weight", -0.00249561f, 0.17881453f, -0.02410722f, -1.051997),
            ("encoder.1.bias", -0.2994405f, -0.15802574f, -0.13515756f, -1.531675),
            ("encoder.3.weight", -0.01605127f, -0.01636189f, 0.06504195f, -3.419055),
            ("encoder.3.bias", -0.03033012f, 0.02673112f, -0.04456654f, 0.247104),
            ("encoder.6.weight", 0.02479441f, 0.00575931f, -0.01223245f, 3.247727),
            ("encoder.6.bias", 0.01752418f, -0.00523386f, -0.00960863f, 0.059105),
            ("decoder.0.weight", -0.16160072f, -0.07315281f, -0.12120011f, -2.191114),
            ("decoder.0.bias", -0.04506448f, 0.08699959f, -0.11120912f, -4.331536),
            ("decoder.3.weight", 0.04935693f, -0.04140773f, -0.0225546f, 5.562254),
            ("decoder.3.bias", -0.00173622f, -0.04691979f, -0.01025056f, -0.037933),
            ("decoder.5.weight", -0.07042515f, 0.15004718f, 0.26104769f, -1.043344),
            ("decoder.5.bias", 0.029061f, 0.029061f, 0.029061f, 0.029061),
        ], [5788, 5887, 1111, 864, 4875]);
    }

    [Fact]
    public void TrainerWithoutTheInitGenerator_SkipsOneDrawPerParameter()
    {
        // new Trainer(model, options) for a model built elsewhere from SeededRandom.PyTorch(seed) continues at the same place.
        var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 };
        var backend = new CpuBackend();
        var trainer = new Trainer(ModelFactory.Create(spec, backend, SeededRandom.PyTorch(0)), new TrainingOptions { Seed = 0 });
        Assert.Same(trainer.ShuffleRandom, trainer.NoiseRandom);
        var loader = new MiniBatchLoader(new float[8000], 8000, 1, 128, trainer.ShuffleRandom);
        loader.StartEpoch();
        Assert.Equal([5788, 5887, 1111, 864, 4875], loader.EpochOrder[..5].ToArray());
    }
}

/// <summary>
/// One epoch of the peer's two workloads from seed 0, against PyTorch 1.13 running
/// bench/peers/torch_cpu_ref.py's definitions for one epoch (2 threads, 2026-11-27): the same start and the same
/// batches must give the same losses, up to float rounding (our sums run in another order).
/// </summary>
public class PyTorchFirstEpochTests
{
    private static EpochMetrics FirstEpoch(ModelSpec spec)
    {
        var mnist = MnistDataset.LoadBundled();
        var trainer = Trainer.ForNewModel(spec, new CpuBackend(), new TrainingOptions { Epochs = 1, Seed = 0 });
        return trainer.RunEpoch(mnist.TrainImages.Pixels, mnist.TrainImages.Count, mnist.TestImages.Pixels, mnist.TestImages.Count);
    }

    [Fact]
    public void ConvAe_FirstEpoch_MatchesPyTorch()
    {
        var m = FirstEpoch(new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 });
        Assert.Equal(302.8253, m.TrainLoss, 0.05);   // PyTorch: mean training loss per sample over the epoch
        Assert.Equal(211.2456, m.TestLoss, 0.05);    // PyTorch: test BCE per sample after the epoch
    }

    [Fact]
    public void Vae_FirstEpoch_MatchesPyTorch_IncludingTheReparameterisationNoise()
    {
        var m = FirstEpoch(new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 20, Hidden = [400] });
        // every step's eps is PyTorch's randn_like draw; the test loss samples its own eps, so only the training loss is compared
        Assert.Equal(257.2733, m.TrainLoss, 0.05);
    }
}
