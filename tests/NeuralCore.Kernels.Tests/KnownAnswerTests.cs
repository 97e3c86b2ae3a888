using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// Known answers, computed by hand or by PyTorch, for each op family on the reference backend (the oracle of the
/// conformance suite, so it is checked against something other than itself) and on the CPU backend.
/// </summary>
public class KnownAnswerTests
{
    public static TheoryData<string> Backends => ["reference", "cpu"];

    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend(threads: 1) : new ReferenceBackend();

    private static DeviceBuffer Up(IBackend backend, params float[] values)
    {
        var buffer = backend.Allocate(values.Length);
        backend.Upload(values, buffer);
        return buffer;
    }

    private static float[] Down(IBackend backend, DeviceBuffer buffer)
    {
        var values = new float[buffer.Length];
        backend.Download(buffer, values);
        return values;
    }

    private static void Close(double expected, double actual, double relative = 1e-5, double absolute = 1e-12) =>
        Assert.True(Math.Abs(expected - actual) <= absolute + relative * Math.Abs(expected), $"expected {expected:G9}, got {actual:G9}");

    /// <summary>x, y and dy/dx from PyTorch 1.13 (float32): F.silu and F.gelu(approximate='tanh'), autograd for the gradient.</summary>
    public static TheoryData<UnaryOp, float, float, float> PyTorchActivations => new()
    {
        { UnaryOp.Silu, 0.0f, 0.0f, 0.5f },
        { UnaryOp.Silu, 0.001f, 0.000500250025652349f, 0.500499963760376f },
        { UnaryOp.Silu, -0.001f, -0.0004997500218451023f, 0.49950000643730164f },
        { UnaryOp.Silu, 1.0f, 0.7310585975646973f, 0.9276705384254456f },
        { UnaryOp.Silu, -1.0f, -0.2689414322376251f, 0.07232948392629623f },
        { UnaryOp.Silu, 3.0f, 2.857722520828247f, 1.0881041288375854f },
        { UnaryOp.Silu, -3.0f, -0.14227761328220367f, -0.08810410648584366f },
        { UnaryOp.Silu, 20.0f, 20.0f, 1.0f },
        { UnaryOp.Silu, -20.0f, -4.1223074731533416e-08f, -3.916192170549948e-08f },
        { UnaryOp.Silu, 88.0f, 88.0f, 1.0f },
        { UnaryOp.Silu, -88.0f, -5.328049755387946e-37f, -5.2675033481724166e-37f },
        { UnaryOp.Gelu, 0.0f, 0.0f, 0.5f },
        { UnaryOp.Gelu, 0.001f, 0.0005003989790566266f, 0.5007978677749634f },
        { UnaryOp.Gelu, -0.001f, -0.0004996010684408247f, 0.4992021322250366f },
        { UnaryOp.Gelu, 1.0f, 0.8411920070648193f, 1.0829640626907349f },
        { UnaryOp.Gelu, -1.0f, -0.15880799293518066f, -0.08296409249305725f },
        { UnaryOp.Gelu, 3.0f, 2.9963626861572266f, 1.0115842819213867f },
        { UnaryOp.Gelu, -3.0f, -0.0036374330520629883f, -0.011584296822547913f },
        { UnaryOp.Gelu, 20.0f, 20.0f, 1.0f },
        { UnaryOp.Gelu, -20.0f, -0.0f, 0.0f },
        { UnaryOp.Gelu, 88.0f, 88.0f, 1.0f },
        { UnaryOp.Gelu, -88.0f, -0.0f, 0.0f },
    };

