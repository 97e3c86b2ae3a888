using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// Exact answers at the edges where the ops once differed from PyTorch (the differential test in
/// NeuralCore.Autograd.Tests compares everything within a tolerance; these pin the bits that must be exact), on the
/// reference backend and on both forms of the CPU backend (a span of 1 runs the scalar form, a span of 5 the vector form).
/// </summary>
public class EdgeValueTests
{
    public static TheoryData<string> Backends => ["reference", "cpu"];

    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend(threads: 1) : new ReferenceBackend();

    /// <summary>op(x) and dx = 0 + 1 * op'(x) for x repeated n times, n = 1 and 5.</summary>
    private static IEnumerable<(float Y, float Gradient)> Run(IBackend backend, UnaryOp op, float x, float alpha = 0f)
    {
        foreach (int n in new[] { 1, 5 })
        {
            var xs = backend.Allocate(n);
            backend.Upload(Enumerable.Repeat(x, n).ToArray(), xs);
            var ys = backend.Allocate(n);
            var dy = backend.Allocate(n);
            backend.Fill(dy, 1f, 0, n);
            var dx = backend.Allocate(n);
            backend.Unary(op, xs, ys, n, alpha);
            backend.UnaryBackward(op, xs, ys, dy, dx, n, alpha);
            float[] y = new float[n], g = new float[n];
            backend.Download(ys, y);
            backend.Download(dx, g);
            for (int i = 0; i < n; i++) yield return (y[i], g[i]);
        }
    }

