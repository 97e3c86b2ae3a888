namespace NeuralCore;

/// <summary>Outcome of a finite-difference gradient check: the worst element found.</summary>
/// <param name="Name">What was checked (op or layer name).</param>
/// <param name="Passed">True when every element was within tolerance.</param>
/// <param name="MaxAbsoluteError">Largest |analytic - numeric| over all elements.</param>
/// <param name="MaxRelativeError">Largest |analytic - numeric| / max(|analytic|, |numeric|, 1e-3).</param>
/// <param name="WorstInput">Index of the input tensor holding the worst element.</param>
/// <param name="WorstIndex">Flat index of the worst element inside that input.</param>
/// <param name="Analytic">Backward's gradient at the worst element.</param>
/// <param name="Numeric">Central-difference estimate at the worst element.</param>
/// <param name="ElementsChecked">Total number of input elements perturbed.</param>
public sealed record GradCheckResult(string Name, bool Passed, double MaxAbsoluteError, double MaxRelativeError,
    int WorstInput, int WorstIndex, double Analytic, double Numeric, int ElementsChecked)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: {(Passed ? "pass" : "FAIL")} max abs err {MaxAbsoluteError:E2}, max rel err {MaxRelativeError:E2}; " +
        $"worst at input {WorstInput}[{WorstIndex}]: analytic {Analytic:G6} vs numeric {Numeric:G6} ({ElementsChecked} elements)";
}

/// <summary>
/// Finite-difference gradient checker. It compares backward's vector-Jacobian product against central
/// differences of L = Σ f(x) ⊙ r for a fixed random r, perturbing every input element. Use small shapes:
/// it runs f twice per element. Run it on the ReferenceBackend for the tightest numbers (double accumulation).
/// </summary>
/// <example><code>
/// var backend = new ReferenceBackend();
/// var x = Tensor.Uniform(backend, new SeededRandom(1), -1, 1, 3, 4);
/// var result = GradCheck.Check("tanh", t => t[0].Tanh(), [x]);
/// Console.WriteLine(result);   // tanh: pass max abs err ..., worst at input 0[..]: analytic ... vs numeric ...
/// </code></example>
public static class GradCheck
{
    /// <summary>Checks the gradients of <paramref name="function"/> with respect to every input.</summary>
    /// <param name="name">Label for the result.</param>
    /// <param name="function">The computation; receives the inputs (leaves requiring gradients).</param>
    /// <param name="inputs">Values to check at; they are copied, never modified.</param>
    /// <param name="epsilon">Finite-difference step (float32 data: 1e-2 balances truncation and rounding).</param>
    /// <param name="absoluteTolerance">Allowed absolute error.</param>
    /// <param name="relativeTolerance">Allowed error relative to the gradient's magnitude.</param>
    /// <param name="seed">Seed of the random projection r.</param>
    public static GradCheckResult Check(string name, Func<Tensor[], Tensor> function, Tensor[] inputs,
        double epsilon = 1e-2, double absoluteTolerance = 2e-3, double relativeTolerance = 2e-2, ulong seed = 12345)
    {
        var leaves = inputs.Select(t =>
        {
            var c = Tensor.FromArray(t.Backend, t.ToArray(), t.Shape);
            c.RequiresGrad = true;
            return c;
        }).ToArray();
        return CheckInPlace(name, () => function(leaves), leaves, epsilon, absoluteTolerance, relativeTolerance, seed);
    }

    /// <summary>
    /// Checks the gradients of <paramref name="function"/> with respect to tensors it reads directly, such as a
    /// module's parameters or leaves it closes over. Each tensor is perturbed in place and restored afterwards;
    /// their <see cref="Tensor.Grad"/> is reset and ends up holding backward's gradient of Σ f ⊙ r.
    /// </summary>
    /// <param name="name">Label for the result.</param>
    /// <param name="function">The computation (deterministic: draw any noise from a freshly seeded generator inside it).</param>
    /// <param name="tensors">Leaves that require gradients, e.g. <c>[x, .. module.Parameters()]</c>.</param>
    /// <param name="epsilon">Finite-difference step.</param>
    /// <param name="absoluteTolerance">Allowed absolute error.</param>
    /// <param name="relativeTolerance">Allowed error relative to the gradient's magnitude.</param>
    /// <param name="seed">Seed of the random projection r.</param>
    public static GradCheckResult CheckInPlace(string name, Func<Tensor> function, IReadOnlyList<Tensor> tensors,
        double epsilon = 1e-2, double absoluteTolerance = 2e-3, double relativeTolerance = 2e-2, ulong seed = 12345)
    {
        foreach (var t in tensors)
        {
            if (!t.IsLeaf || !t.RequiresGrad)
                throw new ArgumentException($"gradient check '{name}': {t} must be a leaf that requires gradients");
            t.ZeroGrad();
        }
        var leaves = tensors;

        // Analytic: backward of L = Σ y ⊙ r, i.e. seed gradient r.
        var y = function();
        var random = new SeededRandom(seed);
        var r = new float[y.Count];
        random.FillUniform(r, -1f, 1f);
        var rTensor = Tensor.FromArray(y.Backend, r, y.Shape);
        y.Backward(rTensor);
        var analytic = leaves.Select(l => l.Grad?.ToArray() ?? new float[l.Count]).ToArray();

        double Objective()
        {
            using var _ = Autograd.NoGrad();
            using var scope = TensorScope.Begin();   // returns each evaluation's temporaries to the pool
            var values = function().ToArray();
            double s = 0;
            for (int i = 0; i < values.Length; i++) s += (double)values[i] * r[i];
            return s;
        }

        double maxAbs = 0, maxRel = 0, worstScore = -1, worstA = 0, worstN = 0;
        int worstInput = 0, worstIndex = 0, checkedCount = 0;
        bool passed = true;
        for (int t = 0; t < leaves.Count; t++)
        {
            var data = leaves[t].ToArray();
            for (int i = 0; i < data.Length; i++)
            {
                float original = data[i];
                data[i] = (float)(original + epsilon);
                leaves[t].CopyFrom(data);
                double plus = Objective();
                data[i] = (float)(original - epsilon);
                leaves[t].CopyFrom(data);
                double minus = Objective();
                data[i] = original;
                leaves[t].CopyFrom(data);
                // use the step actually taken in float32
                double step = (double)(float)(original + epsilon) - (float)(original - epsilon);
                double numeric = (plus - minus) / step;
                double a = analytic[t][i];
                double err = Math.Abs(a - numeric);
                double rel = err / Math.Max(Math.Max(Math.Abs(a), Math.Abs(numeric)), 1e-3);
                double allowed = absoluteTolerance + relativeTolerance * Math.Max(Math.Abs(a), Math.Abs(numeric));
                if (err > allowed || double.IsNaN(err)) passed = false;
                maxAbs = Math.Max(maxAbs, err);
                maxRel = Math.Max(maxRel, rel);
                double score = double.IsNaN(err) ? double.PositiveInfinity : err / allowed;
                if (score > worstScore)
                {
                    worstScore = score; worstInput = t; worstIndex = i; worstA = a; worstN = numeric;
                }
                checkedCount++;
            }
        }
        return new GradCheckResult(name, passed, maxAbs, maxRel, worstInput, worstIndex, worstA, worstN, checkedCount);
    }
}
