using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

public class HookTests
{
    private readonly CpuBackend _cpu = new();

    [Fact]
    public void RetainGrad_ExposesIntermediateGradient_EqualToGradCheck()
    {
        var b = new ReferenceBackend();
        var x = Tensor.FromArray(b, [0.5f, -1f, 2f], 3);
        x.RequiresGrad = true;
        var h = x.Tanh().RetainGrad();
        h.Mul(h).Sum().Backward();
        // d(sum h^2)/dh = 2h
        var expected = h.ToArray().Select(v => 2 * v).ToArray();
        Assert.Equal(expected, h.Grad!.ToArray());
        // and the same number by finite differences through GradCheck's machinery
        var check = GradCheck.Check("h^2", t => t[0].Mul(t[0]), [h.Detach()]);
        Assert.True(check.Passed, check.ToString());
    }

    [Fact]
    public void Hook_CanObserveReplaceAndBeRemoved()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        var y = x.Mul(3f);
        float[]? seen = null;
        using (y.RegisterHook(g => { seen = g.ToArray(); return null; }))
        {
            y.Sum().Backward();
        }
        Assert.Equal([1f, 1f], seen!);
        Assert.Equal([3f, 3f], x.Grad!.ToArray());

        x.ZeroGrad();
        var y2 = x.Mul(3f);
        var handle = y2.RegisterHook(g => Tensor.Full(_cpu, 10f, 2));
        y2.Sum().Backward(retainGraph: true);
        Assert.Equal([30f, 30f], x.Grad!.ToArray());
        handle.Dispose();
        x.ZeroGrad();
        y2.Sum().Backward();
        Assert.Equal([3f, 3f], x.Grad!.ToArray());
    }

    [Fact]
    public void HookOnLeaf_ReplacesWhatIsAccumulated()
    {
        var x = Tensor.FromArray(_cpu, [1f, 2f], 2);
        x.RequiresGrad = true;
        using var _ = x.RegisterHook(g => g.Mul(0.5f));
        x.Mul(4f).Sum().Backward();
        Assert.Equal([2f, 2f], x.Grad!.ToArray());
    }

    [Fact]
    public void AnomalyMode_NamesTheOpThatMadeANaN()
    {
        var x = Tensor.FromArray(_cpu, [0f, 1f], 2);
        x.RequiresGrad = true;
        using (Autograd.DetectAnomaly())
        using (Autograd.NameScope("encoder"))
        {
            var e = Assert.Throws<AnomalyException>(() => x.Log().Mul(x).Sum());
            Assert.Contains("log", e.Message);
            Assert.Contains("encoder", e.Message);
        }
        Assert.False(Autograd.IsDetectingAnomalies);
        Assert.True(float.IsNaN(x.Log().Mul(x).Sum().Item()));   // outside the scope: no check, NaN flows as in PyTorch
    }

    [Fact]
    public void AnomalyMode_IsAScopeOfItsThread_NotAProcessSwitch()
    {
        using (Autograd.DetectAnomaly())
        {
            Assert.True(Autograd.IsDetectingAnomalies);
            bool other = true;
            var thread = new Thread(() => other = Autograd.IsDetectingAnomalies);
            thread.Start();
            thread.Join();
            Assert.False(other);
            var scope = Autograd.DetectAnomaly();
            scope.Dispose();
            scope.Dispose();   // a second Dispose does not end the outer scope
            Assert.True(Autograd.IsDetectingAnomalies);
        }
        Assert.False(Autograd.IsDetectingAnomalies);
    }
}
