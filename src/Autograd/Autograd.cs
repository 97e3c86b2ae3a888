using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// Reverse-mode automatic differentiation: records ops on tensors that require gradients, and walks the
/// recorded graph backwards from a scalar (<see cref="Backward"/>).
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static int _noGradDepth;
    [ThreadStatic] private static List<string>? _nameStack;

    /// <summary>False inside a <see cref="NoGrad"/> scope: ops then record nothing.</summary>
    public static bool IsGradEnabled => _noGradDepth == 0;

    /// <summary>
    /// When on, every op checks its forward output and every backward step its gradients for NaN/Inf, and
    /// throws <see cref="AnomalyException"/> naming the op, its shapes and where it was created. Costs a scan
    /// per op: use it for debugging.
    /// </summary>
    public static bool DetectAnomaly { get; set; }

    /// <summary>Disables graph recording until disposed (inference, optimiser steps).</summary>
    /// <example><code>using (Autograd.NoGrad()) { var y = model.Forward(x); }</code></example>
    public static IDisposable NoGrad()
    {
        _noGradDepth++;
        return new Scope(() => _noGradDepth--);
    }

    /// <summary>
    /// Names the code region that creates ops (e.g. a module path "encoder.fc1"); recorded on each op so that
    /// graph exports and anomaly errors say where an op came from.
    /// </summary>
    public static IDisposable NameScope(string name)
    {
        (_nameStack ??= new List<string>()).Add(name);
        return new Scope(() => _nameStack.RemoveAt(_nameStack.Count - 1));
    }

    /// <summary>The current name-scope path, e.g. "vae/encoder/fc1", or null.</summary>
    public static string? CurrentNamePath => _nameStack is { Count: > 0 } ? string.Join("/", _nameStack) : null;

    private sealed class Scope(Action onDispose) : IDisposable
    {
        private Action? _onDispose = onDispose;
        public void Dispose()
        {
            _onDispose?.Invoke();
            _onDispose = null;
        }
    }

    /// <summary>
    /// Attaches the backward function of an op to its output when any input requires gradients and recording
    /// is on. Every differentiable op calls this right after computing its forward value.
    /// </summary>
    public static Tensor Record(Tensor output, string opName, Tensor[] inputs, BackwardFunction backward)
    {
        if (DetectAnomaly) CheckFinite(output, opName, inputs, "forward output");
        if (!IsGradEnabled) return output;
        bool any = false;
        foreach (var t in inputs) any |= t.RequiresGrad;
        if (!any) return output;
        output.SetGradFn(new GradNode(opName, inputs, backward, CurrentNamePath));
        return output;
    }

    internal static void CheckFinite(Tensor t, string opName, IReadOnlyList<Tensor> inputs, string what, string? createdAt = null)
    {
        var values = t.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            string shapes = string.Join(", ", inputs.Select(x => x.Shape.ToString()));
            string where = createdAt ?? CurrentNamePath ?? "(no name scope)";
            throw new AnomalyException(
                $"{(float.IsNaN(values[i]) ? "NaN" : "Inf")} in the {what} of op '{opName}' (inputs {shapes}, output {t.Shape}) created at {where}, element {i}");
        }
    }

    /// <summary>
    /// Computes gradients of <paramref name="root"/> with respect to every tensor that requires them and
    /// accumulates them into the leaves' <see cref="Tensor.Grad"/> (and retained non-leaves').
    /// The graph is freed afterwards unless <paramref name="retainGraph"/>.
    /// </summary>
    /// <param name="root">Usually a scalar loss; for a non-scalar, pass <paramref name="gradient"/>.</param>
    /// <param name="gradient">Seed gradient shaped like <paramref name="root"/>; default 1 for a scalar.</param>
    /// <param name="retainGraph">Keep the graph so Backward can run again or the graph can be exported.</param>
    public static void Backward(Tensor root, Tensor? gradient = null, bool retainGraph = false)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward() on {root}: it does not require gradients (no input had RequiresGrad = true, or it was computed under NoGrad)");
        if (gradient == null && root.Count != 1)
            throw new InvalidOperationException($"Backward() needs a scalar, got shape {root.Shape}; reduce it (Sum/Mean) or pass a gradient");
        if (gradient != null && gradient.Shape != root.Shape)
            throw new ArgumentException($"Backward() gradient has shape {gradient.Shape} but the tensor has shape {root.Shape}");

        var order = TopologicalOrder(root);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        var leafTemps = new List<Tensor>();   // leaves with hooks collect into a temporary first

        var seed = Tensor.ZerosLike(root);
        if (gradient == null) root.Backend.Fill(seed.Buffer, 1f, 0, 1);
        else root.Backend.CopyBlock(gradient.Buffer, 0, 0, seed.Buffer, 0, 0, 1, root.Count, false);
        grads[root] = seed;

        Tensor? GradientOf(Tensor input)
        {
            if (!input.RequiresGrad) return null;
            if (grads.TryGetValue(input, out var g)) return g;
            if (input.IsLeaf && input.Hooks == null)
            {
                input.Grad ??= Tensor.Unscoped(input.Backend, input.Shape);
                grads[input] = input.Grad;
                return input.Grad;
            }
            g = Tensor.ZerosLike(input);
            grads[input] = g;
            if (input.IsLeaf) leafTemps.Add(input);
            return g;
        }

        // Walk from the root towards the leaves: each node's gradient is complete when it is reached.
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            var node = t.GradFn!;
            var g = RunHooks(t, grads[t]);
            grads[t] = g;
            if (t.RetainsGrad)
            {
                if (t.Grad == null) t.Grad = Tensor.Unscoped(t.Backend, t.Shape);
                t.Backend.CopyBlock(g.Buffer, 0, 0, t.Grad.Buffer, 0, 0, 1, t.Count, accumulate: true);
            }
            var backward = node.Backward ?? throw new InvalidOperationException(
                $"the graph through op '{node.OpName}' was already freed by an earlier Backward(); pass retainGraph: true to run backward twice");
            backward(g, GradientOf);
            if (DetectAnomaly)
                foreach (var input in node.Inputs)
                    if (input.RequiresGrad && grads.TryGetValue(input, out var ig))
                        CheckFinite(ig, node.OpName, node.Inputs, "gradient flowing into input " + input.Shape, node.CreatedAt);
            if (!retainGraph) node.Free();
            if (!ReferenceEquals(g, t.Grad)) g.Dispose();
        }

        foreach (var leaf in leafTemps)
        {
            var g = RunHooks(leaf, grads[leaf]);
            leaf.Grad ??= Tensor.Unscoped(leaf.Backend, leaf.Shape);
            leaf.Backend.CopyBlock(g.Buffer, 0, 0, leaf.Grad.Buffer, 0, 0, 1, leaf.Count, accumulate: true);
        }
    }

    private static Tensor RunHooks(Tensor t, Tensor g)
    {
        if (t.Hooks == null) return g;
        foreach (var hook in t.Hooks.ToArray())
        {
            var replaced = hook(g);
            if (replaced == null) continue;
            if (replaced.Shape != t.Shape)
                throw new InvalidOperationException($"a gradient hook on {t} returned shape {replaced.Shape}, expected {t.Shape}");
            g = replaced;
        }
        return g;
    }

    /// <summary>Non-leaf tensors reachable from <paramref name="root"/>, inputs before outputs (iterative DFS).</summary>
    internal static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        if (root.GradFn == null) return order;
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn!.Inputs;
            if (next < inputs.Count)
            {
                stack.Push((t, next + 1));
                var child = inputs[next];
                if (child.GradFn != null && child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(t);
        }
        return order;
    }
}

/// <summary>A NaN or Inf detected by <see cref="Autograd.DetectAnomaly"/>.</summary>
public sealed class AnomalyException(string message) : Exception(message);