    [Theory]
    [MemberData(nameof(PyTorchActivations))]
    public void Activations_MatchPyTorch(UnaryOp op, float x, float y, float gradient)
    {
        foreach (string name in new[] { "reference", "cpu" })
        {
            using var backend = Create(name);
            // a span of 5 runs the CPU's vector form, a span of 1 its scalar form
            foreach (int n in new[] { 1, 5 })
            {
                var xs = Up(backend, Enumerable.Repeat(x, n).ToArray());
                var ys = backend.Allocate(n);
                var dy = Up(backend, Enumerable.Repeat(1f, n).ToArray());
                var dx = backend.Allocate(n);
                backend.Unary(op, xs, ys, n);
                backend.UnaryBackward(op, xs, ys, dy, dx, n);
                Assert.All(Down(backend, ys), v => Close(y, v, 1e-4));
                Assert.All(Down(backend, dx), v => Close(gradient, v, 1e-4));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Unary_HandComputed(string name)
    {
        using var backend = Create(name);
        (UnaryOp Op, float Alpha, float X, double Y, double Gradient)[] cases =
        [
            (UnaryOp.Neg, 0, 2, -2, -1), (UnaryOp.Exp, 0, 1, Math.E, Math.E), (UnaryOp.Log, 0, 4, Math.Log(4), 0.25),
            (UnaryOp.Sqrt, 0, 9, 3, 1.0 / 6), (UnaryOp.Abs, 0, -2, 2, -1), (UnaryOp.Relu, 0, -1, 0, 0),
            (UnaryOp.LeakyRelu, 0.1f, -2, -0.2, 0.1), (UnaryOp.Sigmoid, 0, 0, 0.5, 0.25), (UnaryOp.Tanh, 0, 0, 0, 1),
            (UnaryOp.Softplus, 0, 0, Math.Log(2), 0.5), (UnaryOp.Pow, 3, 2, 8, 12), (UnaryOp.Scale, -3, 2, -6, -3),
            (UnaryOp.AddScalar, 0.5f, 2, 2.5, 1),
        ];
        foreach (var c in cases)
        {
            var x = Up(backend, c.X);
            var y = backend.Allocate(1);
            var dx = Up(backend, 1f);   // backward accumulates: 1 + gradient
            backend.Unary(c.Op, x, y, 1, c.Alpha);
            backend.UnaryBackward(c.Op, x, y, Up(backend, 1f), dx, 1, c.Alpha);
            Close(c.Y, Down(backend, y)[0], 1e-6);
            Close(1 + c.Gradient, Down(backend, dx)[0], 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Binary_BroadcastAndGradients(string name)
    {
        using var backend = Create(name);
        // [2, 2] / [2]: rows divided by (2, 4); gradients with dc = 1
        var a = Up(backend, 2, 4, 6, 8);
        var b = Up(backend, 2, 4);
        var c = backend.Allocate(4);
        backend.Binary(BinaryOp.Div, a, [2, 2], b, [2], c, [2, 2]);
        Assert.Equal([1f, 1f, 3f, 2f], Down(backend, c));
        var da = backend.Allocate(4);
        var db = backend.Allocate(2);
        backend.BinaryBackward(BinaryOp.Div, a, [2, 2], b, [2], Up(backend, 1, 1, 1, 1), [2, 2], da, db);
        Assert.Equal([0.5f, 0.25f, 0.5f, 0.25f], Down(backend, da));
        // d/db of a/b = -a/b^2, summed over the rows: -(2 + 6)/4 and -(4 + 8)/16
        Assert.Equal([-2f, -0.75f], Down(backend, db));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Losses_HandComputed(string name)
    {
        using var backend = Create(name);
        (LossKind Kind, float[] A, float[] B, double Loss, double GradientA0, double GradientB0)[] cases =
        [
            (LossKind.SquaredError, [1, 2], [0, 0], 5, 2, -2),
            (LossKind.BinaryCrossEntropy, [0.5f], [1], Math.Log(2), -2, 0),
            (LossKind.BinaryCrossEntropyWithLogits, [0], [1], Math.Log(2), -0.5, 0),
            (LossKind.GaussianKl, [1], [0], 0.5, 1, 0),
        ];
        foreach (var c in cases)
        {
            int n = c.A.Length;
            var a = Up(backend, c.A);
            var b = Up(backend, c.B);
            var loss = backend.Allocate(1);
            backend.Loss(c.Kind, a, b, loss, n);
            Close(c.Loss, Down(backend, loss)[0], 1e-6);
            var da = backend.Allocate(n);
            var db = backend.Allocate(n);
            backend.LossBackward(c.Kind, a, b, Up(backend, 1f), 1f, da, db, n);
            Close(c.GradientA0, Down(backend, da)[0], 1e-6, 1e-7);
            Close(c.GradientB0, Down(backend, db)[0], 1e-6, 1e-7);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatMulReduceAndConvolution_HandComputed(string name)
    {
        using var backend = Create(name);
        var c = backend.Allocate(4);
        backend.MatMul(Up(backend, 1, 2, 3, 4), Up(backend, 5, 6, 7, 8), c, 2, 2, 2, false, false, false);
        Assert.Equal([19f, 22f, 43f, 50f], Down(backend, c));

        var sums = backend.Allocate(2);
        backend.ReduceSum(Up(backend, 1, 2, 3, 4, 5, 6), sums, 1, 3, 2, false);   // [3, 2] summed over rows
        Assert.Equal([9f, 12f], Down(backend, sums));

        // 3x3 input 1..9, 2x2 kernel of ones, stride 1, no padding: sums of each 2x2 window
        var g = new ConvGeometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0);
        var y = backend.Allocate(4);
        backend.Conv2dForward(Up(backend, 1, 2, 3, 4, 5, 6, 7, 8, 9), Up(backend, 1, 1, 1, 1), y, g);
        Assert.Equal([12f, 16f, 24f, 28f], Down(backend, y));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void AdamFirstStep_MovesByTheLearningRate(string name)
    {
        using var backend = Create(name);
        // step 1: m = 0.1 g, v = 0.001 g^2; the bias corrections make both g, so p -= lr g / (|g| + eps)
        var p = Up(backend, 1f);
        backend.AdamStep(p, Up(backend, 0.5f), backend.Allocate(1), backend.Allocate(1), 1,
            new AdamParameters(0.01f, 0.9f, 0.999f, 1e-8f, 0f, false, 1));
        Close(1 - 0.01 * 0.5 / (0.5 + 1e-8), Down(backend, p)[0], 1e-6);
    }
}
