using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Training;

/// <summary>
/// The thread count is a setting of each <see cref="CpuBackend"/>, not of the process: two backends with 1 and 2 threads
/// in one process, one after the other or at the same time, train a model to the same bits. A backend with n threads
/// cuts its kernels n ways whatever the machine has, so these compare real 1- and 2-way splits on a one-core runner too.
/// </summary>
public class ThreadCountTests
{
    private const int TrainImages = 512, TestImages = 256;

    public static TheoryData<string> Models => ["ae", "conv-ae"];

    private static ModelSpec Spec(string kind) => kind.StartsWith("conv-", StringComparison.Ordinal)
        ? new ModelSpec { Kind = kind, InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 32 }
        : new ModelSpec { Kind = kind, InputFeatures = 784, Latent = 20, Hidden = [400] };

    /// <summary>One short epoch (4 steps of 128 images) on a slice of the bundled MNIST; every parameter's bits, and the losses.</summary>
    private static (int[][] Parameters, EpochMetrics Metrics) Train(string kind, CpuBackend backend)
    {
        var mnist = MnistDataset.LoadBundled();
        var trainer = Trainer.ForNewModel(Spec(kind), backend, new TrainingOptions { Epochs = 1, BatchSize = 128, Seed = 3 });
        var metrics = trainer.RunEpoch(mnist.TrainImages.Pixels, TrainImages, mnist.TestImages.Pixels, TestImages);
        var bits = trainer.Model.Parameters()
            .Select(p => p.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray())
            .ToArray();
        return (bits, metrics);
    }

    private static void AssertSameBits((int[][] Parameters, EpochMetrics Metrics) one, (int[][] Parameters, EpochMetrics Metrics) two)
    {
        Assert.Equal(one.Parameters.Length, two.Parameters.Length);
        for (int i = 0; i < one.Parameters.Length; i++) Assert.Equal(one.Parameters[i], two.Parameters[i]);
        Assert.Equal(one.Metrics.TrainLoss, two.Metrics.TrainLoss);
        Assert.Equal(one.Metrics.TestLoss, two.Metrics.TestLoss);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OneAndTwoThreads_TrainTheSameBits(string kind)
    {
        using var one = new CpuBackend(threads: 1);
        using var two = new CpuBackend(threads: 2);
        Assert.Equal(1, one.Threads);
        Assert.Equal(2, two.Threads);
        AssertSameBits(Train(kind, one), Train(kind, two));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task OneAndTwoThreads_TrainingAtTheSameTime_TrainTheSameBits(string kind)
    {
        using var one = new CpuBackend(threads: 1);
        using var two = new CpuBackend(threads: 2);
        using var start = new Barrier(2);
        // dedicated threads, so that the two trainings overlap even where the thread pool has one thread
        Task<(int[][], EpochMetrics)> Run(CpuBackend backend) => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            return Train(kind, backend);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var first = Run(one);
        var second = Run(two);
        var results = await Task.WhenAll(first, second);
        AssertSameBits(results[0], results[1]);
        AssertSameBits(results[0], Train(kind, one));   // and the same as training alone
    }
}
