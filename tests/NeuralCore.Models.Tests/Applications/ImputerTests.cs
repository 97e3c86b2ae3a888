using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;
using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class ImputerTests
{
    [Fact]
    public void MaskedMse_CountsOnlyMaskedCells()
    {
        var b = new CpuBackend();
        var prediction = Tensor.FromArray(b, [1f, 2f, 3f, 4f], 2, 2);
        var target = Tensor.FromArray(b, [0f, 2f, 100f, 1f], 2, 2);
        var mask = Tensor.FromArray(b, [1f, 1f, 0f, 1f], 2, 2);
        // (1-0)² + (2-2)² + (4-1)² over 3 known cells; the 97 at the masked cell is ignored
        Assert.Equal(10f / 3f, MaskedMse.Loss(prediction, target, mask).Item(), 5);
        Assert.Equal(10f / 3f, MaskedMse.Loss(prediction, target, mask, maskedCount: 3).Item(), 5);
    }

    [Fact]
    public void MaskedMse_PassesGradCheck_AndMaskedCellsGetZeroGradient()
    {
        var b = new ReferenceBackend();
        var random = new SeededRandom(3);
        var prediction = Tensor.Uniform(b, random, -1f, 1f, 3, 4);
        var target = Tensor.Uniform(b, random, -1f, 1f, 3, 4);
        float[] m = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1];
        var mask = Tensor.FromArray(b, m, 3, 4);
        var result = GradCheck.Check("masked_mse", t => MaskedMse.Loss(t[0], t[1], mask), [prediction, target]);
        Assert.True(result.Passed, result.ToString());

        var p = Tensor.FromArray(b, prediction.ToArray(), 3, 4);
        p.RequiresGrad = true;
        MaskedMse.Loss(p, target, mask).Backward();
        float[] grad = p.Grad!.ToArray(), pv = p.ToArray(), tv = target.ToArray();
        for (int i = 0; i < m.Length; i++)
            Assert.Equal(m[i] * 2 * (pv[i] - tv[i]) / 8f, grad[i], 5);   // 8 known cells
    }

    /// <summary>Rows on a 1-D curve embedded in 4 columns (strongly correlated), with every 7th cell missing.</summary>
    private static (float[] Values, bool[] Missing, float[] Truth) CorrelatedTable(int rows)
    {
        var random = new SeededRandom(11);
        var truth = new float[rows * 4];
        for (int r = 0; r < rows; r++)
        {
            float t = random.NextFloat() * 2 - 1;
            truth[r * 4] = 10 * t;
            truth[r * 4 + 1] = 3 * t * t + 100;
            truth[r * 4 + 2] = -5 * t + 0.05f * random.NextGaussian();
            truth[r * 4 + 3] = MathF.Sin(2 * t);
        }
        var missing = new bool[truth.Length];
        var values = (float[])truth.Clone();
        for (int i = 3; i < truth.Length; i += 7) { missing[i] = true; values[i] = float.NaN; }
        return (values, missing, truth);
    }

    [Fact]
    public void Impute_KeepsObservedCellsBitIdentical_AndBeatsColumnMeans()
    {
        var (values, missing, truth) = CorrelatedTable(200);
        var imputer = new Imputer(new CpuBackend(), new ImputerOptions { Epochs = 150, Hidden = [32, 32], Seed = 1 });
        var result = imputer.Impute(values, missing, 4);

        Assert.Equal(missing.Count(m => m), result.FilledCount);
        double imputed = 0, mean = 0;
        float[] means = Imputer.ColumnMeans(values, 4);
        for (int i = 0; i < values.Length; i++)
        {
            if (!missing[i]) { Assert.Equal(BitConverter.SingleToInt32Bits(values[i]), BitConverter.SingleToInt32Bits(result.Values[i])); continue; }
            Assert.True(float.IsFinite(result.Values[i]));
            imputed += Math.Pow(result.Values[i] - truth[i], 2);
            mean += Math.Pow(means[i % 4] - truth[i], 2);
        }
        Assert.True(imputed < 0.25 * mean, $"imputer squared error {imputed:F2} is not well below the column means' {mean:F2}");
    }

    [Fact]
    public void Impute_IsReproducibleForASeed()
    {
        var (values, missing, _) = CorrelatedTable(60);
        var options = new ImputerOptions { Epochs = 20, Hidden = [16], Seed = 5 };
        var a = new Imputer(new CpuBackend(), options).Impute(values, missing, 4).Values;
        var b = new Imputer(new CpuBackend(), options).Impute(values, missing, 4).Values;
        Assert.Equal(a, b);
    }

    [Fact]
    public void Evaluate_HidesTheRequestedFraction_AndScoresBothMethods()
    {
        var (_, _, truth) = CorrelatedTable(100);   // complete: nothing missing
        var none = new bool[truth.Length];
        var score = ImputationEvaluation.Evaluate(new Imputer(new CpuBackend(), new ImputerOptions { Epochs = 100, Hidden = [32, 32] }),
            truth, none, 4, 0.2f, seed: 2);
        Assert.Equal(80, score.HiddenCells);   // 20% of 400 observed cells
        Assert.InRange(score.MeanRmse, 0.15, 0.5);
        Assert.True(score.ImputerRmse < 0.6 * score.MeanRmse, $"imputer {score.ImputerRmse:F4} vs mean {score.MeanRmse:F4}");
        Assert.Equal(ImputationEvaluation.ChooseHidden(none, 0.2f, 2), ImputationEvaluation.ChooseHidden(none, 0.2f, 2));
        Assert.NotEqual(ImputationEvaluation.ChooseHidden(none, 0.2f, 2), ImputationEvaluation.ChooseHidden(none, 0.2f, 3));
        Assert.Throws<ArgumentException>(() => ImputationEvaluation.Evaluate(new Imputer(new CpuBackend()), truth, none, 4, 1.5f, 0));
    }

    [Fact]
    public void ColumnMeans_IgnoreNaN_AndGiveZeroForAnEmptyColumn()
    {
        float[] values = [1, float.NaN, 3, float.NaN, float.NaN, float.NaN];
        Assert.Equal([2f, 0f], Imputer.ColumnMeans(values, 2));
    }

    [Fact]
    public void BadShapesAndOptions_AreOneLineArgumentErrors()
    {
        var imputer = new Imputer(new CpuBackend());
        var e = Assert.Throws<ArgumentException>(() => imputer.Impute(new float[6], new bool[5], 3));
        Assert.Contains("missing mask", e.Message);
        Assert.Throws<ArgumentException>(() => imputer.Impute([1f, float.PositiveInfinity], new bool[2], 2));
        Assert.Throws<ArgumentException>(() => new Imputer(new CpuBackend(), new ImputerOptions { MaskFraction = 1f }));
        e = Assert.Throws<ArgumentException>(() => imputer.Impute([1f, 0f, 2f, 0f], [false, true, false, true], 2));
        Assert.Contains("column 1 has no observed value", e.Message);
    }
}
