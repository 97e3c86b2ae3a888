using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

public class GraphExportTests
{
    private readonly ReferenceBackend _b = new();

    /// <summary>y = relu(x * w + b).sum() with x [2, 3] data, w and b [3] parameters.</summary>
    private (Tensor X, Tensor W, Tensor B, Tensor Y) SmallGraph()
    {
        var x = Tensor.FromArray(_b, [1f, -2f, 3f, -4f, 5f, -6f], 2, 3);
        var w = Tensor.FromArray(_b, [0.5f, -1f, 2f], 3);
        var bias = Tensor.FromArray(_b, [0.1f, 0.2f, -0.3f], 3);
        w.RequiresGrad = true;
        bias.RequiresGrad = true;
        var y = x.Mul(w).Add(bias).Relu().Sum();
        return (x, w, bias, y);
    }

    [Fact]
    public void SmallGraph_HasItsOpsAndLeavesWithLabels()
    {
        var (x, w, bias, y) = SmallGraph();
        var graph = GraphExport.Capture(y, [("w", w), ("b", bias)]);

        // Sum() of a matrix flattens first: mul, add, relu, reshape, sum
        Assert.Equal(["mul", "add", "relu", "reshape", "sum"], graph.Nodes.Where(n => n.Kind == GraphNodeKind.Op).Select(n => n.Label));
        Assert.Equal(5, graph.OpCount);
        Assert.Equal(2, graph.ParameterCount);
        Assert.Equal(1, graph.ConstantCount);
        Assert.Equal(["constant", "w", "b"], graph.Nodes.Where(n => n.IsLeaf).Select(n => n.Label));
        Assert.Same(y, graph.Root.Tensor);
        // inputs come before the ops that read them, in argument order
        var mul = graph.Nodes.Single(n => n.Label == "mul");
        Assert.Equal([graph.Nodes.Single(n => ReferenceEquals(n.Tensor, x)).Id, graph.Nodes.Single(n => n.Label == "w").Id], mul.Inputs);
        Assert.All(graph.Nodes, n => Assert.All(n.Inputs, i => Assert.True(i < n.Id)));

        var dot = graph.ToDot();
        Assert.StartsWith("digraph", dot);
        Assert.Equal(dot.Count(c => c == '{'), dot.Count(c => c == '}'));
        Assert.Equal(8, System.Text.RegularExpressions.Regex.Matches(dot, @"^\s*n\d+ \[label=", System.Text.RegularExpressions.RegexOptions.Multiline).Count);
        Assert.Equal(7, System.Text.RegularExpressions.Regex.Matches(dot, @"n\d+ -> n\d+;").Count);   // 2 + 2 + 1 + 1 + 1 inputs
        Assert.Contains("relu\\l[2, 3]\\l", dot);
    }

    [Fact]
    public void BeforeBackward_TheDotSaysThereAreNoGradients()
    {
        var (_, _, _, y) = SmallGraph();
        var graph = GraphExport.Capture(y);
        Assert.False(graph.HasGradients);
        var dot = graph.ToDot("small");
        Assert.Contains(ComputationGraph.NoGradientsCaption, dot);
        Assert.Contains("label=\"small\\nno gradients yet", dot);
        Assert.DoesNotContain("grad:", dot);
        Assert.Contains("value:", dot);
    }

