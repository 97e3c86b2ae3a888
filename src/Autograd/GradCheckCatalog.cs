using System.Globalization;
using System.Text;
using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// A computation to check: a function of leaf tensors it reads directly (created requiring gradients, or a
/// module's parameters), and the tolerances of <see cref="GradCheck.CheckInPlace"/>.
/// </summary>
/// <param name="Function">Deterministic computation; any noise must come from a freshly seeded generator inside it.</param>
/// <param name="Tensors">The leaves whose gradients are checked (perturbed in place, then restored).</param>
public sealed record GradCheckProblem(Func<Tensor> Function, IReadOnlyList<Tensor> Tensors)
{
    /// <summary>Step of the central finite difference.</summary>
    public double Epsilon { get; init; } = 1e-2;
    /// <summary>Largest absolute difference between analytic and numeric gradient that passes.</summary>
    public double AbsoluteTolerance { get; init; } = 2e-3;
    /// <summary>Largest difference relative to the gradient's magnitude that passes.</summary>
    public double RelativeTolerance { get; init; } = 2e-2;
}

/// <summary>One entry of a gradient-check catalogue.</summary>
/// <param name="Op">The family it belongs to, matched by <c>neuralcore gradcheck --op</c> (e.g. "matmul", "Linear").</param>
/// <param name="Name">This variant, e.g. "matmul A^T B" (the row of the table).</param>
/// <param name="Build">Creates the tensors and the function on a backend.</param>
public sealed record GradCheckCase(string Op, string Name, Func<IBackend, GradCheckProblem> Build)
{
    /// <summary>Builds the problem on <paramref name="backend"/> and compares backward with finite differences.</summary>
    public GradCheckResult Run(IBackend backend)
    {
        var p = Build(backend);
        return GradCheck.CheckInPlace(Name, p.Function, p.Tensors, p.Epsilon, p.AbsoluteTolerance, p.RelativeTolerance);
    }
}

/// <summary>
/// The finite-difference checks of every differentiable op in <see cref="TensorOps"/> (small shapes, inputs
/// away from kinks), plus helpers to select, run and print a catalogue. Layers and models add theirs in
/// NeuralCore.Models (<c>LayerGradChecks</c>); <c>neuralcore gradcheck</c> runs both.
/// </summary>
public static class GradCheckCatalog
{
    /// <summary>One or more cases per op: unary, binary with broadcasting, matmul (all transposes), reductions, shapes, gather, convolutions (masked too), losses.</summary>
    public static IReadOnlyList<GradCheckCase> Ops()
    {
        var cases = new List<GradCheckCase>();
        void Add(string op, string name, Func<IBackend, GradCheckProblem> build) => cases.Add(new GradCheckCase(op, name, build));

        // ---- unary: every UnaryOp; log/sqrt/pow on positive values, the rest away from the kinks at 0
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            string name = SnakeCase(op.ToString());
            var (positive, alpha) = UnaryInputs(op);
            Add(name, name, b =>
            {
                var x = positive ? Leaf(b, 1, 0.5f, 2f, 3, 5) : AwayFromZero(b, 1, 3, 5);
                return new GradCheckProblem(() => TensorOps.Unary(op, name, x, alpha), [x]);
            });
        }

        // ---- binary with broadcasting
        (string Op, Func<Tensor, Tensor, Tensor> F)[] binary =
            [("add", (a, c) => a.Add(c)), ("sub", (a, c) => a.Sub(c)), ("mul", (a, c) => a.Mul(c)), ("div", (a, c) => a.Div(c))];
        int[][][] shapes = [[[3, 4], [3, 4]], [[3, 4], [4]], [[3, 1], [1, 4]], [[2, 3, 4], [3, 1]]];
        foreach (var (op, f) in binary)
            foreach (var pair in shapes)
                Add(op, $"{op} {Format(pair[0])} {Format(pair[1])}", b =>
                {
                    var x = Leaf(b, 2, 0.5f, 2f, pair[0]);
                    var y = Leaf(b, 3, 0.5f, 2f, pair[1]);
                    return new GradCheckProblem(() => f(x, y), [x, y]);
                });

        // ---- matrix products
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                Add("matmul", $"matmul {(ta ? "A^T" : "A")} {(tb ? "B^T" : "B")}", b =>
                {
                    var a = Leaf(b, 4, -1, 1, ta ? [5, 3] : [3, 5]);
                    var c = Leaf(b, 5, -1, 1, tb ? [4, 5] : [5, 4]);
                    return new GradCheckProblem(() => a.MatMul(c, ta, tb), [a, c]);
                });
        Add("linear", "linear x W^T + b", b =>
        {
            var x = Leaf(b, 6, -1, 1, 4, 3);
            var w = Leaf(b, 7, -1, 1, 5, 3);
            var bias = Leaf(b, 8, -1, 1, 5);
            return new GradCheckProblem(() => x.Linear(w, bias), [x, w, bias]);
        });

