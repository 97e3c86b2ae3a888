using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

public class AutogradTests
{
    private readonly CpuBackend _cpu = new();

    [Fact]
    public void Backward_ProducesKnownGradients()
    {
        // f = sum(x * w) + sum(x^2)  ->  df/dx = w + 2x, df/dw = x
        var x = Tensor.FromArray(_cpu, [1f, 2f, 3f], 3);
        var w = Tensor.FromArray(_cpu, [4f, 5f, 6f], 3);
        x.RequiresGrad = true; w.RequiresGrad = true;
        var f = x.Mul(w).Sum().Add(x.Pow(2f).Sum());
        Assert.Equal(32f + 14f, f.Item());
        f.Backward();
        Assert.Equal([6f, 9f, 12f], x.Grad!.ToArray());
        Assert.Equal([1f, 2f, 3f], w.Grad!.ToArray());
    }

    [Fact]
    public void Gradients_Accumulate_UntilZeroGrad()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        x.Mul(3f).Sum().Backward();
        x.Mul(3f).Sum().Backward();
        Assert.Equal([6f, 6f], x.Grad!.ToArray());
        x.ZeroGrad();
        Assert.Equal([0f, 0f], x.Grad!.ToArray());
    }

    [Fact]
    public void SharedSubexpression_GetsBothContributions()
    {
        var x = Tensor.FromArray(_cpu, [2f], 1);
        x.RequiresGrad = true;
        var y = x.Mul(x);           // x used twice
        var z = y.Add(y).Sum();     // y used twice -> dz/dx = 4x
        z.Backward();
        Assert.Equal([8f], x.Grad!.ToArray());
    }

    [Fact]
    public void NoGrad_RecordsNothing()
    {
        var x = Tensor.FromArray(_cpu, [1f], 1);
        x.RequiresGrad = true;
        using (Autograd.NoGrad())
        {
            var y = x.Exp();
            Assert.Null(y.GradFn);
            Assert.False(y.RequiresGrad);
        }
        Assert.NotNull(x.Exp().GradFn);
    }

    [Fact]
    public void GraphIsFreedAfterBackward_UnlessRetained()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        var y = x.Exp().Sum();
        y.Backward(retainGraph: true);
        y.Backward();   // works again thanks to retainGraph
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("retainGraph", e.Message);
    }

    [Fact]
    public void DeepGraph_DoesNotOverflowTheStack()
    {
        var x = Tensor.FromArray(_cpu, [1f], 1);
        x.RequiresGrad = true;
        var y = x;
        for (int i = 0; i < 20000; i++) y = y.Add(0.001f);
        y.Sum().Backward();
        Assert.Equal([1f], x.Grad!.ToArray());
    }

    [Fact]
    public void Backward_OnNonScalar_NeedsAGradient()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        var e = Assert.Throws<InvalidOperationException>(() => x.Exp().Backward());
        Assert.Contains("scalar", e.Message);
    }

    [Fact]
    public void ShapeMismatch_ErrorNamesBothShapes()
    {
        var a = Tensor.Zeros(_cpu, 2, 3);
        var b = Tensor.Zeros(_cpu, 4, 5);
        var e = Assert.Throws<ArgumentException>(() => a.Add(b));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        var m = Assert.Throws<ArgumentException>(() => a.MatMul(b));
        Assert.Contains("[2, 3]", m.Message);
        Assert.Contains("[4, 5]", m.Message);
    }

    [Fact]
    public void MixingDevices_IsAClearError()
    {
        var a = Tensor.Zeros(_cpu, 2);
        var b = Tensor.Zeros(new ReferenceBackend(), 2);
        var e = Assert.Throws<ArgumentException>(() => a.Add(b));
        Assert.Contains("different devices", e.Message);
    }

    [Fact]
    public void Scope_ReleasesStepTensors_ButKeepsParameterGradients()
    {
        var w = Tensor.FromArray(_cpu, [1f, 2f], 2);
        w.RequiresGrad = true;
        Tensor intermediate;
        using (TensorScope.Begin())
        {
            intermediate = w.Mul(2f);
            intermediate.Sum().Backward();
        }
        Assert.True(intermediate.IsDisposed);
        Assert.False(w.Grad!.IsDisposed);
        Assert.Equal([2f, 2f], w.Grad.ToArray());
    }

    [Fact]
    public void SmallMlp_LearnsXor()
    {
        var random = new SeededRandom(42);
        var x = Tensor.FromArray(_cpu, [0f, 0f, 0f, 1f, 1f, 0f, 1f, 1f], 4, 2);
        var y = Tensor.FromArray(_cpu, [0f, 1f, 1f, 0f], 4, 1);
        var w1 = Tensor.Uniform(_cpu, random, -1f, 1f, 8, 2);
        var b1 = Tensor.Zeros(_cpu, 8);
        var w2 = Tensor.Uniform(_cpu, random, -1f, 1f, 1, 8);
        var b2 = Tensor.Zeros(_cpu, 1);
        Tensor[] parameters = [w1, b1, w2, b2];
        var moments = parameters.Select(p => (M: _cpu.Allocate(p.Count), V: _cpu.Allocate(p.Count))).ToArray();
        foreach (var p in parameters) p.RequiresGrad = true;
        float loss = float.NaN;
        for (int step = 1; step <= 500; step++)
        {
            using var scope = TensorScope.Begin();
            foreach (var p in parameters) p.ZeroGrad();
            var logits = x.Linear(w1, b1).Tanh().Linear(w2, b2);
            var l = logits.BinaryCrossEntropyWithLogits(y);
            l.Backward();
            loss = l.Item();
            for (int i = 0; i < parameters.Length; i++)
                _cpu.AdamStep(parameters[i].Buffer, parameters[i].Grad!.Buffer, moments[i].M, moments[i].V, parameters[i].Count,
                    new Kernels.AdamParameters(0.05f, 0.9f, 0.999f, 1e-8f, 0f, false, step));
        }
        Assert.True(loss < 0.01f, $"XOR loss after 500 steps: {loss}");
        using (Autograd.NoGrad())
        {
            var p = x.Linear(w1, b1).Tanh().Linear(w2, b2).Sigmoid().ToArray();
            Assert.True(p[0] < 0.05f && p[1] > 0.95f && p[2] > 0.95f && p[3] < 0.05f, string.Join(", ", p));
        }
    }
}

