using System.Globalization;
using System.Text;

namespace NeuralCore;

/// <summary>Summary statistics of a tensor's values (or of its gradient), computed in double.</summary>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Std">Population standard deviation.</param>
/// <param name="Min">Smallest value.</param>
/// <param name="Max">Largest value.</param>
/// <param name="L2Norm">sqrt(Σ v²).</param>
public sealed record TensorStatistics(double Mean, double Std, double Min, double Max, double L2Norm)
{
    /// <summary>Statistics of <paramref name="values"/> (all zero for an empty span).</summary>
    public static TensorStatistics Of(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return new TensorStatistics(0, 0, 0, 0, 0);
        double sum = 0, sumSquares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (float v in values)
        {
            sum += v;
            sumSquares += (double)v * v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        double mean = sum / values.Length;
        double variance = Math.Max(0, sumSquares / values.Length - mean * mean);
        return new TensorStatistics(mean, Math.Sqrt(variance), min, max, Math.Sqrt(sumSquares));
    }

    /// <summary>Statistics of a tensor's values (one device read).</summary>
    public static TensorStatistics Of(Tensor tensor) => Of(tensor.ToArray());

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"mean {Mean:G3} std {Std:G3} min {Min:G3} max {Max:G3} L2 {L2Norm:G3}");
}

/// <summary>What a node of an exported graph stands for.</summary>
public enum GraphNodeKind
{
    /// <summary>The output of a recorded op (a non-leaf tensor).</summary>
    Op,
    /// <summary>A leaf that requires gradients: a parameter, or an input the user asked gradients for.</summary>
    Parameter,
    /// <summary>A leaf without gradients: data, targets, noise.</summary>
    Constant,
}

/// <summary>One node of a <see cref="ComputationGraph"/>: an op's output tensor, or a leaf.</summary>
public sealed class GraphNode
{
    internal GraphNode(int id, Tensor tensor, GraphNodeKind kind, string label, string? scope, int[] inputs)
    {
        Id = id; Tensor = tensor; Kind = kind; Label = label; Scope = scope; Inputs = inputs;
    }

    /// <summary>Position in <see cref="ComputationGraph.Nodes"/> (inputs before outputs).</summary>
    public int Id { get; }
    /// <summary>The tensor this node stands for.</summary>
    public Tensor Tensor { get; }
    /// <summary>Whether the node is an op, a parameter, an input or a constant.</summary>
    public GraphNodeKind Kind { get; }
    /// <summary>The op name ("matmul") for ops; the full parameter name ("encoder.0.weight"), the tensor's name, or "constant" for leaves.</summary>
    public string Label { get; }
    /// <summary>The name-scope path where the op was created ("encoder/0:Linear"); for a leaf, the scope of its consumers when they agree.</summary>
    public string? Scope { get; internal set; }
    /// <summary>Ids of the op's inputs, in argument order (empty for leaves).</summary>
    public IReadOnlyList<int> Inputs { get; }
    /// <summary>Value statistics, or null when the tensor was disposed.</summary>
    public TensorStatistics? Value { get; internal set; }
    /// <summary>Gradient statistics, or null when no gradient is kept (before backward, or a non-leaf without RetainGrad).</summary>
    public TensorStatistics? Gradient { get; internal set; }
    /// <summary>True for tensors that no op produced (parameters, inputs, constants).</summary>
    public bool IsLeaf => Kind != GraphNodeKind.Op;
    /// <summary>The tensor's shape.</summary>
    public Shape Shape => Tensor.Shape;
}

/// <summary>
/// A snapshot of the autograd graph behind a tensor, read for inspection: every recorded op back to the leaves,
/// with the name scope each op was created in and, once backward has run, value and gradient statistics.
/// Build one with <see cref="GraphExport.Capture"/>; write it with <see cref="ToDot"/>.
/// </summary>
public sealed class ComputationGraph
{
    /// <summary>The caption of a graph that has no gradients yet.</summary>
    public const string NoGradientsCaption = "no gradients yet: run Backward(retainGraph: true) first";

    internal ComputationGraph(List<GraphNode> nodes, GraphNode root, bool freed)
    {
        Nodes = nodes;
        Root = root;
        WasFreed = freed;
    }

    /// <summary>All nodes, inputs before the ops that read them; the root is last.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }
    /// <summary>The node of the tensor the graph was captured from (usually the loss).</summary>
    public GraphNode Root { get; }
    /// <summary>True when a Backward() without retainGraph already freed the graph (only the root is left).</summary>
    public bool WasFreed { get; }
    /// <summary>True when at least one node carries a gradient.</summary>
    public bool HasGradients => Nodes.Any(n => n.Gradient != null);
    /// <summary>Number of op nodes.</summary>
    public int OpCount => Nodes.Count(n => n.Kind == GraphNodeKind.Op);
    /// <summary>Number of parameter leaves (tensors named in the parameter list given to <see cref="GraphExport.Capture"/>).</summary>
    public int ParameterCount => Nodes.Count(n => n.Kind == GraphNodeKind.Parameter);
    /// <summary>Number of leaves that are neither parameters nor inputs requiring gradients.</summary>
    public int ConstantCount => Nodes.Count(n => n.Kind == GraphNodeKind.Constant);

