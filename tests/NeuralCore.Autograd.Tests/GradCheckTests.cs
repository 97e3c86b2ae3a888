using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

/// <summary>Every differentiable op passes a finite-difference gradient check, on both CPU backends.</summary>
public class GradCheckTests
{
    public static TheoryData<string> Backends => new() { "reference", "cpu" };

    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend() : new ReferenceBackend();

    private static Tensor Rand(IBackend b, ulong seed, float low, float high, params int[] shape) =>
        Tensor.Uniform(b, new SeededRandom(seed), low, high, shape);

    /// <summary>Values in [0.2, 1.5] with random signs: away from the kinks of relu/abs at 0.</summary>
    private static Tensor AwayFromZero(IBackend b, ulong seed, params int[] shape)
    {
        var t = Rand(b, seed, 0.2f, 1.5f, shape).ToArray();
        var r = new SeededRandom(seed + 100);
        for (int i = 0; i < t.Length; i++) if (r.NextFloat() < 0.5f) t[i] = -t[i];
        return Tensor.FromArray(b, t, shape);
    }

    private static void AssertPasses(GradCheckResult result) => Assert.True(result.Passed, result.ToString());

    public static TheoryData<string, string> UnaryOps()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in new[] { "reference", "cpu" })
        foreach (var op in new[] { "neg", "exp", "log", "sqrt", "pow", "abs", "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "scale", "add_scalar" })
            data.Add(backend, op);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void Unary(string backendName, string op)
    {
        var b = Create(backendName);
        bool positive = op is "log" or "sqrt" or "pow";
        var x = positive ? Rand(b, 1, 0.5f, 2f, 3, 5) : AwayFromZero(b, 1, 3, 5);
        Func<Tensor[], Tensor> f = op switch
        {
            "neg" => t => t[0].Neg(),
            "exp" => t => t[0].Exp(),
            "log" => t => t[0].Log(),
            "sqrt" => t => t[0].Sqrt(),
            "pow" => t => t[0].Pow(2.5f),
            "abs" => t => t[0].Abs(),
            "relu" => t => t[0].Relu(),
            "leaky_relu" => t => t[0].LeakyRelu(0.1f),
            "sigmoid" => t => t[0].Sigmoid(),
            "tanh" => t => t[0].Tanh(),
            "softplus" => t => t[0].Softplus(),
            "scale" => t => t[0].Mul(-1.5f),
            "add_scalar" => t => t[0].Add(0.75f),
            _ => throw new ArgumentException(op),
        };
        AssertPasses(GradCheck.Check(op, f, [x]));
    }

    public static TheoryData<string, string, int[], int[]> BinaryOps()
    {
        var data = new TheoryData<string, string, int[], int[]>();
        foreach (var backend in new[] { "reference", "cpu" })
        foreach (var op in new[] { "add", "sub", "mul", "div" })
        {
            data.Add(backend, op, [3, 4], [3, 4]);
            data.Add(backend, op, [3, 4], [4]);        // bias-style broadcast
            data.Add(backend, op, [3, 1], [1, 4]);     // both broadcast
            data.Add(backend, op, [2, 3, 4], [3, 1]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void Binary(string backendName, string op, int[] aShape, int[] bShape)
    {
        var b = Create(backendName);
        var x = Rand(b, 2, 0.5f, 2f, aShape);
        var y = Rand(b, 3, 0.5f, 2f, bShape);
        Func<Tensor[], Tensor> f = op switch
        {
            "add" => t => t[0].Add(t[1]),
            "sub" => t => t[0].Sub(t[1]),
            "mul" => t => t[0].Mul(t[1]),
            "div" => t => t[0].Div(t[1]),
            _ => throw new ArgumentException(op),
        };
        AssertPasses(GradCheck.Check(op, f, [x, y]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatMul_AllTransposes(string backendName)
    {
        var b = Create(backendName);
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            var a = Rand(b, 4, -1, 1, ta ? [5, 3] : [3, 5]);
            var c = Rand(b, 5, -1, 1, tb ? [4, 5] : [5, 4]);
            AssertPasses(GradCheck.Check($"matmul ta={ta} tb={tb}", t => t[0].MatMul(t[1], ta, tb), [a, c]));
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Linear(string backendName)
    {
        var b = Create(backendName);
        AssertPasses(GradCheck.Check("linear", t => t[0].Linear(t[1], t[2]),
            [Rand(b, 6, -1, 1, 4, 3), Rand(b, 7, -1, 1, 5, 3), Rand(b, 8, -1, 1, 5)]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SumAndMean_OverAxes(string backendName)
    {
        var b = Create(backendName);
        var x = Rand(b, 9, -1, 1, 2, 3, 4);
        AssertPasses(GradCheck.Check("sum all", t => t[0].Sum(), [x]));
        AssertPasses(GradCheck.Check("mean all", t => t[0].Mean(), [x]));
        AssertPasses(GradCheck.Check("sum axis 1", t => t[0].Sum(1), [x]));
        AssertPasses(GradCheck.Check("sum axis -1 keep", t => t[0].Sum(-1, keepDim: true), [x]));
        AssertPasses(GradCheck.Check("mean axis 0", t => t[0].Mean(0), [x]));
        AssertPasses(GradCheck.Check("sum axes 0,2", t => t[0].Sum([0, 2]), [x]));
        AssertPasses(GradCheck.Check("mean axes 1,2", t => t[0].Mean([1, 2]), [x]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ShapeOps(string backendName)
    {
        var b = Create(backendName);
        var x = Rand(b, 10, -1, 1, 2, 3, 4);
        // multiply by a position-dependent tensor so a wrong permutation of gradients shows up
        var w = Rand(b, 11, -1, 1, 4, 6);
        AssertPasses(GradCheck.Check("reshape", t => t[0].Reshape(4, 6).Mul(w), [x]));
        AssertPasses(GradCheck.Check("transpose", t => t[0].Transpose().Mul(Rand(b, 12, -1, 1, 2, 4, 3)), [x]));
        AssertPasses(GradCheck.Check("slice axis 1", t => t[0].Slice(1, 1, 2).Mul(Rand(b, 13, -1, 1, 2, 2, 4)), [x]));
        AssertPasses(GradCheck.Check("slice rows", t => t[0].SliceRows(1, 1).Mul(Rand(b, 14, -1, 1, 1, 3, 4)), [x]));
        var y = Rand(b, 15, -1, 1, 2, 2, 4);
        AssertPasses(GradCheck.Check("concat axis 1", t => TensorOps.Concat([t[0], t[1]], 1).Mul(Rand(b, 16, -1, 1, 2, 5, 4)), [x, y]));
        var z = Rand(b, 17, -1, 1, 1, 3, 4);
        AssertPasses(GradCheck.Check("concat axis 0", t => TensorOps.Concat([t[0], t[1]], 0).Mul(Rand(b, 18, -1, 1, 3, 3, 4)), [x, z]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Conv2d(string backendName)
    {
        var b = Create(backendName);
        foreach (var (stride, pad) in new[] { (1, 0), (1, 1), (2, 1) })
        {
            var x = Rand(b, 19, -1, 1, 2, 2, 5, 5);
            var w = Rand(b, 20, -1, 1, 3, 2, 3, 3);
            var bias = Rand(b, 21, -1, 1, 3);
            AssertPasses(GradCheck.Check($"conv2d s={stride} p={pad}", t => t[0].Conv2d(t[1], t[2], stride, pad), [x, w, bias]));
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ConvTranspose2d(string backendName)
    {
        var b = Create(backendName);
        foreach (var (stride, pad, outPad) in new[] { (1, 0, 0), (2, 1, 1), (2, 0, 1) })
        {
            var x = Rand(b, 22, -1, 1, 2, 3, 3, 3);
            var w = Rand(b, 23, -1, 1, 3, 2, 3, 3);
            var bias = Rand(b, 24, -1, 1, 2);
            AssertPasses(GradCheck.Check($"conv_transpose2d s={stride} p={pad} op={outPad}",
                t => t[0].ConvTranspose2d(t[1], t[2], stride, pad, outPad), [x, w, bias]));
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Losses(string backendName)
    {
        var b = Create(backendName);
        var p = Rand(b, 25, 0.05f, 0.95f, 3, 4);
        var target = Rand(b, 26, 0f, 1f, 3, 4);
        var logits = Rand(b, 27, -3f, 3f, 3, 4);
        foreach (var reduction in new[] { Reduction.Sum, Reduction.Mean })
        {
            AssertPasses(GradCheck.Check($"mse {reduction}", t => t[0].MseLoss(t[1], reduction), [logits, target]));
            AssertPasses(GradCheck.Check($"bce {reduction}", t => t[0].BinaryCrossEntropy(t[1], reduction), [p, target]));
            AssertPasses(GradCheck.Check($"bce logits {reduction}", t => t[0].BinaryCrossEntropyWithLogits(t[1], reduction), [logits, target]));
            AssertPasses(GradCheck.Check($"kl {reduction}", t => TensorOps.GaussianKlDivergence(t[0], t[1], reduction),
                [Rand(b, 28, -1, 1, 3, 2), Rand(b, 29, -1, 1, 3, 2)]));
        }
    }

    [Fact]
    public void GradCheck_CatchesAWrongBackward()
    {
        var b = new ReferenceBackend();
        var x = Rand(b, 30, 0.5f, 2f, 3, 3);
        // an op whose backward is deliberately wrong (gradient 2x too large)
        Tensor Wrong(Tensor[] t)
        {
            var y = t[0].Exp().Detach();
            return Autograd.Record(y, "bad_exp", [t[0]], (dy, gradOf) =>
            {
                var dx = gradOf(t[0]);
                if (dx != null) b.UnaryBackward(UnaryOp.Exp, t[0].Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
                if (dx != null) b.UnaryBackward(UnaryOp.Exp, t[0].Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
            });
        }
        var result = GradCheck.Check("bad_exp", Wrong, [x]);
        Assert.False(result.Passed);
        Assert.Equal(2.0, result.Analytic / result.Numeric, 2);
        Assert.Contains("FAIL", result.ToString());
    }
}
