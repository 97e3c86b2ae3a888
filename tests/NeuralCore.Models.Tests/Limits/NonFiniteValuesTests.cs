using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Limits;

/// <summary>NaN, infinities and exploding values stop with an error that names where they are, instead of flowing into results.</summary>
public class NonFiniteValuesTests
{
    private static ModelSpec TableSpec() => new() { Kind = "ae", InputFeatures = 3, Latent = 2, Hidden = [4], Loss = "mse" };

    /// <summary>A saved model directory whose tensor <paramref name="tensor"/> has <paramref name="value"/> at index 1.</summary>
    private static string SavedModelWith(TempDirectory dir, string tensor, float value)
    {
        var model = ModelFactory.Create(TableSpec(), new CpuBackend(), new SeededRandom(0));
        string path = dir.File("m");
        ModelStore.Save(model, path);
        string weights = Path.Combine(path, ModelStore.WeightsFile);
        var file = SafeTensors.Read(weights);
        SafeTensors.Write(weights, file.Names.Select(n =>
        {
            var data = (float[])file.Tensors[n].Data.Clone();
            if (n == tensor) data[1] = value;
            return (n, file.Tensors[n].Shape, data);
        }).ToList(), file.Metadata);
        return path;
    }

    [Theory]
    [InlineData("encoder.0.weight", float.NaN, "NaN")]
    [InlineData("decoder.0.bias", float.PositiveInfinity, "Infinity")]
    [InlineData("encoder.2.weight", float.NegativeInfinity, "-Infinity")]
    public void LoadingWeightsWithNaNOrInfinity_NamesTheFileAndTheTensor(string tensor, float value, string shown)
    {
        using var dir = new TempDirectory();
        string model = SavedModelWith(dir, tensor, value);
        var e = Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(model, new CpuBackend()));
        Assert.Equal($"{Path.Combine(model, ModelStore.WeightsFile)}: tensor '{tensor}' holds {shown} at index 1; the weights are damaged or come from a run that diverged; train the model again", e.Message);
        using var stream = File.OpenRead(Path.Combine(model, ModelStore.WeightsFile));
        Assert.Contains($"tensor '{tensor}'", Assert.Throws<SafeTensorsFormatException>(() => ModelStore.Load(stream, new CpuBackend())).Message);
    }

    [Fact]
    public void ACheckpointWithNaNOptimizerState_IsRefusedOnRestore()
    {
        using var dir = new TempDirectory();
        var rows = new float[] { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f };
        var trainer = Trainer.ForNewModel(TableSpec(), new CpuBackend(), new TrainingOptions { Epochs = 2, BatchSize = 2 });
        var history = new List<EpochMetrics> { trainer.RunEpoch(rows, 2, rows, 2) };
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, trainer, history);
        var file = SafeTensors.Read(path);
        string state = file.Names.First(n => n.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal));
        SafeTensors.Write(path, file.Names.Select(n =>
        {
            var data = (float[])file.Tensors[n].Data.Clone();
            if (n == state) data[0] = float.NaN;
            return (n, file.Tensors[n].Shape, data);
        }).ToList(), file.Metadata);
        var checkpoint = Checkpoint.Load(path);
        var fresh = Trainer.ForNewModel(checkpoint.Settings.Spec, new CpuBackend(), checkpoint.Settings.Options);
        var e = Assert.Throws<SafeTensorsFormatException>(() => checkpoint.Restore(fresh));
        Assert.Contains($"tensor '{state}' holds NaN", e.Message);
    }

    [Theory]
    [InlineData(1e7f)]     // finite losses around 1e15: exploding, though still a float
    [InlineData(3e18f)]    // squares overflow to infinity
    public void AHugeTrainingLoss_StopsAsDivergence_AndNoModelIsSaved(float value)
    {
        using var dir = new TempDirectory();
        var rows = Enumerable.Repeat(value, 3 * 8).ToArray();
        var e = Assert.Throws<TrainingDivergedException>(() =>
            TrainingRun.Fit(TableSpec(), new CpuBackend(), new TrainingOptions { Epochs = 2, BatchSize = 4 }, rows, 8, rows, 8, dir.Path));
        Assert.Contains("lower the learning rate", e.Message);
        Assert.False(File.Exists(dir.File(ModelStore.WeightsFile)));
        Assert.False(File.Exists(dir.File(Checkpoint.FileName)));
    }

    [Fact]
    public void ALossJustBelowTheThreshold_IsStillALoss()
    {
        Assert.Equal(1e12, Trainer.DivergedLoss);
        var rows = Enumerable.Repeat(1000f, 3 * 8).ToArray();   // squared error about 1e6 per cell: large, not diverged
        var trainer = Trainer.ForNewModel(TableSpec(), new CpuBackend(), new TrainingOptions { Epochs = 1, BatchSize = 4 });
        var metrics = trainer.RunEpoch(rows, 8, rows, 8);
        Assert.InRange(metrics.TrainLoss, 1e5, 1e12);
    }

    [Fact]
    public void AnImputerWhoseTrainingExplodes_RefusesInsteadOfFillingNaN()
    {
        float[] values = [1, 2, 3, 4, float.NaN, 6, 7, 8, 9, 1, 5, 2];
        bool[] missing = values.Select(float.IsNaN).ToArray();
        var imputer = new Imputer(new CpuBackend(), new ImputerOptions { LearningRate = 1e6f, Epochs = 50 });
        var e = Assert.Throws<TrainingDivergedException>(() => imputer.Impute(values, missing, 3));
        Assert.Contains("ImputerOptions.LearningRate", e.Message);
    }

    [Fact]
    public void AnImputerOnAColumnWhoseRangeOverflowsFloat_Refuses()
    {
        float[] values = [-3e38f, 2, 3, 3e38f, float.NaN, 6];
        bool[] missing = values.Select(float.IsNaN).ToArray();
        var e = Assert.Throws<ArgumentException>(() => new Imputer(new CpuBackend(), new ImputerOptions { Epochs = 1 }).Impute(values, missing, 3));
        Assert.Contains("column 0 spans -3E+38 to 3E+38", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void PcaOfNonFiniteRows_IsAClearError(float bad, string shown)
    {
        float[] rows = [1, 2, 3, 4, bad, 6, 7, 8];
        var e = Assert.Throws<ArgumentException>(() => Pca.Fit(rows, 4, 2, 1));
        Assert.Equal($"PCA: row 2, value 0 is {shown}; PCA needs finite numbers (the data or the model that made these rows holds NaN or infinities)", e.Message);
        var pca = Pca.Fit([1, 2, 3, 5, 4, 4, 6, 9], 4, 2, 1);
        Assert.Contains("PCA: row 1, value 1", Assert.Throws<ArgumentException>(() => pca.Transform([1, 2, 3, bad], 2)).Message);
    }

    [Fact]
    public void PcaOfHugeButFiniteRows_StaysFinite()
    {
        float[] rows = [3e38f, 1, -3e38f, 2, 1e38f, 3, -1e38f, 4];
        var pca = Pca.Fit(rows, 4, 2, 1);
        Assert.All(pca.Components, c => Assert.True(float.IsFinite(c)));
    }
}