        // ---- reductions
        (string Op, string Name, Func<Tensor, Tensor> F)[] reductions =
        [
            ("sum", "sum all", x => x.Sum()), ("sum", "sum axis 1", x => x.Sum(1)), ("sum", "sum axis -1 keepdim", x => x.Sum(-1, keepDim: true)),
            ("sum", "sum axes 0,2", x => x.Sum([0, 2])), ("mean", "mean all", x => x.Mean()), ("mean", "mean axis 0", x => x.Mean(0)),
            ("mean", "mean axes 1,2", x => x.Mean([1, 2])),
        ];
        foreach (var (op, name, f) in reductions)
            Add(op, name, b =>
            {
                var x = Leaf(b, 9, -1, 1, 2, 3, 4);
                return new GradCheckProblem(() => f(x), [x]);
            });

        // ---- shapes: multiplied by a fixed position-dependent tensor so a permuted gradient shows up
        Add("reshape", "reshape [2,3,4] -> [4,6]", b => Weighted(b, x => x.Reshape(4, 6), [4, 6]));
        Add("transpose", "transpose [2,3,4]", b => Weighted(b, x => x.Transpose(), [2, 4, 3]));
        Add("slice", "slice axis 1", b => Weighted(b, x => x.Slice(1, 1, 2), [2, 2, 4]));
        Add("slice", "slice rows", b => Weighted(b, x => x.SliceRows(1, 1), [1, 3, 4]));
        Add("concat", "concat axis 1", b =>
        {
            var x = Leaf(b, 10, -1, 1, 2, 3, 4);
            var y = Leaf(b, 15, -1, 1, 2, 2, 4);
            var w = Constant(b, 16, 2, 5, 4);
            return new GradCheckProblem(() => TensorOps.Concat([x, y], 1).Mul(w), [x, y]);
        });
        Add("concat", "concat axis 0", b =>
        {
            var x = Leaf(b, 10, -1, 1, 2, 3, 4);
            var y = Leaf(b, 17, -1, 1, 1, 3, 4);
            var w = Constant(b, 18, 3, 3, 4);
            return new GradCheckProblem(() => TensorOps.Concat([x, y], 0).Mul(w), [x, y]);
        });

        Add("permute", "permute [2,3,4] -> [4,2,3]", b => Weighted(b, x => x.Permute(2, 0, 1), [4, 2, 3]));
        Add("permute", "permute [2,3,4] -> [2,4,3] (negative axes)", b => Weighted(b, x => x.Permute(0, -1, -2), [2, 4, 3]));

        // ---- indexing: rows picked twice and rows never picked, so the scatter-add's sums and zeros both show
        Add("gather", "gather rows of [5,3] by [2,4]", b =>
        {
            var table = Leaf(b, 30, -1, 1, 5, 3);
            var indices = Tensor.FromArray(b, [4f, 0f, 4f, 2f, 0f, 4f, 1f, 2f], 2, 4);
            var w = Constant(b, 31, 2, 4, 3);
            return new GradCheckProblem(() => table.Gather(indices).Mul(w), [table]);
        });

        Add("gather_sum", "gather_sum of rows of [5,3] by [2,3,4]", b =>
        {
            var table = Leaf(b, 32, -1, 1, 5, 3);
            var indices = Tensor.FromArray(b, [4f, 0f, 4f, 2f, 0f, 4f, 1f, 2f, 3f, 3f, 0f, 4f, 1f, 1f, 4f, 0f, 2f, 4f, 4f, 0f, 1f, 0f, 2f, 4f], 2, 3, 4);
            var w = Constant(b, 33, 2, 3, 3);
            return new GradCheckProblem(() => table.GatherSum(indices).Mul(w), [table]);
        });

