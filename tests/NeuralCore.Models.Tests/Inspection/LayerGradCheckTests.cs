using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;
using NeuralCore.Models.Inspection;

namespace NeuralCore.Models.Tests.Inspection;

public class LayerGradCheckTests
{
    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend() : new ReferenceBackend();

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void EveryLayerAndModelLoss_Passes(string backend)
    {
        var cases = LayerGradChecks.Layers();
        var results = GradCheckCatalog.Run(Create(backend), cases);
        var failed = results.Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
        foreach (var op in new[] { "Linear", "Conv2d", "ConvTranspose2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Flatten", "Reshape", "Sequential", "ae-loss", "vae-loss" })
            Assert.Contains(cases, c => c.Op == op);
    }

    [Fact]
    public void LayerChecks_PerturbTheInputAndEveryParameter()
    {
        var b = new ReferenceBackend();
        var linear = LayerGradChecks.Layers().Single(c => c.Op == "Linear");
        var problem = linear.Build(b);
        Assert.Equal(3, problem.Tensors.Count);                          // x, weight, bias
        Assert.Equal(5 * 3 + 4 * 3 + 4, linear.Run(b).ElementsChecked);

        var vae = LayerGradChecks.Layers().First(c => c.Op == "vae-loss");
        var vaeProblem = vae.Build(b);
        Assert.Equal(vaeProblem.Tensors.Sum(t => t.Count), vae.Run(b).ElementsChecked);
        // the loss is deterministic: the same eps on every evaluation
        Assert.Equal(vaeProblem.Function().Item(), vaeProblem.Function().Item());
    }

    [Fact]
    public void All_HoldsTheOpsAndTheLayers()
    {
        var all = LayerGradChecks.All();
        Assert.Equal(GradCheckCatalog.Ops().Count + LayerGradChecks.Layers().Count, all.Count);
        Assert.Equal(all.Count, all.Select(c => c.Name).Distinct().Count());
    }
}
