using System.Text.Json;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Training;

/// <summary>The library's resumable run: checkpoints, resume, cancellation, progress and divergence.</summary>
public class TrainingRunTests
{
    // 40 rows of 6 features, batch 8: 5 steps per epoch
    private static readonly float[] Data = Enumerable.Range(0, 40 * 6).Select(i => (i * 7 % 11) / 11f).ToArray();
    private const int Rows = 40, StepsPerEpoch = 5;

    // A VAE draws noise every step: resuming must restore the noise generator too, not only the weights and the optimiser.
    private static readonly ModelSpec Spec = new() { Kind = "vae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };

    private static TrainingOptions Options(int epochs) => new() { Epochs = epochs, BatchSize = 8, Seed = 3 };

    private static TrainingRunResult Fit(int epochs, string? dir, IProgress<TrainingProgress>? progress = null, CancellationToken token = default) =>
        TrainingRun.Fit(Spec, new CpuBackend(), Options(epochs), Data, Rows, Data, Rows, dir, new Dictionary<string, string> { ["data"] = "somewhere" }, progress, token);

    private static TrainingRunResult Resume(string dir, int? epochs = null) =>
        TrainingRun.Resume(dir, new CpuBackend(), Data, Rows, Data, Rows, epochs);

    [Fact]
    public void TwoEpochsThenResumeToThree_IsBitIdenticalToThreeStraight()
    {
        using var straightDir = new TempDirectory();
        using var dir = new TempDirectory();
        var straight = Fit(3, straightDir.Path);

        var first = Fit(2, dir.Path);
        Assert.Equal(2, first.History.Count);
        Assert.Equal(2, Checkpoint.Load(first.CheckpointPath!).Epoch);
        var resumed = Resume(dir.Path, epochs: 3);

        AssertSameBits(straight.Model, resumed.Model);
        Assert.Equal(straight.History.Select(m => m.TrainLoss), resumed.History.Select(m => m.TrainLoss));
        Assert.Equal(straight.Final, resumed.Final);
        Assert.Equal(File.ReadAllBytes(straight.ModelPath!), File.ReadAllBytes(resumed.ModelPath!));
        Assert.Equal(MetricsLosses(straight.MetricsPath!), MetricsLosses(resumed.MetricsPath!));
        var checkpoint = Checkpoint.Load(resumed.CheckpointPath!);
        Assert.Equal(3, checkpoint.Epoch);
        Assert.Equal(3, checkpoint.Settings.Options.Epochs);
        Assert.Equal("somewhere", checkpoint.Extra["data"]);   // the caller's metadata survives the resume
        Assert.True(File.Exists(Path.Combine(dir.Path, ModelStore.SpecFile)));
    }

    [Fact]
    public void CancelledFromTheProgressCallback_KeepsTheLastWholeEpoch_AndResumeFinishesToTheSameBits()
    {
        var straight = Fit(3, null);
        using var dir = new TempDirectory();
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress<TrainingProgress>(p =>
        {
            if (p.Step is { Epoch: 2, Step: 3 }) cancel.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => Fit(3, dir.Path, progress, cancel.Token));

        var checkpoint = Checkpoint.Load(Path.Combine(dir.Path, Checkpoint.FileName));
        Assert.Equal(1, checkpoint.Epoch);
        Assert.Equal(StepsPerEpoch, checkpoint.OptimizerSteps);   // the steps of epoch 2 before the cancellation are not in it
        Assert.False(File.Exists(Path.Combine(dir.Path, ModelStore.WeightsFile)), "a cancelled run wrote its final model");
        Assert.False(File.Exists(Path.Combine(dir.Path, MetricsJson.FileName)));
        Assert.Empty(Directory.GetFiles(dir.Path, "*" + AtomicFile.TempSuffix));

        var resumed = Resume(dir.Path);
        Assert.Equal(3, resumed.History.Count);
        AssertSameBits(straight.Model, resumed.Model);
        Assert.Equal(straight.History.Select(m => m.TrainLoss), resumed.History.Select(m => m.TrainLoss));
    }

    [Fact]
    public void ACancelledTokenBeforeTheStart_TrainsNothing_AndWritesNothing()
    {
        using var dir = new TempDirectory();
        string runDir = Path.Combine(dir.Path, "run");
        Assert.ThrowsAny<OperationCanceledException>(() => Fit(2, runDir, null, new CancellationToken(canceled: true)));
        Assert.False(Directory.Exists(runDir));
    }

    [Fact]
    public void Progress_ReportsEveryStep_ThenEachEpochAfterItsCheckpoint()
    {
        using var dir = new TempDirectory();
        var reports = new List<TrainingProgress>();
        var checkpointEpochs = new List<int>();
        var progress = new SynchronousProgress<TrainingProgress>(p =>
        {
            reports.Add(p);
            if (p.CompletedEpoch != null) checkpointEpochs.Add(Checkpoint.Load(Path.Combine(dir.Path, Checkpoint.FileName)).Epoch);
        });

        var result = Fit(2, dir.Path, progress);

        Assert.Equal(2 * (StepsPerEpoch + 1), reports.Count);
        Assert.All(reports, p => Assert.Equal(2, p.Epochs));
        Assert.All(reports, p => Assert.True(p.Step.HasValue != (p.CompletedEpoch != null), "a report is either a step or an epoch"));
        for (int epoch = 1; epoch <= 2; epoch++)
        {
            var inEpoch = reports.Skip((epoch - 1) * (StepsPerEpoch + 1)).Take(StepsPerEpoch + 1).ToList();
            Assert.Equal(Enumerable.Range(1, StepsPerEpoch), inEpoch.Take(StepsPerEpoch).Select(p => p.Step!.Value.Step));
            Assert.All(inEpoch.Take(StepsPerEpoch), p => Assert.Equal(epoch, p.Step!.Value.Epoch));
            Assert.All(inEpoch.Take(StepsPerEpoch), p => Assert.Equal(StepsPerEpoch, p.Step!.Value.Steps));
            Assert.Same(result.History[epoch - 1], inEpoch[^1].CompletedEpoch);
        }
        Assert.Equal([1, 2], checkpointEpochs);   // an epoch is reported once its checkpoint is on disk
    }

    [Fact]
    public void DivergingAfterACheckpoint_KeepsIt_AndTheMessageNamesTheProperty()
    {
        using var dir = new TempDirectory();
        Fit(1, dir.Path);
        // Raise the checkpoint's learning rate so that the next epoch of the same run blows up.
        string path = Path.Combine(dir.Path, Checkpoint.FileName);
        var file = SafeTensors.Read(path);
        var metadata = file.Metadata.ToDictionary();
        Assert.Contains("\"lr\":0.001", metadata["training_options"]);
        metadata["training_options"] = metadata["training_options"].Replace("\"lr\":0.001", "\"lr\":1E+30");
        SafeTensors.Write(path, [.. file.Names.Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data))], metadata);
        byte[] before = File.ReadAllBytes(path);
        byte[] model = File.ReadAllBytes(Path.Combine(dir.Path, ModelStore.WeightsFile));

        var e = Assert.Throws<TrainingDivergedException>(() => Resume(dir.Path, epochs: 3));

        Assert.Contains("epoch 2", e.Message);
        Assert.Contains("TrainingOptions.LearningRate", e.Message);
        Assert.DoesNotContain("--", e.Message);
        Assert.EndsWith($"the checkpoint of epoch 1 is kept in {path}", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(dir.Path, ModelStore.WeightsFile)));   // the old model files stay
        Assert.Empty(Directory.GetFiles(dir.Path, "*" + AtomicFile.TempSuffix));
    }

    [Fact]
    public void Resume_OfAFinishedRun_TrainsNothing_AndRefusesFewerEpochs()
    {
        using var dir = new TempDirectory();
        var first = Fit(2, dir.Path);
        var again = Resume(dir.Path);
        Assert.Equal(2, again.History.Count);
        AssertSameBits(first.Model, again.Model);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Resume(dir.Path, epochs: 1));
        Assert.Equal("epochs", e.ParamName);
    }

    [Fact]
    public void InMemoryRun_WritesNothing_AndATrainedTrainerIsRefused()
    {
        var result = Fit(1, null);
        Assert.Null(result.RunDirectory);
        Assert.Null(result.CheckpointPath);
        Assert.Single(result.History);
        var e = Assert.Throws<ArgumentException>(() => TrainingRun.Fit(result.Trainer, Data, Rows, Data, Rows));
        Assert.Equal("trainer", e.ParamName);
    }

    [Theory]
    [InlineData(-1, 8, 1e-3f, "Epochs", "TrainingOptions.Epochs must be 0 or more, got -1")]
    [InlineData(1, 0, 1e-3f, "BatchSize", "TrainingOptions.BatchSize must be positive, got 0")]
    [InlineData(1, 8, 0f, "LearningRate", "TrainingOptions.LearningRate must be a positive number, got 0")]
    public void InvalidOptions_NameTheProperty(int epochs, int batch, float lr, string property, string message)
    {
        var options = new TrainingOptions { Epochs = epochs, BatchSize = batch, LearningRate = lr };
        var e = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(property, e.ParamName);
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void ATooLargeSpec_NamesItsProperties()
    {
        var huge = new ModelSpec { Kind = "ae", InputFeatures = 100_000, Latent = 8, Hidden = [100_000] };
        var e = Assert.Throws<ArgumentOutOfRangeException>(huge.Validate);
        Assert.Equal("Hidden", e.ParamName);
        Assert.Contains("use smaller ModelSpec.Hidden / ModelSpec.Latent sizes", e.Message);
        Assert.DoesNotContain("--", e.Message);
    }

    private static void AssertSameBits(Autoencoder expected, Autoencoder actual)
    {
        var e = expected.NamedParameters().ToList();
        var a = actual.NamedParameters().ToList();
        Assert.Equal(e.Select(p => p.Name), a.Select(p => p.Name));
        for (int i = 0; i < e.Count; i++)
            Assert.True(e[i].Parameter.ToArray().Select(BitConverter.SingleToUInt32Bits).SequenceEqual(a[i].Parameter.ToArray().Select(BitConverter.SingleToUInt32Bits)),
                $"{e[i].Name} differs");
    }

    private static double[] MetricsLosses(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return [.. doc.RootElement.GetProperty("history").EnumerateArray().Select(m => m.GetProperty("train_loss").GetDouble())];
    }
}
