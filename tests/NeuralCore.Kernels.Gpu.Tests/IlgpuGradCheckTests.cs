namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// The gradient checks of the ops whose backward has kernels of its own on ILGPU (permute, the gather's and the
/// gather-sum's scatter-adds, the softmax cross-entropy) on ILGPU's CPU accelerator. The reference and CPU backends run the whole catalogue in
/// NeuralCore.Autograd.Tests; the masked convolution is conv2d of a mul, whose kernels the conformance suite checks
/// here, and its finite differences would take over a minute of emulated convolutions.
/// </summary>
[Collection(Accelerators.Cpu)]
public sealed class IlgpuCpuGradCheckTests
{
    public static TheoryData<string> Ops => ["permute", "gather", "gather_sum", "cross_entropy"];

    [Theory]
    [MemberData(nameof(Ops))]
    public void CatalogueCases_Pass(string op)
    {
        var cases = GradCheckCatalog.Select(GradCheckCatalog.Ops(), op);
        var results = GradCheckCatalog.Run(new SharedBackend(Accelerators.Shared(Accelerators.Cpu)), cases);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.Passed && r.ElementsChecked > 0, r.ToString()));
    }
}
