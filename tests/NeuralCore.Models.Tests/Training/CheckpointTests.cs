using System.Text.Json;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Training;

public class CheckpointTests
{
    private static readonly float[] Data = Enumerable.Range(0, 40 * 6).Select(i => (i * 7 % 11) / 11f).ToArray();

    private static Trainer NewTrainer(ModelSpec spec, TrainingOptions options) => Trainer.ForNewModel(spec, new CpuBackend(), options);

    [Theory]
    [InlineData("vae", "adam", RandomAlgorithm.PyTorch)]   // the VAE draws noise: the noise generator must be restored too
    [InlineData("vae", "adam", RandomAlgorithm.Xoshiro)]
    [InlineData("dae", "sgd", RandomAlgorithm.PyTorch)]
    [InlineData("dae", "sgd", RandomAlgorithm.Xoshiro)]
    public void SaveLoadRestore_ContinuesBitIdentically(string kind, string optimizer, RandomAlgorithm rng)
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = kind, InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, Seed = 3, Optimizer = optimizer, Rng = rng };

        var straight = NewTrainer(spec, options);
        for (int e = 0; e < 3; e++) straight.RunEpoch(Data, 40, Data, 40);

        var first = NewTrainer(spec, options);
        var history = new List<EpochMetrics> { first.RunEpoch(Data, 40, Data, 40) };
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, first, history, new Dictionary<string, string> { ["data"] = "somewhere" });

        var checkpoint = Checkpoint.Load(path);
        Assert.Equal(1, checkpoint.Epoch);
        Assert.Equal(5, checkpoint.OptimizerSteps);
        Assert.Equal("somewhere", checkpoint.Extra["data"]);
        Assert.Equal(history[0].TrainLoss, checkpoint.History[0].TrainLoss);
        Assert.Equal(spec.ToJson(), checkpoint.Settings.Spec.ToJson());
        Assert.Equal(rng, checkpoint.Settings.Options.Rng);
        var resumed = NewTrainer(checkpoint.Settings.Spec, checkpoint.Settings.Options);
        checkpoint.Restore(resumed);
        while (resumed.EpochsDone < 3) resumed.RunEpoch(Data, 40, Data, 40);

        var expected = straight.Model.NamedParameters().ToList();
        var actual = resumed.Model.NamedParameters().ToList();
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Parameter.ToArray().SequenceEqual(actual[i].Parameter.ToArray()), $"{expected[i].Name} differs");
    }

    [Fact]
    public void TrainingOptions_AsEarlierCheckpointsWroteThem_ReadBackUnchanged()
    {
        const string written = "{\"epochs\":3,\"batch\":8,\"lr\":0.01,\"seed\":3,\"optimizer\":\"sgd\",\"weight_decay\":0.5,\"momentum\":0.8,\"rng\":\"xoshiro\"}";
        var expected = new TrainingOptions { Epochs = 3, BatchSize = 8, LearningRate = 0.01f, Seed = 3, Optimizer = "sgd", WeightDecay = 0.5f, Momentum = 0.8f, Rng = RandomAlgorithm.Xoshiro };
        Assert.Equal(expected, RunJson.ReadOptions(written));
        Assert.Equal(expected, RunJson.ReadOptions(JsonSerializer.Serialize(expected, RunJson.Default.TrainingOptions)));
    }

    [Fact]
    public void RunSettings_ToJsonObject_HasTheKeysOfMetricsJson()
    {
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 6, Latent = 2, Data = "mnist" };
        var json = new RunSettings(spec, new TrainingOptions { Epochs = 4, LearningRate = 0.5f }).ToJsonObject();
        Assert.Equal(["model", "data", "latent", "epochs", "batch", "lr", "seed", "optimizer", "weight_decay", "momentum", "rng", "grad_shards"], json.Select(kv => kv.Key));
        Assert.Equal("{\"model\":\"vae\",\"data\":\"mnist\",\"latent\":2,\"epochs\":4,\"batch\":128,\"lr\":0.5,\"seed\":0,\"optimizer\":\"adam\",\"weight_decay\":0,\"momentum\":0.9,\"rng\":\"pytorch\",\"grad_shards\":1}",
            json.ToJsonString());
    }

    [Fact]
    public void CheckpointsSayFormatPt_AndOnesMarkedTheOlderWayStillLoad()
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var trainer = NewTrainer(spec, new TrainingOptions { Epochs = 1, BatchSize = 8 });
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, trainer, [trainer.RunEpoch(Data, 40, Data, 40)]);
        var file = SafeTensors.Read(path);
        Assert.Equal(("pt", Checkpoint.Format), (file.Metadata["format"], file.Metadata[Checkpoint.ContentKey]));

        // Before the files said "pt", a checkpoint said "format": "neuralcore-checkpoint" and had no content key.
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, headerLength)
            .Replace("\"format\":\"pt\"", "\"format\":\"neuralcore-checkpoint\"").Replace(",\"neuralcore\":\"checkpoint\"", "");
        Assert.DoesNotContain("\"neuralcore\"", header);
        byte[] newHeader = System.Text.Encoding.UTF8.GetBytes(header);
        var older = new byte[8 + newHeader.Length + bytes.Length - 8 - headerLength];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(older, (ulong)newHeader.Length);
        newHeader.CopyTo(older, 8);
        bytes.AsSpan(8 + headerLength).CopyTo(older.AsSpan(8 + newHeader.Length));
        Assert.Equal(1, Checkpoint.Load(older).Epoch);

        // A model's weights file is not a checkpoint.
        ModelStore.Save(trainer.Model, dir.File("model"));
        var e = Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(Path.Combine(dir.File("model"), ModelStore.WeightsFile)));
        Assert.Contains("\"neuralcore\" is 'model'", e.Message);
    }

    [Fact]
    public void ACheckpointWithoutRng_FromBeforeThePyTorchGenerator_ResumesWithTheXoshiroStreams()
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 1, Rng = RandomAlgorithm.Xoshiro };
        var trainer = NewTrainer(spec, options);
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, trainer, [trainer.RunEpoch(Data, 40, Data, 40)]);

        // rewrite the training options as an older version wrote them: no "rng" entry
        var file = SafeTensors.Read(path);
        var metadata = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Contains("\"rng\":\"xoshiro\"", metadata["training_options"].Replace(" ", ""));
        metadata["training_options"] = metadata["training_options"].Replace(",\"rng\": \"xoshiro\"", "").Replace(",\"rng\":\"xoshiro\"", "");
        Assert.DoesNotContain("rng", metadata["training_options"]);
        SafeTensors.Write(path, [.. file.Names.Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data))], metadata);

        var checkpoint = Checkpoint.Load(path);
        Assert.Equal(RandomAlgorithm.Xoshiro, checkpoint.Settings.Options.Rng);
        var resumed = NewTrainer(checkpoint.Settings.Spec, checkpoint.Settings.Options);
        checkpoint.Restore(resumed);
        Assert.Equal(trainer.NoiseRandom.GetState(), resumed.NoiseRandom.GetState());
    }

    [Fact]
    public void Save_RemovesTempFilesOfAKilledSave_AndRestoreRejectsAnotherOptimizer()
    {
        using var dir = new TempDirectory();
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 6, Latent = 2, Hidden = [5], Loss = "mse" };
        var trainer = NewTrainer(spec, new TrainingOptions { Epochs = 1, BatchSize = 8 });
        var history = new List<EpochMetrics> { trainer.RunEpoch(Data, 40, Data, 40) };
        string path = dir.File(Checkpoint.FileName);
        string stale = dir.File($".{Checkpoint.FileName}.0123abcd{AtomicFile.TempSuffix}");
        File.WriteAllText(stale, "half a checkpoint");
        Checkpoint.Save(path, trainer, history);
        Assert.False(File.Exists(stale));
        Assert.Equal([Checkpoint.FileName], Directory.GetFiles(dir.Path).Select(Path.GetFileName));

        var sgd = NewTrainer(spec, new TrainingOptions { Epochs = 1, BatchSize = 8, Optimizer = "sgd" });
        var e = Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(path).Restore(sgd));
        Assert.StartsWith(path + ": no tensor 'optimizer.0.momentum_buffer'", e.Message);
    }
}