    [Fact]
    public void AfterRetainAllAndBackward_EveryNodeHasGradientStatistics()
    {
        var (x, w, bias, y) = SmallGraph();
        Assert.Equal(5, GraphExport.RetainAll(y));
        y.Backward(retainGraph: true);
        var graph = GraphExport.Capture(y, [("w", w), ("b", bias)]);

        Assert.True(graph.HasGradients);
        Assert.All(graph.Nodes.Where(n => n.Kind != GraphNodeKind.Constant), n => Assert.NotNull(n.Gradient));
        Assert.Null(graph.Nodes.Single(n => ReferenceEquals(n.Tensor, x)).Gradient);
        // d sum / d relu = 1 everywhere
        var relu = graph.Nodes.Single(n => n.Label == "relu").Gradient!;
        Assert.Equal((1.0, 0.0, 1.0, 1.0), (relu.Mean, relu.Std, relu.Min, relu.Max));
        // pre-activations x*w + b = [0.6, 2.2, 5.7; -1.9, -4.8, -12.3]: only row 0 passes the relu, so dL/dw = x[0] = [1, -2, 3]
        Assert.Equal([1f, -2f, 3f], w.Grad!.ToArray());
        var wStats = graph.Nodes.Single(n => n.Label == "w").Gradient!;
        Assert.Equal(Math.Sqrt(14), wStats.L2Norm, 6);
        Assert.Equal(2.0 / 3.0, wStats.Mean, 6);
        var dot = graph.ToDot();
        Assert.DoesNotContain("no gradients yet", dot);
        Assert.Contains("grad:  mean 1 std 0 min 1 max 1 L2 2.45", dot);   // relu's gradient: six ones
        Assert.Contains("value: 8.5", dot);                                  // the root: 0.6 + 2.2 + 5.7
    }

    [Fact]
    public void GraphFreedByBackward_IsReportedInsteadOfDrawnEmpty()
    {
        var (_, _, _, y) = SmallGraph();
        y.Backward();
        var graph = GraphExport.Capture(y);
        Assert.True(graph.WasFreed);
        Assert.Contains("freed", graph.ToDot());
    }

    [Fact]
    public void NameScopes_BecomeNestedClusters_AndParametersJoinTheirConsumers()
    {
        var x = Tensor.FromArray(_b, [1f, 2f], 1, 2);
        var w = Tensor.FromArray(_b, [1f, 0f, 0f, 1f], 2, 2);
        w.RequiresGrad = true;
        Tensor y;
        using (Autograd.NameScope("encoder"))
        using (Autograd.NameScope("0:Linear"))
            y = x.Linear(w);
        var loss = y.Tanh().Sum();
        var graph = GraphExport.Capture(loss, [("encoder.0.weight", w)]);
        Assert.Equal("encoder/0:Linear", graph.Nodes.Single(n => n.Label == "matmul").Scope);
        Assert.Equal("encoder/0:Linear", graph.Nodes.Single(n => n.Label == "encoder.0.weight").Scope);
        Assert.Null(graph.Nodes.Single(n => n.Label == "tanh").Scope);
        var dot = graph.ToDot();
        int encoder = dot.IndexOf("label=\"encoder\"", StringComparison.Ordinal);
        int linear = dot.IndexOf("label=\"0:Linear\"", StringComparison.Ordinal);
        int weight = dot.IndexOf("encoder.0.weight", StringComparison.Ordinal);
        Assert.True(encoder > 0 && linear > encoder && weight > linear, dot);
        Assert.Contains("at encoder/0:Linear", dot);
    }

    [Fact]
    public void Labels_AreEscaped()
    {
        var w = Tensor.FromArray(_b, [1f], 1);
        w.RequiresGrad = true;
        w.Name = "odd \"name\" \\ here";
        var dot = GraphExport.ToDot(w.Mul(2f).Sum(), title: "a \"quoted\"\ntitle");
        Assert.Contains("odd \\\"name\\\" \\\\ here", dot);
        Assert.Contains("a \\\"quoted\\\"\\ntitle", dot);
        // every quote inside the file is either a delimiter or escaped: an even count of unescaped quotes per line
        foreach (var line in dot.Split('\n'))
            Assert.True(System.Text.RegularExpressions.Regex.Matches(line, "(?<!\\\\)\"").Count % 2 == 0, line);
    }

    [Fact]
    public void Statistics_MatchHandComputedValues()
    {
        var s = TensorStatistics.Of([1f, 2f, 3f, 4f]);
        Assert.Equal(2.5, s.Mean, 12);
        Assert.Equal(Math.Sqrt(1.25), s.Std, 12);
        Assert.Equal((1.0, 4.0), (s.Min, s.Max));
        Assert.Equal(Math.Sqrt(30), s.L2Norm, 12);
    }
}
