using System.Globalization;
using NeuralCore.Kernels;

namespace NeuralCore.AutogradTests.PyTorch;

/// <summary>A tolerance looser than the default, and why (docs/design.md, "Differences from PyTorch", lists the same).</summary>
public sealed record Tolerance(double Relative, string Reason);

/// <summary>A documented difference from PyTorch: on <paramref name="Backend"/> (null: every backend), the gradients of
/// <paramref name="Ops"/> (only input <paramref name="Input"/>'s when given) may be finite where PyTorch's are +-Inf or NaN.</summary>
public sealed record KnownDifference(string? Backend, string[] Ops, int? Input, string Reason);

/// <summary>
/// The differential test against PyTorch: runs every case of torch_oracle.py through the engine's ops (TensorOps,
/// forward and backward with PyTorch's upstream gradient) on one backend and compares each value.
/// <para>A value passes when PyTorch's is NaN and ours is NaN; when PyTorch's is +-Inf and ours is the same infinity;
/// otherwise when ours is finite and |ours - PyTorch's| &lt;= relative tolerance * scale + 2^-126, scale being the
/// magnitude the oracle gives (|value| for elementwise results, the same computation on absolute values for sums;
/// see torch_oracle.py). 2^-126 is the smallest normal float: subnormal results are not compared (GPUs flush them to
/// zero, and PyTorch's own softplus(-100) = 3.92e-44 where exp(-100) = 3.78e-44). The sign of a zero is not
/// compared.</para>
/// </summary>
public static class PyTorchDifferential
{
    public const double DefaultRelative = 1e-5;

    /// <summary>Ops whose tolerance is not <see cref="DefaultRelative"/>.</summary>
    public static readonly IReadOnlyDictionary<string, Tolerance> Looser = new Dictionary<string, Tolerance>();

    /// <summary>The differences docs/design.md lists; every other value must match.</summary>
    public static readonly IReadOnlyList<KnownDifference> Known =
    [
        new("reference", ["pow", "gelu", "div"], null,
            "the reference backend evaluates derivatives in double, so a float intermediate that overflows in PyTorch " +
            "(2 * 3e38 in pow's alpha x^(alpha-1), x^2 in gelu's, a / b in division's) does not, and it returns the finite " +
            "true gradient where PyTorch returns +-Inf or NaN"),
        new(null, ["bce"], 1,
            "the target's gradient at a probability of exactly 0 or 1 is the derivative of the clamped loss the forward " +
            "computes (ln clamped at -100, so +-100 g); PyTorch returns -logit(p) unclamped there, +-Inf"),
        new(null, ["bce_with_logits"], 1,
            "the target's gradient -a g with mean reduction: the engine scales g by 1/n before multiplying, PyTorch after, " +
            "so for logits near 3e38 PyTorch's intermediate overflows to +-Inf where the engine returns the finite value"),
    ];

    /// <summary>The relative tolerance of <paramref name="op"/>.</summary>
    public static double RelativeTolerance(string op) => Looser.TryGetValue(op, out var t) ? t.Relative : DefaultRelative;

    /// <summary>Every op name the oracle covers.</summary>
    public static IEnumerable<string> Ops(IEnumerable<OracleCase> cases) => cases.Select(c => c.Op).Distinct();

    /// <summary>Runs every case on <paramref name="backend"/>; returns one line per value that differs (empty: all agree).</summary>
    public static List<string> Compare(IBackend backend, IEnumerable<OracleCase> cases)
    {
        var failures = new List<string>();
        foreach (var c in cases)
        {
            try
            {
                CompareCase(backend, c, failures);
            }
            catch (Exception e)
            {
                failures.Add($"{c.Name}: {e.GetType().Name}: {e.Message}");
            }
        }
        return failures;
    }

    private static void CompareCase(IBackend backend, OracleCase c, List<string> failures)
    {
        var inputs = c.Inputs.Select(a =>
        {
            var t = Tensor.FromArray(backend, a.Values, new Shape(a.Shape));
            t.RequiresGrad = true;
            return t;
        }).ToArray();
        var y = Apply(c, inputs);
        double tolerance = RelativeTolerance(c.Op);
        Check(c, "output", c.Output, c.OutputScale, y.Shape.ToArray(), y.ToArray(), tolerance, false, failures);

        // argmin, argmax and one_hot have no backward (the oracle gives zero gradients for them)
        if (y.RequiresGrad) y.Backward(Tensor.FromArray(backend, c.Upstream.Values, new Shape(c.Upstream.Shape)));
        for (int i = 0; i < inputs.Length; i++)
        {
            var grad = inputs[i].Grad?.ToArray() ?? new float[inputs[i].Count];
            bool finiteAllowed = Known.Any(k => (k.Backend == null || k.Backend == backend.Name) && k.Ops.Contains(c.Op) && (k.Input == null || k.Input == i));
            Check(c, $"grad[{i}]", c.Gradients[i], c.GradientScales[i], inputs[i].Shape.ToArray(), grad, tolerance, finiteAllowed, failures);
        }
    }