        // ---- convolutions
        foreach (var (stride, pad) in new[] { (1, 0), (1, 1), (2, 1) })
            Add("conv2d", $"conv2d s={stride} p={pad}", b =>
            {
                var x = Leaf(b, 19, -1, 1, 2, 2, 5, 5);
                var w = Leaf(b, 20, -1, 1, 3, 2, 3, 3);
                var bias = Leaf(b, 21, -1, 1, 3);
                return new GradCheckProblem(() => x.Conv2d(w, bias, stride, pad), [x, w, bias]);
            });
        foreach (var type in new[] { PixelCnnMaskType.A, PixelCnnMaskType.B })
            Add("masked_conv2d", $"masked_conv2d mask {type} 3x3 p=1", b =>
            {
                var x = Leaf(b, 19, -1, 1, 2, 2, 5, 5);
                var w = Leaf(b, 20, -1, 1, 3, 2, 3, 3);
                var bias = Leaf(b, 21, -1, 1, 3);
                var mask = TensorOps.PixelCnnMask(b, type, 3, 3);
                return new GradCheckProblem(() => x.MaskedConv2d(w, mask, bias, 1, 1), [x, w, bias]);
            });
        foreach (var (stride, pad, outPad) in new[] { (1, 0, 0), (2, 1, 1), (2, 0, 1) })
            Add("conv_transpose2d", $"conv_transpose2d s={stride} p={pad} op={outPad}", b =>
            {
                var x = Leaf(b, 22, -1, 1, 2, 3, 3, 3);
                var w = Leaf(b, 23, -1, 1, 3, 2, 3, 3);
                var bias = Leaf(b, 24, -1, 1, 2);
                return new GradCheckProblem(() => x.ConvTranspose2d(w, bias, stride, pad, outPad), [x, w, bias]);
            });

        // ---- softmax cross-entropy (gradient to the logits; the targets are class indices)
        foreach (var reduction in new[] { Reduction.None, Reduction.Sum, Reduction.Mean })
        {
            string r = reduction.ToString().ToLowerInvariant();
            Add("cross_entropy", $"cross_entropy [4,5] {r}", b =>
            {
                var logits = Leaf(b, 32, -3f, 3f, 4, 5);
                var targets = Tensor.FromArray(b, [3f, 0f, 4f, 3f], 4);
                var w = Constant(b, 33, 4);
                return new GradCheckProblem(() => reduction == Reduction.None
                    ? logits.CrossEntropy(targets, reduction).Mul(w)
                    : logits.CrossEntropy(targets, reduction), [logits]);
            });
        }
        Add("cross_entropy", "cross_entropy [2,4,3,3] mean (classes on axis 1)", b =>
        {
            var logits = Leaf(b, 34, -3f, 3f, 2, 4, 3, 3);
            var targets = Tensor.FromArray(b, [0f, 1f, 2f, 3f, 3f, 2f, 1f, 0f, 2f, 1f, 1f, 1f, 0f, 3f, 3f, 2f, 0f, 1f], 2, 3, 3);
            return new GradCheckProblem(() => logits.CrossEntropy(targets), [logits]);
        });