    /// <summary>The sentence under the title that says what the picture shows.</summary>
    public string Caption =>
        WasFreed ? "the graph was freed by Backward(); pass retainGraph: true to keep it for export"
        : !HasGradients ? NoGradientsCaption
        : Nodes.Any(n => n.Kind == GraphNodeKind.Op && n.Gradient == null)
            ? "gradients shown for leaves and for non-leaves that kept theirs (RetainGrad / GraphExport.RetainAll)"
            : "values and gradients after Backward()";

    /// <summary>
    /// The graph in Graphviz DOT: data flows from leaves (parameters blue, constants grey) through ops (boxes,
    /// grouped in one cluster per name scope) to the root (double border). Render with <c>dot -Tsvg</c>.
    /// </summary>
    /// <param name="title">First line of the caption, e.g. "vae loss".</param>
    /// <param name="rankDirection">Graphviz rankdir: "TB" (top to bottom, default), "LR", "BT" or "RL".</param>
    public string ToDot(string? title = null, string rankDirection = "TB")
    {
        if (rankDirection is not ("TB" or "LR" or "BT" or "RL"))
            throw new ArgumentException($"rank direction must be TB, LR, BT or RL, got '{rankDirection}'");
        var dot = new StringBuilder();
        dot.AppendLine("digraph autograd {");
        dot.AppendLine($"  rankdir={rankDirection};");
        dot.AppendLine("  graph [fontname=\"Helvetica\", fontsize=12, labelloc=t, nodesep=0.25, ranksep=0.35];");
        dot.AppendLine("  node [fontname=\"Helvetica\", fontsize=10];");
        dot.AppendLine("  edge [color=\"#555555\", arrowsize=0.7];");
        string caption = title == null ? Caption : title + "\n" + Caption;
        dot.AppendLine($"  label=\"{Escape(caption)}\";");

        // One cluster per scope path, nested like the modules: encoder > 0:Linear > matmul.
        var root = new ScopeTree("");
        foreach (var n in Nodes) root.Find(n.Scope).Nodes.Add(n);
        int clusterId = 0;
        void Emit(ScopeTree tree, string indent)
        {
            foreach (var n in tree.Nodes) dot.AppendLine(indent + NodeStatement(n));
            foreach (var child in tree.Children.Values)
            {
                dot.AppendLine($"{indent}subgraph cluster_{clusterId++} {{");
                dot.AppendLine($"{indent}  label=\"{Escape(child.Name)}\"; tooltip=\"{Escape(child.Path)}\"; style=\"rounded,filled\"; fillcolor=\"#f7f7f7\"; color=\"#bbbbbb\";");
                Emit(child, indent + "  ");
                dot.AppendLine(indent + "}");
            }
        }
        Emit(root, "  ");
        foreach (var n in Nodes)
            foreach (int input in n.Inputs)
                dot.AppendLine($"  n{input} -> n{n.Id};");
        dot.AppendLine("}");
        return dot.ToString();
    }

    private string NodeStatement(GraphNode n)
    {
        var lines = new List<string>();
        if (n.Kind == GraphNodeKind.Op)
        {
            lines.Add(n.Label);
            lines.Add(n.Shape.ToString());
            if (n.Scope != null) lines.Add("at " + n.Scope);
        }
        else
        {
            lines.Add(n.Label);
            lines.Add(n.Shape.ToString());
        }
        // a one-element tensor shows its number; larger ones their statistics
        string Describe(TensorStatistics s) => n.Tensor.Count == 1 ? s.Mean.ToString("G6", CultureInfo.InvariantCulture) : s.ToString();
        lines.Add(n.Value != null ? "value: " + Describe(n.Value) : "value: (tensor disposed)");
        if (n.Gradient != null) lines.Add("grad:  " + Describe(n.Gradient));
        // \l ends a left-justified line in Graphviz labels
        string label = string.Concat(lines.Select(l => Escape(l) + "\\l"));
        string style = n.Kind switch
        {
            GraphNodeKind.Op => "shape=box, style=\"rounded,filled\", fillcolor=\"#fff4d6\"",
            GraphNodeKind.Parameter => "shape=box, style=filled, fillcolor=\"#cfe3ff\"",
            _ => "shape=box, style=\"dashed\", color=\"#888888\", fontcolor=\"#555555\"",
        };
        if (ReferenceEquals(n, Root)) style += ", peripheries=2, penwidth=1.5";
        return $"n{n.Id} [label=\"{label}\", {style}];";
    }

