using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Autoencoders;

/// <summary>The vector quantiser (nearest code, straight-through gradient, EMA, dead-code restarts), the VQ-VAE and its PixelCNN prior.</summary>
public class VqVaeTests
{
    private static readonly IBackend Backend = new CpuBackend();

    private static VectorQuantizer Quantizer(VqSettings settings, float[] codebook)
    {
        var q = new VectorQuantizer(Backend, new SeededRandom(0), settings);
        q.Codebook.CopyFrom(codebook);
        q.EmaSum.CopyFrom(codebook);
        return q;
    }

    /// <summary>Rows around the given centres (2-D), <paramref name="perCentre"/> each, with uniform noise of ±<paramref name="spread"/>.</summary>
    private static float[] Clusters(SeededRandom random, float[][] centres, int perCentre, float spread)
    {
        var rows = new float[centres.Length * perCentre * 2];
        for (int i = 0; i < centres.Length * perCentre; i++)
        {
            var c = centres[i % centres.Length];
            rows[2 * i] = c[0] + (random.NextFloat() * 2 - 1) * spread;
            rows[2 * i + 1] = c[1] + (random.NextFloat() * 2 - 1) * spread;
        }
        return rows;
    }

    [Fact]
    public void Nearest_IsTheBruteForceArgmin_AndTheGradientPassesStraightThrough()
    {
        var random = new SeededRandom(3);
        var settings = new VqSettings { CodebookSize = 8, CodeDim = 3, Update = "loss", DeadCodeSteps = 0, Commitment = 0.25f };
        var codebook = new float[24];
        random.FillUniform(codebook, -1, 1);
        var q = Quantizer(settings, codebook);
        var z = new float[20 * 3];
        random.FillUniform(z, -1, 1);
        using var scope = TensorScope.Begin();
        var rows = Tensor.FromArray(Backend, z, new Shape(20, 3));
        rows.RequiresGrad = true;
        var output = q.Quantize(rows);
        var quantized = output.Quantized.ToArray();
        for (int i = 0; i < 20; i++)
        {
            int best = Enumerable.Range(0, 8).MinBy(k => Enumerable.Range(0, 3).Sum(j => Math.Pow(z[i * 3 + j] - codebook[k * 3 + j], 2)));
            Assert.Equal(best, output.Indices[i]);
            for (int j = 0; j < 3; j++) Assert.Equal(codebook[best * 3 + j], quantized[i * 3 + j], 5);
        }
        // d/dz sum(w * quantized) is w itself: the straight-through estimator copies the decoder's gradient to the encoder
        var weights = new float[60];
        random.FillUniform(weights, -1, 1);
        output.Quantized.Mul(Tensor.FromArray(Backend, weights, new Shape(20, 3))).Sum().Backward();
        Assert.Equal(weights, rows.Grad!.ToArray());
        Assert.Null(q.Codebook.Grad);   // the codebook gets nothing through the straight-through path

        // commitment: beta * 2 (z - e) / numel to the encoder; codebook loss: 2 (e - z) / numel summed per chosen code
        rows.Grad = null;
        output.Commitment.Add(output.CodebookLoss!).Backward();
        var dz = rows.Grad!.ToArray();
        var de = q.Codebook.Grad!.ToArray();
        var expectedDe = new double[24];
        for (int i = 0; i < 20; i++)
            for (int j = 0; j < 3; j++)
            {
                double diff = z[i * 3 + j] - quantized[i * 3 + j];
                Assert.Equal(0.25 * 2 * diff / 60, dz[i * 3 + j], 5);
                expectedDe[output.Indices[i] * 3 + j] += -2 * diff / 60;
            }
        for (int k = 0; k < 24; k++) Assert.Equal(expectedDe[k], de[k], 5);
    }