    /// <summary>The engine's op of case <paramref name="c"/> on <paramref name="x"/>.</summary>
    public static Tensor Apply(OracleCase c, Tensor[] x)
    {
        var reduction = c.Text("reduction") switch { "sum" => Reduction.Sum, "none" => Reduction.None, _ => Reduction.Mean };
        // class and row indices travel as parameters; the engine holds them as floats in a tensor
        Tensor Indices(string name, int[] shape) =>
            Tensor.FromArray(x[0].Backend, c.Ints(name)!.Select(i => (float)i).ToArray(), new Shape(shape));
        return c.Op switch
        {
            "neg" => x[0].Neg(),
            "exp" => x[0].Exp(),
            "log" => x[0].Log(),
            "sqrt" => x[0].Sqrt(),
            "abs" => x[0].Abs(),
            "relu" => x[0].Relu(),
            "leaky_relu" => x[0].LeakyRelu(c.Alpha),
            "sigmoid" => x[0].Sigmoid(),
            "tanh" => x[0].Tanh(),
            "softplus" => x[0].Softplus(),
            "pow" => x[0].Pow(c.Alpha),
            "scale" => x[0].Mul(c.Alpha),
            "add_scalar" => x[0].Add(c.Alpha),
            "silu" => x[0].Silu(),
            "gelu" => x[0].Gelu(),
            "add" => x[0].Add(x[1]),
            "sub" => x[0].Sub(x[1]),
            "mul" => x[0].Mul(x[1]),
            "div" => x[0].Div(x[1]),
            "matmul" => x[0].MatMul(x[1], c.Flag("transpose_a"), c.Flag("transpose_b")),
            "linear" => x[0].Linear(x[1], x[2]),
            "sum" => c.Ints("axes") switch
            {
                null => x[0].Sum(),
                [int axis] => x[0].Sum(axis, c.Flag("keepdim")),
                var axes => x[0].Sum(axes, c.Flag("keepdim")),
            },
            "mean" => c.Ints("axes") switch
            {
                null => x[0].Mean(),
                [int axis] => x[0].Mean(axis, c.Flag("keepdim")),
                var axes => x[0].Mean(axes, c.Flag("keepdim")),
            },
            "reshape" => x[0].Reshape(c.Ints("shape")!),
            "transpose" => x[0].Transpose(),
            "slice" => x[0].Slice(c.Int("axis"), c.Int("start"), c.Int("length")),
            "concat" => TensorOps.Concat(x, c.Int("axis")),
            "conv2d" => x[0].Conv2d(x[1], x[2], c.Int("stride"), c.Int("padding")),
            "conv_transpose2d" => x[0].ConvTranspose2d(x[1], x[2], c.Int("stride"), c.Int("padding"), c.Int("output_padding")),
            "permute" => x[0].Permute(c.Ints("axes")!),
            "gather" => x[0].Gather(Indices("indices", c.Ints("indices_shape")!)),
            "gather_sum" => x[0].GatherSum(Indices("indices", c.Ints("indices_shape")!)),
            "one_hot" => Indices("indices", c.Ints("indices_shape")!).OneHot(c.Int("classes")),
            "argmin" => x[0].ArgMin(c.Int("axis"), c.Flag("keepdim")),
            "argmax" => x[0].ArgMax(c.Int("axis"), c.Flag("keepdim")),
            "masked_conv2d" => x[0].MaskedConv2d(x[1],
                TensorOps.PixelCnnMask(x[0].Backend, c.Text("mask") == "A" ? PixelCnnMaskType.A : PixelCnnMaskType.B, c.Int("kernel"), c.Int("kernel")),
                x[2], 1, c.Int("padding")),
            "cross_entropy" => x[0].CrossEntropy(Indices("targets", [.. x[0].Shape.Dims[..1], .. x[0].Shape.Dims[2..]]), reduction),
            "mse" => x[0].MseLoss(x[1], reduction),
            "bce" => x[0].BinaryCrossEntropy(x[1], reduction),
            "bce_with_logits" => x[0].BinaryCrossEntropyWithLogits(x[1], reduction),
            "gaussian_kl" => TensorOps.GaussianKlDivergence(x[0], x[1], reduction),
            _ => throw new NotSupportedException($"the oracle has op '{c.Op}', which this test does not map to the engine"),
        };
    }

    private const double SmallestNormal = 1.1754943508222875e-38;

    private static void Check(OracleCase c, string what, OracleArray want, OracleArray scale, int[] shape, float[] got,
        double tolerance, bool finiteAllowed, List<string> failures)
    {
        if (!shape.SequenceEqual(want.Shape))
        {
            failures.Add($"{c.Name} {what}: shape [{string.Join(",", shape)}], PyTorch [{string.Join(",", want.Shape)}]");
            return;
        }
        for (int i = 0; i < got.Length; i++)
        {
            float w = want.Values[i], g = got[i];
            bool ok = !float.IsFinite(w) && finiteAllowed && float.IsFinite(g)
                || (float.IsNaN(w) ? float.IsNaN(g)
                : float.IsInfinity(w) ? g == w
                : float.IsFinite(g) && Math.Abs((double)g - w) <= tolerance * scale.Values[i] + SmallestNormal);
            if (!ok) failures.Add(Describe(c, what, i, w, g, scale.Values[i], tolerance));
        }
    }

    private static string Describe(OracleCase c, string what, int i, float want, float got, float scale, double tolerance)
    {
        // elementwise cases name the inputs of the element
        int count = c.Output.Values.Length;
        string at = c.Inputs.All(a => a.Values.Length == count) && c.Gradients.All(g => g.Values.Length == count)
            ? " at (" + string.Join(", ", c.Inputs.Select(a => G(a.Values[i]))) + ")"
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{c.Name} {what}[{i}]{at}: PyTorch {G(want)}, engine {G(got)} (allowed {tolerance:0e0} x {G(scale)})");
    }

    private static string G(float v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