    /// <summary>Escapes text for a double-quoted DOT string: backslashes, quotes and line breaks.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    private sealed class ScopeTree(string path)
    {
        public string Path { get; } = path;
        public string Name => Path.Contains('/') ? Path[(Path.LastIndexOf('/') + 1)..] : Path;
        public List<GraphNode> Nodes { get; } = new();
        public SortedDictionary<string, ScopeTree> Children { get; } = new(StringComparer.Ordinal);

        public ScopeTree Find(string? scope)
        {
            if (string.IsNullOrEmpty(scope)) return this;
            var tree = this;
            foreach (var part in scope.Split('/'))
            {
                string path = tree.Path.Length == 0 ? part : tree.Path + "/" + part;
                if (!tree.Children.TryGetValue(part, out var child)) tree.Children[part] = child = new ScopeTree(path);
                tree = child;
            }
            return tree;
        }
    }
}

/// <summary>
/// Exports the autograd graph behind a tensor (usually a loss) for inspection, e.g. as Graphviz DOT.
/// </summary>
/// <example><code>
/// GraphExport.RetainAll(loss);                 // keep every intermediate gradient
/// loss.Backward(retainGraph: true);            // keep the graph for the export
/// File.WriteAllText("loss.dot", GraphExport.Capture(loss, model.NamedParameters()).ToDot("my loss"));
/// // dot -Tsvg loss.dot -o loss.svg
/// </code></example>
public static class GraphExport
{
    /// <summary>
    /// Calls RetainGrad on every non-leaf tensor behind <paramref name="root"/> (root included) so that a
    /// following Backward() keeps their gradients for the export. Returns how many tensors were marked.
    /// </summary>
    public static int RetainAll(Tensor root)
    {
        var order = Autograd.TopologicalOrder(root);
        foreach (var t in order) t.RetainGrad();
        return order.Count;
    }

    /// <summary>
    /// Reads the graph behind <paramref name="root"/>: every op back to the leaves, with value statistics and,
    /// where kept, gradient statistics.
    /// </summary>
    /// <param name="root">Usually a scalar loss.</param>
    /// <param name="names">Full names for tensors, e.g. <c>model.NamedParameters()</c> ("encoder.0.weight");
    /// unnamed leaves fall back to <see cref="Tensor.Name"/>, then "constant" / "leaf".</param>
    public static ComputationGraph Capture(Tensor root, IEnumerable<(string Name, Tensor Parameter)>? names = null)
    {
        var known = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        if (names != null)
            foreach (var (name, tensor) in names) known.TryAdd(tensor, name);

        var ops = Autograd.TopologicalOrder(root);      // non-leaves, inputs before outputs
        bool freed = root.GradFn is { } fn && fn.Backward == null;
        var ids = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        var nodes = new List<GraphNode>();

        GraphNode AddLeaf(Tensor t)
        {
            var kind = t.RequiresGrad ? GraphNodeKind.Parameter : GraphNodeKind.Constant;
            string label = known.GetValueOrDefault(t) ?? t.Name ?? (kind == GraphNodeKind.Parameter ? "leaf" : "constant");
            var node = new GraphNode(nodes.Count, t, kind, label, null, []);
            ids[t] = node.Id;
            nodes.Add(node);
            return node;
        }

        foreach (var t in ops)
        {
            var inputs = t.GradFn!.Inputs;
            var inputIds = new int[inputs.Count];
            for (int i = 0; i < inputs.Count; i++)
                inputIds[i] = ids.TryGetValue(inputs[i], out int id) ? id : AddLeaf(inputs[i]).Id;
            string label = t.GradFn.OpName;
            if (known.TryGetValue(t, out var name)) label += " (" + name + ")";
            var node = new GraphNode(nodes.Count, t, GraphNodeKind.Op, label, t.GradFn.CreatedAt, inputIds);
            ids[t] = node.Id;
            nodes.Add(node);
        }
        var rootNode = ids.TryGetValue(root, out int rootId) ? nodes[rootId] : AddLeaf(root);

        // A leaf sits in the cluster of its consumers when they all share one scope (weights beside their matmul).
        var consumerScopes = new Dictionary<int, HashSet<string?>>();
        foreach (var n in nodes)
            foreach (int input in n.Inputs)
                if (nodes[input].IsLeaf)
                {
                    if (!consumerScopes.TryGetValue(input, out var set)) consumerScopes[input] = set = new HashSet<string?>();
                    set.Add(n.Scope);
                }
        foreach (var (id, scopes) in consumerScopes)
            if (scopes.Count == 1) nodes[id].Scope = scopes.First();

        foreach (var n in nodes)
        {
            if (!n.Tensor.IsDisposed) n.Value = TensorStatistics.Of(n.Tensor);
            if (n.Tensor.Grad is { IsDisposed: false } g) n.Gradient = TensorStatistics.Of(g);
        }
        return new ComputationGraph(nodes, rootNode, freed);
    }

    /// <summary>Shortcut for <c>Capture(root, names).ToDot(title)</c>.</summary>
    public static string ToDot(Tensor root, IEnumerable<(string Name, Tensor Parameter)>? names = null, string? title = null) =>
        Capture(root, names).ToDot(title);
}
