using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.TensorTests;

public class TensorTests
{
    private readonly CpuBackend _cpu = new();

    [Fact]
    public void Creation_ZerosOnesFullFromArray()
    {
        Assert.All(Tensor.Zeros(_cpu, 2, 3).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Tensor.Ones(_cpu, 4).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(Tensor.Full(_cpu, 2.5f, 3, 1).ToArray(), v => Assert.Equal(2.5f, v));
        var t = Tensor.FromArray(_cpu, [1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        Assert.Equal(new Shape(2, 3), t.Shape);
        Assert.Equal(6, t.Count);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], t.ToArray());
        Assert.Equal(3.5f, Tensor.Scalar(_cpu, 3.5f).Item());
    }

    [Fact]
    public void FromArray_WrongCount_NamesShapeAndCount()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray(_cpu, [1f, 2f, 3f], 2, 2));
        Assert.Contains("[2, 2]", e.Message);
        Assert.Contains("3 values", e.Message);
    }

    [Fact]
    public void SeededRandom_IsReproducibleAndHasRightMoments()
    {
        var a = Tensor.Normal(_cpu, new SeededRandom(7), 0f, 1f, 10000).ToArray();
        var b = Tensor.Normal(_cpu, new SeededRandom(7), 0f, 1f, 10000).ToArray();
        Assert.Equal(a, b);
        double mean = a.Average(), variance = a.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(variance, 0.95, 1.05);
        var u = Tensor.Uniform(_cpu, new SeededRandom(7), -2f, 3f, 10000).ToArray();
        Assert.All(u, v => Assert.InRange(v, -2f, 3f));
        Assert.InRange(u.Average(), 0.4, 0.6);
    }

    [Fact]
    public void SeededRandom_StateRoundTrip()
    {
        var r = new SeededRandom(3);
        r.NextGaussian();
        var state = r.GetState();
        var expected = Enumerable.Range(0, 5).Select(_ => r.NextGaussian()).ToArray();
        var r2 = new SeededRandom(99);
        r2.SetState(state);
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => r2.NextGaussian()).ToArray());
    }

    [Fact]
    public void Scope_DisposesIntermediates_KeepsMovedTensors()
    {
        Tensor kept, dropped;
        using (TensorScope.Begin())
        {
            dropped = Tensor.Ones(_cpu, 3);
            kept = Tensor.Ones(_cpu, 3).MoveToOuterScope();
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => dropped.Buffer);
    }

    [Fact]
    public void To_CopiesAcrossBackends()
    {
        var reference = new ReferenceBackend();
        var t = Tensor.FromArray(_cpu, [1f, 2f], 2);
        var moved = t.To(reference);
        Assert.Same(reference, moved.Backend);
        Assert.Equal(t.ToArray(), moved.ToArray());
    }

    [Fact]
    public void Shape_NegativeAxisAndErrors()
    {
        var s = new Shape(2, 3, 4);
        Assert.Equal(4, s[-1]);
        Assert.Equal("[2, 3, 4]", s.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => s.NormalizeAxis(3));
        Assert.Throws<ArgumentException>(() => new Shape(2, -1));
    }
}
