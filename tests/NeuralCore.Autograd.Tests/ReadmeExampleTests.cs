using NeuralCore.Kernels.Cpu;

namespace NeuralCore.AutogradTests;

/// <summary>
/// The README's "tiny example" runs: its code is the marked region of <see cref="Example"/> below, and the README
/// must contain that region verbatim (read from this file's source, so the two cannot drift apart).
/// </summary>
public class ReadmeExampleTests
{
    private static (Tensor Loss, Tensor W1, GradCheckResult Check) Example()
    {
        // README example begin
        var cpu = new CpuBackend();
        var random = new SeededRandom(0);
        var x  = Tensor.Uniform(cpu, random, -1f, 1f, 4, 3);          // [batch 4, features 3]
        var w1 = Tensor.Normal(cpu, random, 0f, 0.5f, 8, 3);          // [out 8, in 3] (PyTorch layout)
        var b1 = Tensor.Zeros(cpu, 8);
        var w2 = Tensor.Normal(cpu, random, 0f, 0.5f, 1, 8);
        foreach (var p in new[] { w1, b1, w2 }) p.RequiresGrad = true;

        var loss = x.Linear(w1, b1).Relu().Linear(w2).Pow(2f).Mean();  // scalar []
        loss.Backward();
        // README example end
        var check = GradCheck.Check("2-layer net", t => t[0].Linear(w1, b1).Relu().Linear(w2).Pow(2f).Mean(), [x]);
        return (loss, w1, check);
    }

    [Fact]
    public void ReadmeContainsTheExample()
    {
        string root = RepoRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        var source = File.ReadAllLines(Path.Combine(root, "tests", "NeuralCore.Autograd.Tests", "ReadmeExampleTests.cs"));
        int begin = Array.FindIndex(source, l => l.Trim() == "// README example begin");
        int end = Array.FindIndex(source, l => l.Trim() == "// README example end");
        Assert.True(begin >= 0 && end > begin, "example markers not found");
        string example = string.Join("\n", source[(begin + 1)..end].Select(l => l.Length >= 8 ? l[8..] : l.TrimStart()));
        Assert.Contains(example, readme);
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
