using Xunit;

namespace NeuralCore.TensorTests;

/// <summary>
/// SeededRandom.PyTorch against values printed by PyTorch 1.13 on this machine
/// (<c>torch.manual_seed(S)</c> then the call named in each test).
/// </summary>
public class PyTorchRandomTests
{
    private static void Close(float[] expected, float[] actual, float tolerance = 1e-6f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}]: PyTorch {expected[i]}, ours {actual[i]}");
    }

    [Fact]
    public void Uniform_IsTorchUniform()
    {
        // torch.manual_seed(0); torch.empty(6).uniform_(-1, 1)
        var v = new float[6];
        SeededRandom.PyTorch(0).FillUniform(v, -1, 1);
        Close([-0.007486820220947266f, 0.5364435911178589f, -0.8230451345443726f, -0.7359390258789062f, -0.3851543664932251f, 0.26815736293792725f], v, 0);
    }

    [Fact]
    public void Shuffle_OfIdentity_IsTorchRandperm()
    {
        // torch.manual_seed(0); torch.randperm(10)
        int[] order = Enumerable.Range(0, 10).ToArray();
        SeededRandom.PyTorch(0).Shuffle(order);
        Assert.Equal([4, 1, 7, 5, 3, 9, 0, 8, 6, 2], order);
        // torch.manual_seed(3); torch.randperm(8000)[:8]
        order = Enumerable.Range(0, 8000).ToArray();
        SeededRandom.PyTorch(3).Shuffle(order);
        Assert.Equal([2986, 7023, 297, 3009, 3388, 4175, 2570, 2930], order[..8]);
    }

    [Fact]
    public void Normal_UnderSixteen_IsTorchScalarPath()
    {
        // torch.manual_seed(0); torch.randn(5)
        var v = new float[5];
        SeededRandom.PyTorch(0).FillNormal(v, 0, 1);
        Close([1.5409960746765137f, -0.293428897857666f, -2.1787893772125244f, 0.5684312582015991f, -1.0845223665237427f], v);
    }

    [Fact]
    public void Normal_WithTail_IsTorchVectorPath()
    {
        // torch.manual_seed(0); torch.randn(20): blocks of 16 uniforms, the last 16 redrawn
        var v = new float[20];
        SeededRandom.PyTorch(0).FillNormal(v, 0, 1);
        Close([-1.1258398294448853f, -1.152360200881958f, -0.2505785822868347f, -0.4338788092136383f, 0.5988394618034363f,
            -1.5550950765609741f, -0.3413603901863098f, 1.85300612449646f, 0.46809640526771545f, -0.1577124446630478f,
            1.4436601400375366f, 0.26604941487312317f, 1.3893661499023438f, 1.586334228515625f, 0.946298360824585f,
            -0.843676745891571f, 0.9318265914916992f, 1.2590092420578003f, 2.0049805641174316f, 0.05373690277338028f], v, 2e-6f);
    }

    [Fact]
    public void DrawsContinueOneStream()
    {
        // torch.manual_seed(0); torch.empty(3).uniform_(); torch.randn(16)[:4]
        var g = SeededRandom.PyTorch(0);
        g.FillUniform(new float[3], 0, 1);
        var v = new float[16];
        g.FillNormal(v, 0, 1);
        Close([-0.4338788092136383f, 0.8487103581428528f, 0.6920091509819031f, -0.31601276993751526f], v[..4], 2e-6f);
    }

    [Fact]
    public void State_RoundTrips_IncludingTheCachedNormal()
    {
        var g = SeededRandom.PyTorch(7);
        for (int i = 0; i < 700; i++) g.NextUInt();   // past one twist of the state
        g.NextGaussian();                           // leaves the sine value cached
        var state = g.GetState();
        var a = new float[40];
        g.FillNormal(a.AsSpan(0, 3), 0, 1); g.FillNormal(a.AsSpan(3), 0, 1);
        var h = SeededRandom.PyTorch(0);
        h.SetState(state);
        var b = new float[40];
        h.FillNormal(b.AsSpan(0, 3), 0, 1); h.FillNormal(b.AsSpan(3), 0, 1);
        Assert.Equal(a, b);
        Assert.Equal(RandomAlgorithm.PyTorch, h.Algorithm);
        Assert.Throws<ArgumentException>(() => new SeededRandom(0).SetState(state));
        Assert.Throws<ArgumentException>(() => h.SetState(new SeededRandom(0).GetState()));
    }
}
