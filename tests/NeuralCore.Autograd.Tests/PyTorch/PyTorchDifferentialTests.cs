using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests.PyTorch;

/// <summary>
/// Every op against PyTorch (float32), forward and backward, on random and edge values and broadcasting shapes
/// (torch_oracle.py), on the reference and the SIMD CPU backend; NeuralCore.Kernels.Gpu.Tests runs the same on ILGPU.
/// </summary>
public class PyTorchDifferentialTests
{
    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend(threads: 1) : new ReferenceBackend();

    [TorchTheory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void EveryOp_MatchesPyTorch(string backend) => AssertMatches(Create(backend));

    /// <summary>Fails with the first differences (and their count) when any value differs from PyTorch's.</summary>
    public static void AssertMatches(IBackend backend)
    {
        var failures = PyTorchDifferential.Compare(backend, TorchOracle.Cases);
        Assert.True(failures.Count == 0,
            $"{failures.Count} values differ from PyTorch {TorchOracle.TorchVersion} on {backend.Name}:\n" + string.Join("\n", failures.Take(60)));
    }

    [TorchFact]
    public void Oracle_CoversEveryOpOfTheCatalogue()
    {
        // every op family of the gradient-check catalogue (TensorOps' ops) has PyTorch cases, edge values included
        var covered = PyTorchDifferential.Ops(TorchOracle.Cases).ToHashSet();
        var catalogue = GradCheckCatalog.Ops().Select(c => c.Op).Distinct();
        Assert.Empty(catalogue.Except(covered));
        foreach (var op in covered.Where(op => op is not ("reshape" or "transpose" or "slice" or "concat" or "linear" or "conv_transpose2d")))
            Assert.Contains(TorchOracle.Cases, c => c.Op == op && c.Name.Contains("edge", StringComparison.Ordinal));
    }

    [TorchFact]
    public void Comparison_CatchesAWrongValue()
    {
        // the same cases with one PyTorch value changed by 1e-4 relative must fail on exactly that value
        var c = TorchOracle.Cases.First(x => x.Name == "tanh random");
        var wrong = (float[])c.Output.Values.Clone();
        wrong[3] *= 1 + 1e-4f;
        var changed = c with { Output = c.Output with { Values = wrong } };
        var failures = PyTorchDifferential.Compare(new ReferenceBackend(), [changed]);
        Assert.Single(failures);
        Assert.StartsWith("tanh random output[3]", failures[0]);
    }
}