        // ---- losses (gradients with respect to both arguments)
        foreach (var reduction in new[] { Reduction.Sum, Reduction.Mean })
        {
            string r = reduction == Reduction.Sum ? "sum" : "mean";
            Add("mse", $"mse {r}", b =>
            {
                var p = Leaf(b, 27, -3f, 3f, 3, 4);
                var t = Leaf(b, 26, 0f, 1f, 3, 4);
                return new GradCheckProblem(() => p.MseLoss(t, reduction), [p, t]);
            });
            Add("bce", $"bce {r}", b =>
            {
                var p = Leaf(b, 25, 0.05f, 0.95f, 3, 4);
                var t = Leaf(b, 26, 0f, 1f, 3, 4);
                return new GradCheckProblem(() => p.BinaryCrossEntropy(t, reduction), [p, t]);
            });
            Add("bce_with_logits", $"bce_with_logits {r}", b =>
            {
                var logits = Leaf(b, 27, -3f, 3f, 3, 4);
                var t = Leaf(b, 26, 0f, 1f, 3, 4);
                return new GradCheckProblem(() => logits.BinaryCrossEntropyWithLogits(t, reduction), [logits, t]);
            });
            Add("gaussian_kl", $"gaussian_kl {r}", b =>
            {
                var mu = Leaf(b, 28, -1, 1, 3, 2);
                var logVar = Leaf(b, 29, -1, 1, 3, 2);
                return new GradCheckProblem(() => TensorOps.GaussianKlDivergence(mu, logVar, reduction), [mu, logVar]);
            });
        }
        return cases;
    }

    /// <summary>
    /// The cases whose <see cref="GradCheckCase.Op"/> or <see cref="GradCheckCase.Name"/> equals
    /// <paramref name="op"/> (ignoring case); all of them when it is null. Throws a one-line error listing the
    /// known ops when nothing matches.
    /// </summary>
    public static IReadOnlyList<GradCheckCase> Select(IEnumerable<GradCheckCase> cases, string? op)
    {
        var all = cases.ToList();
        if (op == null) return all;
        var chosen = all.Where(c => string.Equals(c.Op, op, StringComparison.OrdinalIgnoreCase)
                                 || string.Equals(c.Name, op, StringComparison.OrdinalIgnoreCase)).ToList();
        if (chosen.Count == 0)
            throw new ArgumentException($"no gradient check named '{op}'; choose one of {string.Join(", ", all.Select(c => c.Op).Distinct())}");
        return chosen;
    }

    /// <summary>Runs every case on <paramref name="backend"/>, calling <paramref name="onResult"/> after each.</summary>
    public static IReadOnlyList<GradCheckResult> Run(IBackend backend, IEnumerable<GradCheckCase> cases, Action<GradCheckResult>? onResult = null)
    {
        var results = new List<GradCheckResult>();
        foreach (var c in cases)
        {
            var r = c.Run(backend);
            results.Add(r);
            onResult?.Invoke(r);
        }
        return results;
    }

    /// <summary>A fixed-width table: check | max abs err | max rel err | result, then a count line.</summary>
    public static string FormatTable(IReadOnlyList<GradCheckResult> results)
    {
        int width = Math.Max(5, results.Count == 0 ? 0 : results.Max(r => r.Name.Length));
        var sb = new StringBuilder();
        sb.AppendLine($"{"check".PadRight(width)} | max abs err | max rel err | result");
        sb.AppendLine($"{new string('-', width)}-|-------------|-------------|-------");
        foreach (var r in results) sb.AppendLine(FormatRow(r, width));
        int failed = results.Count(r => !r.Passed);
        sb.Append(failed == 0 ? $"{results.Count} checks passed" : $"{failed} of {results.Count} checks FAILED");
        return sb.ToString();
    }

    /// <summary>One row of <see cref="FormatTable"/>; a failure names the worst element.</summary>
    public static string FormatRow(GradCheckResult r, int nameWidth)
    {
        string result = r.Passed ? "pass"
            : string.Create(CultureInfo.InvariantCulture, $"FAIL (input {r.WorstInput}[{r.WorstIndex}]: analytic {r.Analytic:G5} vs numeric {r.Numeric:G5})");
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Name.PadRight(nameWidth)} | {r.MaxAbsoluteError,11:0.00E+00} | {r.MaxRelativeError,11:0.00E+00} | {result}");
    }

    // ---- inputs ---------------------------------------------------------------------------------

    /// <summary>The ops that need positive inputs or a parameter; any other op is checked on [-1.5, 1.5] with alpha 0.</summary>
    private static (bool Positive, float Alpha) UnaryInputs(UnaryOp op) => op switch
    {
        UnaryOp.Log or UnaryOp.Sqrt => (true, 0f),
        UnaryOp.Pow => (true, 2.5f),
        UnaryOp.LeakyRelu => (false, 0.1f),
        UnaryOp.Scale => (false, -1.5f),
        UnaryOp.AddScalar => (false, 0.75f),
        _ => (false, 0f),
    };

    /// <summary>"LeakyRelu" -> "leaky_relu".</summary>
    private static string SnakeCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static Tensor Leaf(IBackend b, ulong seed, float low, float high, params int[] shape)
    {
        var t = Tensor.Uniform(b, new SeededRandom(seed), low, high, shape);
        t.RequiresGrad = true;
        return t;
    }

    private static Tensor Constant(IBackend b, ulong seed, params int[] shape) => Tensor.Uniform(b, new SeededRandom(seed), -1, 1, shape);

    /// <summary>Values in [0.2, 1.5] with random signs: away from the kinks of relu and abs at 0.</summary>
    private static Tensor AwayFromZero(IBackend b, ulong seed, params int[] shape)
    {
        var t = Tensor.Uniform(b, new SeededRandom(seed), 0.2f, 1.5f, shape).ToArray();
        var r = new SeededRandom(seed + 100);
        for (int i = 0; i < t.Length; i++) if (r.NextFloat() < 0.5f) t[i] = -t[i];
        var leaf = Tensor.FromArray(b, t, shape);
        leaf.RequiresGrad = true;
        return leaf;
    }

    /// <summary>f(x) ⊙ w for x [2, 3, 4] and a fixed w shaped like f(x).</summary>
    private static GradCheckProblem Weighted(IBackend b, Func<Tensor, Tensor> f, int[] outputShape)
    {
        var x = Leaf(b, 10, -1, 1, 2, 3, 4);
        var w = Constant(b, 11, outputShape);
        return new GradCheckProblem(() => f(x).Mul(w), [x]);
    }

    private static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";
}
