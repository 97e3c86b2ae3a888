using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Tests.Autoencoders;

/// <summary>The prior's fused ops (linear rows, the first layer's gather table): finite-difference gradients, and the numbers of the unfused ops.</summary>
public class PriorOpsTests
{
    public static TheoryData<string, bool> Cases => new() { { "reference", false }, { "reference", true }, { "cpu", false }, { "cpu", true } };

    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend() : new ReferenceBackend();

    [Theory]
    [MemberData(nameof(Cases))]
    public void LinearRows_PassesGradCheck(string backendName, bool relu)
    {
        var b = Create(backendName);
        // seed 13: every pre-activation is at least 0.27 from the ReLU's kink, far beyond the finite-difference step
        var random = new SeededRandom(13);
        var x = Tensor.Uniform(b, random, -1f, 1f, 5, 2, 3);         // [n, taps, channels], read as [5, 6]
        var weight = Tensor.Uniform(b, random, -1f, 1f, 4, 6, 1, 1);   // a 1x1 convolution's weight, read as [4, 6]
        var bias = Tensor.Uniform(b, random, -1f, 1f, 4);
        var result = GradCheck.Check(relu ? "linear_rows_relu" : "linear_rows", t => PriorOps.LinearRows(t[0], t[1], t[2], relu), [x, weight, bias]);
        Assert.True(result.Passed, result.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LinearRows_GivesTheNumbersOfReshapeLinearAndRelu(bool relu)
    {
        var b = new CpuBackend();
        var random = new SeededRandom(6);
        var x = Tensor.Uniform(b, random, -1f, 1f, 37, 5, 4);
        var weight = Tensor.Uniform(b, random, -1f, 1f, 9, 20, 1, 1);
        var bias = Tensor.Uniform(b, random, -1f, 1f, 9);
        var fused = PriorOps.LinearRows(x, weight, bias, relu).ToArray();
        var plain = x.Reshape(37, 20).Linear(weight.Reshape(9, 20), bias);
        if (relu) plain = plain.Relu();
        Assert.Equal(plain.ToArray(), fused);
        Assert.Throws<ArgumentException>(() => PriorOps.LinearRows(x, Tensor.Zeros(b, 9, 21), bias));
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void LinearRowsWithAZeroRow_PassesGradCheck_AndAppendsZeros(string backendName)
    {
        var b = Create(backendName);
        var random = new SeededRandom(13);
        var x = Tensor.Uniform(b, random, -1f, 1f, 5, 2, 3);
        var weight = Tensor.Uniform(b, random, -1f, 1f, 4, 6, 1, 1);
        var bias = Tensor.Uniform(b, random, -1f, 1f, 4);
        var padded = PriorOps.LinearRows(x, weight, bias, relu: true, zeroRow: true);
        Assert.Equal(new Shape(6, 4), padded.Shape);
        var values = padded.ToArray();
        Assert.Equal(PriorOps.LinearRows(x, weight, bias, relu: true).ToArray(), values[..20]);
        Assert.Equal(new float[4], values[20..]);
        // the zero row is a constant: a loss that reads it passes no gradient through it
        var mix = Tensor.Uniform(b, random, -1f, 1f, 6, 4);
        var result = GradCheck.Check("linear_rows_zero_row", t => PriorOps.LinearRows(t[0], t[1], t[2], relu: true, zeroRow: true).Mul(mix), [x, weight, bias]);
        Assert.True(result.Passed, result.ToString());
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void GatherTable_PassesGradCheck(string backendName)
    {
        var b = Create(backendName);
        var random = new SeededRandom(4);
        var weight = Tensor.Uniform(b, random, -1f, 1f, 3, 2, 3, 3);   // [out, in, s, s]
        var bias = Tensor.Uniform(b, random, -1f, 1f, 3);
        // a weighted sum, so that every row of the table (the zero row included) reaches the loss with its own weight
        var mix = Tensor.Uniform(b, random, -1f, 1f, 2 * 9 + 2, 3);
        var result = GradCheck.Check("gather_table", t => PriorOps.GatherTable(t[0], t[1]).Mul(mix), [weight, bias]);
        Assert.True(result.Passed, result.ToString());
    }

    [Fact]
    public void GatherTable_GivesTheNumbersOfTransposeAndConcat()
    {
        var b = new CpuBackend();
        var random = new SeededRandom(8);
        var weight = Tensor.Uniform(b, random, -1f, 1f, 5, 4, 3, 3);
        var bias = Tensor.Uniform(b, random, -1f, 1f, 5);
        var table = PriorOps.GatherTable(weight, bias).ToArray();
        var plain = TensorOps.Concat([weight.Reshape(5, 36).Transpose(), Tensor.Zeros(b, 1, 5), bias.Reshape(1, 5)], 0);
        Assert.Equal(plain.ToArray(), table);
        Assert.Throws<ArgumentException>(() => PriorOps.GatherTable(weight, Tensor.Zeros(b, 4)));
    }
}
