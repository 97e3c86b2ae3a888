using System.Text.RegularExpressions;
using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

/// <summary>The shared catalogue behind `neuralcore gradcheck`: it passes, covers every op, and catches a wrong backward.</summary>
public class GradCheckCatalogTests
{
    private static IBackend Create(string name) => name == "cpu" ? new CpuBackend() : new ReferenceBackend();

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void EveryOpCase_Passes(string backend)
    {
        var results = GradCheckCatalog.Run(Create(backend), GradCheckCatalog.Ops());
        Assert.True(results.Count >= 60, $"only {results.Count} cases");
        var failed = results.Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
        Assert.All(results, r => Assert.True(r.ElementsChecked > 0, r.Name));
    }

    [Fact]
    public void Catalogue_CoversEveryOpNameRecordedInTensorOps()
    {
        // the op names the sources pass to Record / Unary / Binary / FusedLoss / SumRange
        string dir = Path.GetDirectoryName(FindUp("src/Autograd/TensorOps.Linear.cs"))!;
        var recorded = new SortedSet<string>(StringComparer.Ordinal);
        var call = new Regex(@"(?:Record\(\w+, |Unary\(UnaryOp\.\w+, |Binary\(BinaryOp\.\w+, |FusedLoss\(LossKind\.\w+, |SumRange\(.*, )""(\w+)""");
        foreach (var file in Directory.GetFiles(dir, "TensorOps*.cs"))
            foreach (Match m in call.Matches(File.ReadAllText(file))) recorded.Add(m.Groups[1].Value);
        Assert.Contains("matmul", recorded);
        Assert.Contains("gaussian_kl", recorded);
        Assert.True(recorded.Count >= 25, string.Join(", ", recorded));

        // the ops each case's graph actually records
        var covered = new HashSet<string>(StringComparer.Ordinal);
        var backend = new ReferenceBackend();
        foreach (var c in GradCheckCatalog.Ops())
        {
            var graph = GraphExport.Capture(c.Build(backend).Function());
            foreach (var n in graph.Nodes.Where(n => n.Kind == GraphNodeKind.Op)) covered.Add(n.Label);
        }
        Assert.Empty(recorded.Except(covered));
    }

    /// <summary>exp whose backward adds the gradient twice.</summary>
    internal static GradCheckCase BrokenExp() => new("broken_exp", "broken_exp (2x gradient)", b =>
    {
        var x = Tensor.Uniform(b, new SeededRandom(30), 0.5f, 2f, 3, 3);
        x.RequiresGrad = true;
        return new GradCheckProblem(() =>
        {
            Tensor y;
            using (Autograd.NoGrad()) y = x.Exp();
            return Autograd.Record(y, "broken_exp", [x], (dy, gradOf) =>
            {
                var dx = gradOf(x);
                if (dx == null) return;
                b.UnaryBackward(UnaryOp.Exp, x.Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
                b.UnaryBackward(UnaryOp.Exp, x.Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
            });
        }, [x]);
    });

    [Fact]
    public void Suite_FailsOnAnInjectedWrongBackward()
    {
        var cases = GradCheckCatalog.Select([.. GradCheckCatalog.Ops(), BrokenExp()], null);
        var results = GradCheckCatalog.Run(new ReferenceBackend(), cases);
        var bad = Assert.Single(results, r => !r.Passed);
        Assert.Equal("broken_exp (2x gradient)", bad.Name);
        Assert.Equal(2.0, bad.Analytic / bad.Numeric, 2);
        string table = GradCheckCatalog.FormatTable(results);
        Assert.Contains($"1 of {results.Count} checks FAILED", table);
        Assert.Matches(@"broken_exp \(2x gradient\)\s+\|.*\| FAIL \(input 0\[\d+\]: analytic", table);
        Assert.Matches(@"\nexp\s+\|.*\| pass", table);
    }

    [Fact]
    public void Select_ByOpOrName_AndRejectsUnknownNames()
    {
        var ops = GradCheckCatalog.Ops();
        Assert.Equal(4, GradCheckCatalog.Select(ops, "matmul").Count);
        Assert.Equal(4, GradCheckCatalog.Select(ops, "MATMUL").Count);
        Assert.Equal("matmul A^T B", Assert.Single(GradCheckCatalog.Select(ops, "matmul A^T B")).Name);
        var e = Assert.Throws<ArgumentException>(() => GradCheckCatalog.Select(ops, "nosuch"));
        Assert.Contains("conv2d", e.Message);
    }

    [Fact]
    public void CheckInPlace_RestoresTheTensors()
    {
        var b = new ReferenceBackend();
        var w = Tensor.FromArray(b, [0.3f, -0.7f, 1.1f], 3);
        w.RequiresGrad = true;
        var r = GradCheck.CheckInPlace("tanh in place", () => w.Tanh(), [w]);
        Assert.True(r.Passed, r.ToString());
        Assert.Equal([0.3f, -0.7f, 1.1f], w.ToArray());
        Assert.Throws<ArgumentException>(() => GradCheck.CheckInPlace("non-leaf", () => w.Tanh(), [w.Mul(2f)]));
    }

    private static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
