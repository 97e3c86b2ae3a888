using NeuralCore.Kernels.Cpu;

namespace NeuralCore.AutogradTests;

/// <summary>The README's "tiny example" runs: its code is <see cref="Example"/> below, and the README must contain it verbatim.</summary>
public class ReadmeExampleTests
{
    // Keep identical to the ```csharp block of README.md (between the usings and the closing fence).
    private const string ExampleText = """
        var cpu = new CpuBackend();
        var random = new SeededRandom(0);
        var x  = Tensor.Uniform(cpu, random, -1f, 1f, 4, 3);          // [batch 4, features 3]
        var w1 = Tensor.Normal(cpu, random, 0f, 0.5f, 8, 3);          // [out 8, in 3] (PyTorch layout)
        var b1 = Tensor.Zeros(cpu, 8);
        var w2 = Tensor.Normal(cpu, random, 0f, 0.5f, 1, 8);
        foreach (var p in new[] { w1, b1, w2 }) p.RequiresGrad = true;

        var loss = x.Linear(w1, b1).Relu().Linear(w2).Pow(2f).Mean();  // scalar []
        loss.Backward();
        """;

    private static (Tensor Loss, Tensor W1, GradCheckResult Check) Example()
    {
        var cpu = new CpuBackend();
        var random = new SeededRandom(0);
        var x  = Tensor.Uniform(cpu, random, -1f, 1f, 4, 3);          // [batch 4, features 3]
        var w1 = Tensor.Normal(cpu, random, 0f, 0.5f, 8, 3);          // [out 8, in 3] (PyTorch layout)
        var b1 = Tensor.Zeros(cpu, 8);
        var w2 = Tensor.Normal(cpu, random, 0f, 0.5f, 1, 8);
        foreach (var p in new[] { w1, b1, w2 }) p.RequiresGrad = true;

        var loss = x.Linear(w1, b1).Relu().Linear(w2).Pow(2f).Mean();  // scalar []
        loss.Backward();
        var check = GradCheck.Check("2-layer net", t => t[0].Linear(w1, b1).Relu().Linear(w2).Pow(2f).Mean(), [x]);
        return (loss, w1, check);
    }

    [Fact]
    public void ReadmeContainsTheExample()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md")).ReplaceLineEndings("\n");
        Assert.Contains(ExampleText.ReplaceLineEndings("\n"), readme);
    }

    [Fact]
    public void ExampleRuns_GradientIsNonZero_AndChecksOut()
    {
        var (loss, w1, check) = Example();
        Assert.True(loss.Item() > 0f);
        Assert.Contains(w1.Grad!.ToArray(), g => g != 0f);
        Assert.True(check.Passed, check.ToString());
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NeuralCore.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root not found");
    }
}