    private static void Bits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual) || float.IsNaN(expected) && float.IsNaN(actual),
            $"{what}: expected {expected:G9}, got {actual:G9}");

    [Theory]
    [MemberData(nameof(Backends))]
    public void ExpAndSigmoid_AreExactWhereTheyRoundToOneAndAHalf(string name)
    {
        using var backend = Create(name);
        foreach (float x in new[] { 0f, -0f, 1e-9f, -1e-9f, 1e-40f, -2.9e-8f })
        {
            foreach (var (y, g) in Run(backend, UnaryOp.Exp, x)) { Bits(1f, y, $"exp({x})"); Bits(1f, g, $"exp'({x})"); }
            foreach (var (y, g) in Run(backend, UnaryOp.Sigmoid, x)) { Bits(0.5f, y, $"sigmoid({x})"); Bits(0.25f, g, $"sigmoid'({x})"); }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Tanh_IsExactAndKeepsTheSignNearZero(string name)
    {
        using var backend = Create(name);
        foreach (float x in new[] { 0f, -0f, 1e-40f, -1e-40f, 1e-7f, -1e-7f, 1e-5f, -1e-5f })
            foreach (var (y, g) in Run(backend, UnaryOp.Tanh, x))
            {
                Bits(x, y, $"tanh({x})");
                Bits(1f, g, $"tanh'({x})");
            }
        // below and above the switch between the polynomial and the exp form: within float rounding of tanh
        foreach (float x in new[] { 0.001f, -0.01f, 0.3f, -0.6249f, 0.625f, -0.7f, 3f })
            foreach (var (y, _) in Run(backend, UnaryOp.Tanh, x))
                Assert.True(Math.Abs(y - Math.Tanh(x)) <= 2.5e-7 * Math.Abs(Math.Tanh(x)), $"tanh({x}) = {y:G9}, exact {Math.Tanh(x):G9}");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Softplus_KeepsPrecisionForLargeNegativeInputs_AndIsXForLargeOnes(string name)
    {
        using var backend = Create(name);
        foreach (float x in new[] { -8f, -17f, -20f, -30f, -50f, -80f })
        {
            double exact = Math.Exp(x);   // ln(1 + e^x) = e^x (1 - e^x / 2 ...), and e^x < 4e-4 here
            exact -= exact * exact / 2;
            foreach (var (y, g) in Run(backend, UnaryOp.Softplus, x))
            {
                Assert.True(Math.Abs(y - exact) <= 1e-6 * exact, $"softplus({x}) = {y:G9}, exact {exact:G9}");
                Assert.True(Math.Abs(g - 1 / (1 + Math.Exp(-x))) <= 1e-6 * g, $"softplus'({x}) = {g:G9}");
            }
        }
        foreach (float x in new[] { 20.5f, 30f, 1e20f, 3e38f, float.PositiveInfinity })
            foreach (var (y, g) in Run(backend, UnaryOp.Softplus, x)) { Bits(x, y, $"softplus({x})"); Bits(1f, g, $"softplus'({x})"); }
        foreach (var (y, g) in Run(backend, UnaryOp.Softplus, float.NegativeInfinity)) { Bits(0f, y, "softplus(-inf)"); Bits(0f, g, "softplus'(-inf)"); }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Relu_KeepsNaN_AndPassesItsGradient(string name)
    {
        using var backend = Create(name);
        foreach (var (y, g) in Run(backend, UnaryOp.Relu, float.NaN)) { Bits(float.NaN, y, "relu(NaN)"); Bits(1f, g, "relu'(NaN)"); }
        foreach (var (y, g) in Run(backend, UnaryOp.Relu, 0f)) { Bits(0f, y, "relu(0)"); Bits(0f, g, "relu'(0)"); }
        foreach (var (y, g) in Run(backend, UnaryOp.Relu, float.NegativeInfinity)) { Bits(0f, y, "relu(-inf)"); Bits(0f, g, "relu'(-inf)"); }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void PowAndAbs_GradientsAtZeroAndNaN(string name)
    {
        using var backend = Create(name);
        // x^0 is constant: gradient 0 at 0, at infinities and at NaN (0 * x^-1 would be NaN or inf * 0)
        foreach (float x in new[] { 0f, -0f, float.PositiveInfinity, float.NaN, 2f })
            foreach (var (y, g) in Run(backend, UnaryOp.Pow, x, 0f)) { Bits(1f, y, $"pow({x}, 0)"); Bits(0f, g, $"pow'({x}, 0)"); }
        // exponent 0.5 is sqrt, as PyTorch computes it: NaN at -inf, and the gradient 0.5 / sqrt(-0) = -inf
        foreach (var (y, _) in Run(backend, UnaryOp.Pow, float.NegativeInfinity, 0.5f)) Bits(float.NaN, y, "pow(-inf, 0.5)");
        foreach (var (_, g) in Run(backend, UnaryOp.Pow, -0f, 0.5f)) Bits(float.NegativeInfinity, g, "pow'(-0, 0.5)");
        // |x|' is sign(x): 0 at NaN, no exception
        foreach (var (y, g) in Run(backend, UnaryOp.Abs, float.NaN)) { Bits(float.NaN, y, "abs(NaN)"); Bits(0f, g, "abs'(NaN)"); }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Losses_SumTermByTerm_SoHugeInputsDoNotCancelToNaN(string name)
    {
        using var backend = Create(name);
        float Loss(LossKind kind, float[] a, float[] b)
        {
            var x = backend.Allocate(a.Length);
            var y = backend.Allocate(b.Length);
            var r = backend.Allocate(1);
            backend.Upload(a, x);
            backend.Upload(b, y);
            backend.Loss(kind, x, y, r, a.Length);
            var result = new float[1];
            backend.Download(r, result);
            return result[0];
        }
        // every term is finite (logit 3e38 with target 1 costs 0), but max(a, 0) and a b summed apart overflow
        float[] logits = [3e38f, 3e38f, 3e38f, 3e38f, 3e38f], ones = [1f, 1f, 1f, 1f, 1f];
        Bits(0f, Loss(LossKind.BinaryCrossEntropyWithLogits, logits, ones), "bce_with_logits(3e38, 1)");
        // KL with overflowing log-variances is +inf (PyTorch's answer), not inf - inf
        float[] mu = [0f, 0f, 0f, 0f, 0f], logVar = [3e38f, 3e38f, 0f, 0f, 0f];
        Bits(float.PositiveInfinity, Loss(LossKind.GaussianKl, mu, logVar), "gaussian_kl(lv = 3e38)");
        // and exactly 0 at the prior
        Bits(0f, Loss(LossKind.GaussianKl, mu, [0f, 0f, 0f, 0f, 0f]), "gaussian_kl(0, 0)");
    }
}