    [Fact]
    public void Ema_MovesTheCodesToTheirClusterMeans_WithoutAnyCodebookLoss()
    {
        var random = new SeededRandom(5);
        float[][] centres = [[3f, 0f], [-3f, 0f], [0f, 2f]];
        var settings = new VqSettings { CodebookSize = 3, CodeDim = 2, Update = "ema", Decay = 0.95f, DeadCodeSteps = 0 };
        var q = Quantizer(settings, [0.1f, -0.05f, -0.1f, -0.05f, 0f, 0.1f]);
        Assert.False(q.Codebook.RequiresGrad);   // a buffer: no optimizer touches it
        for (int step = 0; step < 300; step++)
        {
            using var scope = TensorScope.Begin();
            var rows = Tensor.FromArray(Backend, Clusters(random, centres, 32, 0.5f), new Shape(96, 2));
            var output = q.Quantize(rows, random);
            Assert.Null(output.CodebookLoss);
        }
        var codebook = q.Codebook.ToArray();
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(centres[k][0], codebook[2 * k], 1);
            Assert.Equal(centres[k][1], codebook[2 * k + 1], 1);
        }
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("loss")]
    public void DeadCode_IsReseededFromAnEncoderOutput_AndThenUsed(string update)
    {
        var random = new SeededRandom(9);
        float[][] centres = [[1f, 1f], [-1f, -1f]];
        // code 2 sits far from every row: nothing ever chooses it unless it is restarted
        float[] codebook = [0.5f, 0.5f, -0.5f, -0.5f, 100f, 100f];
        foreach (int restartAfter in new[] { 0, 5 })
        {
            var q = Quantizer(new VqSettings { CodebookSize = 3, CodeDim = 2, Update = update, DeadCodeSteps = restartAfter, DeadCodeUsage = 0 }, codebook);
            q.ResetUsage();
            for (int step = 0; step < 12; step++)
            {
                using var scope = TensorScope.Begin();
                var rows = Tensor.FromArray(Backend, Clusters(random, centres, 16, 0.3f), new Shape(32, 2));
                q.Quantize(rows, random);
            }
            var code2 = q.Codebook.ToArray()[4..6];
            if (restartAfter == 0)
            {
                Assert.Equal(0, q.Usage[2]);
                // EMA decays the count and the sum of an unused code alike, so it stays (up to the smoothing) where it was
                Assert.Equal(100f, code2[0], 0.5f);
                Assert.Equal(100f, code2[1], 0.5f);
                Assert.Equal(0, q.Restarts);
            }
            else
            {
                Assert.True(q.Restarts >= 1);
                Assert.True(Math.Abs(code2[0]) < 2 && Math.Abs(code2[1]) < 2, $"code 2 was not re-seeded among the rows: ({code2[0]}, {code2[1]})");
                Assert.True(q.Usage[2] > 0, "the revived code was never chosen");
            }
        }
    }

    [Fact]
    public void RarelyUsedCode_IsRestartedWhenDeadCodeUsageCountsItAsIdle()
    {
        var random = new SeededRandom(4);
        // code 2 sits beside one outlier row per batch of 64: chosen, but by 1/64 of the rows
        float[] codebook = [1f, 1f, -1f, -1f, 10f, 10f];
        foreach (float usage in new[] { 0f, 0.05f })
        {
            var q = Quantizer(new VqSettings { CodebookSize = 3, CodeDim = 2, Update = "ema", DeadCodeSteps = 3, DeadCodeUsage = usage }, codebook);
            for (int step = 0; step < 4; step++)
            {
                using var scope = TensorScope.Begin();
                var rows = Clusters(random, [[1f, 1f], [-1f, -1f]], 32, 0.3f);
                rows[0] = 10f; rows[1] = 10f;
                q.Quantize(Tensor.FromArray(Backend, rows, new Shape(64, 2)), random);
            }
            Assert.Equal(usage == 0 ? 0 : 1, q.Restarts);
        }
    }

    [Fact]
    public void PriorLogits_FromCodes_EqualTheConvolutionsOfTheOneHotGrids()
    {
        var random = new SeededRandom(2);
        var prior = new PixelCnnPrior(new PriorSpec { CodebookSize = 16, Height = 5, Width = 6, Channels = 8, Hidden = 4, Blocks = 2, FirstKernel = 5 }, Backend, random);
        var codes = Enumerable.Range(0, 3 * 30).Select(_ => random.NextInt(16)).ToArray();
        using var scope = TensorScope.Begin();
        var oneHot = Tensor.FromArray(Backend, codes.Select(c => (float)c).ToArray(), new Shape(3, 5, 6)).OneHot(16).Permute(0, 3, 1, 2);
        var dense = prior.Forward(oneHot);
        var rows = prior.Logits(codes);
        Assert.Equal(dense.Shape, rows.Shape);
        var d = dense.ToArray();
        var r = rows.ToArray();
        for (int i = 0; i < d.Length; i++) Assert.Equal(d[i], r[i], 1e-5f);
        // and the same gradient for every weight
        var gradients = new List<float[]>();
        foreach (var logits in new[] { dense, rows })
        {
            prior.ZeroGrad();
            logits.Mul(logits).Sum().Backward();
            gradients.AddRange(prior.TrainableParameters().Select(p => p.Grad!.ToArray()));
        }
        int half = gradients.Count / 2;
        for (int p = 0; p < half; p++)
            for (int i = 0; i < gradients[p].Length; i++) Assert.Equal(gradients[p][i], gradients[half + p][i], 1e-4f);
    }

    private static (float[] Train, int TrainCount, float[] Test, int TestCount) SmallMnist(int train, int test)
    {
        var mnist = MnistDataset.LoadBundled();
        return (mnist.TrainImages.Pixels[..(train * 784)], train, mnist.TestImages.Pixels[..(test * 784)], test);
    }

    private static ModelSpec Spec(VqSettings? vq = null) => new()
    {
        Kind = "vqvae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = (vq?.CodeDim ?? 16) * 49, Loss = "mse", Vq = vq ?? new VqSettings(),
    };

    [Fact]
    public void Resume_ContinuesTheVqVaeAndItsPrior_BitForBit()
    {
        var (train, n, test, m) = SmallMnist(192, 64);
        var spec = Spec(new VqSettings { DeadCodeSteps = 2 });
        var options = new TrainingOptions { Epochs = 2, BatchSize = 64 };
        using var whole = new TempDirectory();
        using var split = new TempDirectory();
        var full = TrainingRun.Fit(spec, Backend, options, train, n, test, m, whole.Path);
        TrainingRun.Fit(spec, Backend, options with { Epochs = 1 }, train, n, test, m, split.Path);
        var resumed = TrainingRun.Resume(split.Path, Backend, train, n, test, m, epochs: 2);
        var a = SafeTensors.Read(Path.Combine(whole.Path, ModelStore.WeightsFile));
        var b = SafeTensors.Read(Path.Combine(split.Path, ModelStore.WeightsFile));
        Assert.Contains("quantizer.ema_sum", a.Names);
        foreach (string name in a.Names) Assert.Equal(a.Tensors[name].Data, b.Tensors[name].Data);
        Assert.Equal(full.History[^1].Perplexity, resumed.History[^1].Perplexity);

        var vq = (VqVae)ModelStore.Load(whole.Path, Backend);
        var priorOptions = new TrainingOptions { Epochs = 2, BatchSize = 64 };
        var spec2 = new PriorSpec { CodebookSize = 64, Height = 7, Width = 7, Channels = 16, Hidden = 8, Blocks = 1, FirstKernel = 5 };
        var p1 = PriorTraining.Fit(vq, train, n, test, m, priorOptions, whole.Path, spec: spec2);
        File.Copy(Path.Combine(whole.Path, ModelStore.WeightsFile), Path.Combine(split.Path, ModelStore.WeightsFile), overwrite: true);
        PriorTraining.Fit(vq, train, n, test, m, priorOptions with { Epochs = 1 }, split.Path, spec: spec2);
        var p2 = PriorTraining.Resume(vq, split.Path, train, n, test, m, epochs: 2);
        Assert.Equal(p1.TestNll, p2.TestNll);
        var wa = SafeTensors.Read(Path.Combine(whole.Path, PriorTraining.WeightsFile));
        var wb = SafeTensors.Read(Path.Combine(split.Path, PriorTraining.WeightsFile));
        foreach (string name in wa.Names) Assert.Equal(wa.Tensors[name].Data, wb.Tensors[name].Data);
        Assert.Equal(p1.TestNll, PriorTraining.Load(whole.Path, Backend).Nll(vq.CodesOf(test, m)), 6);
    }

    [Fact]
    public void SampledCodeGrids_AreAsLikelyUnderThePriorAsTheTestSet()
    {
        // a short run of both stages: the prior's own samples must score near the test codes, neither far likelier
        // (a collapsed sampler repeating one grid) nor far less likely (a sampler that ignores the prior)
        var (train, n, test, m) = SmallMnist(1024, 256);
        var vq = (VqVae)TrainingRun.Fit(Spec(), Backend, new TrainingOptions { Epochs = 1 }, train, n, test, m).Model;
        var prior = PriorTraining.Fit(vq, train, n, test, m, new TrainingOptions { Epochs = 5, BatchSize = 64 }).Prior;
        var testCodes = vq.CodesOf(test, m);
        double testNll = prior.Nll(testCodes);
        var samples = prior.Sample(128, new SeededRandom(1));
        double sampleNll = prior.Nll(samples);
        Assert.True(sampleNll > 0.6 * testNll && sampleNll < 1.25 * testNll, $"samples' NLL {sampleNll:F3} against the test set's {testNll:F3}");
        Assert.True(testNll < Math.Log(64) - 0.5, $"the prior learned nothing: test NLL {testNll:F3} against uniform {Math.Log(64):F3}");
        Assert.True(samples.Distinct().Count() > 8, "the samples use only a handful of codes");
        // a lower temperature draws likelier grids; the same seed at temperature 1 repeats the default draw
        double coolNll = prior.Nll(prior.Sample(128, new SeededRandom(1), temperature: 0.5f));
        Assert.True(coolNll < sampleNll, $"temperature 0.5 gave NLL {coolNll:F3}, not below temperature 1's {sampleNll:F3}");
        Assert.Equal(samples, prior.Sample(128, new SeededRandom(1), temperature: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => prior.Sample(1, new SeededRandom(1), temperature: 0f));
        using var scope = TensorScope.Begin();
        var images = vq.DecodeCodes(samples.AsSpan(0, 4 * 49)).ToArray();
        Assert.Equal(4 * 784, images.Length);
        Assert.All(images, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Spec_RoundTripsThroughJson_AndRefusesAnInconsistentLatent()
    {
        var spec = Spec(new VqSettings { CodebookSize = 32, CodeDim = 8, Update = "loss", DeadCodeSteps = 0, DataVariance = 0.09f });
        var back = ModelSpec.FromJson(spec.ToJson(), "test");
        Assert.Equal(spec.ToJson(), back.ToJson());
        Assert.Equal(32, back.Vq!.CodebookSize);
        var bad = new ModelSpec { Kind = "vqvae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 20, Loss = "mse", Vq = new VqSettings() };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.Contains("code dimension times the code grid", e.Message);
        Assert.Throws<ArgumentException>(() => new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 8, Vq = new VqSettings() }.Validate());
    }
}