/// <summary>Reductions over a list of axes refuse what PyTorch refuses.</summary>
public class ReductionAxesTests
{
    [Theory]
    [InlineData(new[] { 0, 0 }, "axis 0 appears more than once")]
    [InlineData(new[] { 2, -1 }, "axis -1 appears more than once")]
    [InlineData(new[] { 1, 0, 1 }, "axis 1 appears more than once")]
    [InlineData(new int[0], "no axes given")]
    public void SumAndMean_RefuseDuplicateOrEmptyAxes(int[] axes, string message)
    {
        var x = Tensor.Uniform(new ReferenceBackend(), new SeededRandom(1), -1, 1, 2, 3, 4);
        var sum = Assert.Throws<ArgumentException>(() => x.Sum(axes));
        Assert.StartsWith("sum: ", sum.Message);
        Assert.Contains(message, sum.Message);
        var mean = Assert.Throws<ArgumentException>(() => x.Mean(axes, keepDim: true));
        Assert.StartsWith("mean: ", mean.Message);
        Assert.Contains(message, mean.Message);
    }

    [Fact]
    public void SumAndMean_OverDistinctAxes_InAnyOrder()
    {
        var x = Tensor.FromArray(new CpuBackend(threads: 1), Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        Assert.Equal(x.Sum([0, 2]).ToArray(), x.Sum([2, 0]).ToArray());
        Assert.Equal([60f, 92f, 124f], x.Sum([-1, 0]).ToArray());
        Assert.Equal([7.5f, 11.5f, 15.5f], x.Mean([0, -1], keepDim: true).ToArray());
    }
}

/// <summary>
/// A deferred ZeroGrad (the gradient's buffer keeps stale values and counts as zeros): backward's results are those of
/// an eager ZeroGrad, bit for bit, whether the first contribution overwrites (a matrix product) or adds (other ops),
/// with a weight used twice, a hooked leaf, and a parameter backward does not reach.
/// </summary>
public class DeferredZeroGradTests
{
    private readonly CpuBackend _cpu = new(1);

    [Fact]
    public void BackwardGivesTheGradientsOfAnEagerZeroGrad()
    {
        var eager = Gradients(deferred: false);
        var deferred = Gradients(deferred: true);
        Assert.Equal(eager.Length, deferred.Length);
        for (int i = 0; i < eager.Length; i++) Assert.Equal(eager[i], deferred[i]);
        Assert.All(deferred[^1], v => Assert.Equal(0f, v));   // the unused parameter reads zeros once settled
    }

    private float[][] Gradients(bool deferred)
    {
        var random = new Random(3);
        Tensor Parameter(params int[] shape)
        {
            var t = Tensor.FromArray(_cpu, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), shape);
            t.RequiresGrad = true;
            t.Grad = Tensor.FromArray(_cpu, Enumerable.Repeat(7f, t.Count).ToArray(), shape);   // stale values from an earlier step
            return t;
        }
        var w1 = Parameter(6, 5);
        var b1 = Parameter(6);
        var tied = Parameter(4, 6);      // used twice
        var hooked = Parameter(3, 6);    // a leaf with a hook: collected in a temporary first
        var unused = Parameter(2, 2);
        using var hook = hooked.RegisterHook(g => null);
        var parameters = new[] { w1, b1, tied, hooked, unused };
        foreach (var p in parameters)
            if (deferred) p.ZeroGradDeferred();
            else p.ZeroGrad();
        var x = Tensor.FromArray(_cpu, Enumerable.Range(0, 8 * 5).Select(i => MathF.Sin(i)).ToArray(), 8, 5);
        var h = x.Linear(w1, b1).Tanh();
        var loss = h.Linear(tied).Pow(2f).Sum().Add(h.Linear(tied).Sum()).Add(h.Linear(hooked).Sum());
        loss.Backward();
        foreach (var p in parameters) p.SettleGrad();
        return parameters.Select(p => p.Grad!.ToArray()).ToArray();
    }

    [Fact]
    public void ZeroGradDeferred_IsClearedByAssigningAGradient()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        x.Grad = Tensor.FromArray(_cpu, [5f, 5f], 2);
        x.ZeroGradDeferred();
        Assert.True(x.GradZeroPending);
        x.Grad = Tensor.FromArray(_cpu, [1f, 1f], 2);
        Assert.False(x.GradZeroPending);
        x.Mul(3f).Sum().Backward();
        Assert.Equal([4f, 4f], x.Grad!.ToArray());
    }
}
