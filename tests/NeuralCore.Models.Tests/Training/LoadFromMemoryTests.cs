using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Tests.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Training;

/// <summary>Models and checkpoints load from a stream or bytes (e.g. an embedded resource) exactly as from a path.</summary>
public class LoadFromMemoryTests
{
    private static readonly float[] Data = Enumerable.Range(0, 40 * 6).Select(i => (i * 7 % 11) / 11f).ToArray();

    /// <summary>A trainer after one epoch, and that epoch's metrics.</summary>
    private static (Trainer Trainer, List<EpochMetrics> History) TrainedTrainer(ModelSpec spec)
    {
        var trainer = Trainer.ForNewModel(spec, new CpuBackend(), new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 4 });
        var history = new List<EpochMetrics> { trainer.RunEpoch(Data, 40, Data, 40) };
        return (trainer, history);
    }

    private static void AssertSameModel(Autoencoder expected, Autoencoder actual)
    {
        Assert.Equal(expected.Spec.ToJson(), actual.Spec.ToJson());
        Assert.Equal(expected.GetType(), actual.GetType());
        var a = expected.NamedParameters().ToList();
        var b = actual.NamedParameters().ToList();
        Assert.Equal(a.Select(p => p.Name), b.Select(p => p.Name));
        for (int i = 0; i < a.Count; i++)
            Assert.True(a[i].Parameter.ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b[i].Parameter.ToArray().Select(BitConverter.SingleToInt32Bits)), $"{a[i].Name} differs");
        Assert.Equal(AnomalyDetection.Scores(expected, Data, 40, ReconstructionScore.Mse), AnomalyDetection.Scores(actual, Data, 40, ReconstructionScore.Mse));
        Assert.Equal(Features.Encode(expected, Data, 40), Features.Encode(actual, Data, 40));
    }

    [Theory]
    [InlineData("ae")]
    [InlineData("vae")]
    public void PathStreamAndBytes_GiveTheSameModel(string kind)
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec
        {
            Kind = kind, InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse",
            Columns = ["a", "b", "c", "d", "e", "f"], Scaler = new FeatureScaler([0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]),
        };
        var model = TrainedTrainer(spec).Trainer.Model;
        ModelStore.Save(model, dir.Path);
        string weightsPath = dir.File(ModelStore.WeightsFile);
        byte[] bytes = File.ReadAllBytes(weightsPath);

        var inMemory = new MemoryStream();
        ModelStore.Save(model, inMemory);
        Assert.Equal(bytes, inMemory.ToArray());   // the single-file form is the directory's weights file

        var backend = new CpuBackend();
        var fromPath = ModelStore.Load(dir.Path, backend);
        AssertSameModel(model, fromPath);
        using (var file = File.OpenRead(weightsPath)) AssertSameModel(fromPath, ModelStore.Load(file, backend));
        AssertSameModel(fromPath, ModelStore.Load(bytes, backend));
        AssertSameModel(fromPath, ModelStore.Load(new NonSeekableStream(bytes, chunk: 1000), backend, "pipe"));
        inMemory.Position = 0;
        var loaded = ModelStore.Load(inMemory, backend);
        AssertSameModel(fromPath, loaded);
        Assert.Equal(spec.Scaler.Min, loaded.Spec.Scaler!.Min);
        Assert.Equal(spec.Columns, loaded.Spec.Columns);
    }

    [Fact]
    public void AStreamWithoutSpec_OrTruncated_OrGarbage_IsAClearError()
    {
        var backend = new CpuBackend();
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var model = TrainedTrainer(spec).Trainer.Model;

        // weights written by another program: no spec in the metadata
        var plain = new MemoryStream();
        SafeTensors.Write(plain, [.. model.NamedParameters().Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.ToArray()))]);
        plain.Position = 0;
        var e = Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(plain, backend));
        Assert.StartsWith("<stream>: has no model spec in its metadata (\"spec\"); it was not written by ModelStore.Save", e.Message);

        // a training checkpoint is not a model file
        var (trainer, history) = TrainedTrainer(spec);
        using var dir = new TempDirectory();
        Checkpoint.Save(dir.File(Checkpoint.FileName), trainer, history);
        e = Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(File.ReadAllBytes(dir.File(Checkpoint.FileName)), backend, "checkpoint.bin"));
        Assert.StartsWith("checkpoint.bin: has no model spec", e.Message);
        Assert.Contains("training checkpoint; read it with Checkpoint.Load", e.Message);

        var full = new MemoryStream();
        ModelStore.Save(model, full);
        byte[] bytes = full.ToArray();
        foreach (var bad in new[] { bytes[..^8], bytes[..100], "not a model at all, just some text"u8.ToArray() })
        {
            var fromBytes = Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(bad, backend));
            var fromStream = Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(new NonSeekableStream(bad), backend));
            Assert.StartsWith("<bytes>: ", fromBytes.Message);
            Assert.Equal(fromBytes.Message["<bytes>".Length..], fromStream.Message["<stream>".Length..]);
        }

        // a spec that is not valid JSON is the spec's error, naming where it came from
        var file = SafeTensors.Read(bytes);
        var metadata = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        metadata["spec"] = "{ \"format\": \"neuralcore-model\", \"kind\": \"ae\"";
        var broken = new MemoryStream();
        SafeTensors.Write(broken, [.. file.Names.Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data))], metadata);
        var specError = Assert.Throws<DataFormatException>(() => ModelStore.Load(broken.ToArray(), backend, "model.bin"));
        Assert.StartsWith("model.bin (spec)", specError.Message);
    }

    [Fact]
    public void CheckpointFromStreamOrBytes_RestoresWhatThePathRestores()
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var (trainer, history) = TrainedTrainer(spec);
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, trainer, history, new Dictionary<string, string> { ["data"] = "somewhere" });
        byte[] bytes = File.ReadAllBytes(path);

        var fromPath = Checkpoint.Load(path);
        using var file = File.OpenRead(path);
        foreach (var (checkpoint, name) in new[]
                 {
                     (Checkpoint.Load(file), "<stream>"), (Checkpoint.Load(bytes), "<bytes>"), (Checkpoint.Load(new NonSeekableStream(bytes, 4096), "resource"), "resource"),
                 })
        {
            Assert.Equal(name, checkpoint.Path);
            Assert.Equal((fromPath.Epoch, fromPath.OptimizerSteps, fromPath.Settings.Spec.ToJson(), fromPath.Settings.Options), (checkpoint.Epoch, checkpoint.OptimizerSteps, checkpoint.Settings.Spec.ToJson(), checkpoint.Settings.Options));
            Assert.Equal(fromPath.ShuffleState, checkpoint.ShuffleState);
            Assert.Equal(fromPath.NoiseState, checkpoint.NoiseState);
            Assert.Equal(fromPath.History.Select(m => m.TrainLoss), checkpoint.History.Select(m => m.TrainLoss));
            Assert.Equal(fromPath.Extra, checkpoint.Extra);

            var a = Trainer.ForNewModel(fromPath.Settings.Spec, new CpuBackend(), fromPath.Settings.Options);
            var b = Trainer.ForNewModel(checkpoint.Settings.Spec, new CpuBackend(), checkpoint.Settings.Options);
            fromPath.Restore(a);
            checkpoint.Restore(b);
            a.RunEpoch(Data, 40, Data, 40);
            b.RunEpoch(Data, 40, Data, 40);
            AssertSameModel(a.Model, b.Model);   // same weights, optimiser state and generators: the next epoch agrees too
        }

        var e = Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(bytes[..^4]));
        Assert.StartsWith("<bytes>: ", e.Message);
        var notACheckpoint = new MemoryStream();
        ModelStore.Save(trainer.Model, notACheckpoint);
        notACheckpoint.Position = 0;
        Assert.StartsWith("model.safetensors: is not a training checkpoint",
            Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(notACheckpoint, "model.safetensors")).Message);
    }
}
