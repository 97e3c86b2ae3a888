using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// Reverse-mode automatic differentiation: records ops on tensors that require gradients, and walks the
/// recorded graph backwards from a scalar (<see cref="Backward"/>).
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static int _noGradDepth;
    [ThreadStatic] private static NameNode? _currentName;
    [ThreadStatic] private static List<NoGradScope>? _noGradScopes;
    [ThreadStatic] private static BackwardState? _backwardState;
    [ThreadStatic] private static int _anomalyDepth;

    /// <summary>False inside a <see cref="NoGrad"/> scope: ops then record nothing.</summary>
    public static bool IsGradEnabled => _noGradDepth == 0;

    /// <summary>
    /// Until disposed, every op on this thread checks its forward output and every backward step its gradients for
    /// NaN/Inf, and throws <see cref="AnomalyException"/> naming the op, its shapes and where it was created (like
    /// PyTorch's <c>torch.autograd.detect_anomaly()</c>). A scope rather than a global switch, so that one model's
    /// debugging does not slow down or fail another's training in the same process. Costs a scan per op: use it
    /// for debugging.
    /// </summary>
    /// <example><code>using (Autograd.DetectAnomaly()) { model.ComputeLoss(x, random).Total.Backward(); }</code></example>
    public static IDisposable DetectAnomaly()
    {
        _anomalyDepth++;
        return new AnomalyScope();
    }

    /// <summary>True inside a <see cref="DetectAnomaly"/> scope on this thread.</summary>
    public static bool IsDetectingAnomalies => _anomalyDepth > 0;

    private sealed class AnomalyScope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _anomalyDepth--;
        }
    }

    /// <summary>Disables graph recording until disposed (inference, optimiser steps).</summary>
    /// <example><code>using (Autograd.NoGrad()) { var y = model.Forward(x); }</code></example>
    public static IDisposable NoGrad()
    {
        // One cached scope object per depth: entering NoGrad allocates nothing after the first time.
        var scopes = _noGradScopes ??= new List<NoGradScope>();
        while (scopes.Count <= _noGradDepth) scopes.Add(new NoGradScope(scopes.Count + 1));
        return scopes[_noGradDepth++];
    }

    private sealed class NoGradScope(int depth) : IDisposable
    {
        public void Dispose()
        {
            if (_noGradDepth == depth) _noGradDepth--;
        }
    }

    /// <summary>
    /// Names the code region that creates ops (e.g. a module path "encoder.fc1"); recorded on each op so that
    /// graph exports and anomaly errors say where an op came from.
    /// </summary>
    public static IDisposable NameScope(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var node = (_currentName ??= new NameNode(null, "")).Child(name);
        _currentName = node;
        return node;
    }

    /// <summary>The current name-scope path, e.g. "vae/encoder/fc1", or null.</summary>
    public static string? CurrentNamePath => _currentName is { Parent: not null } n ? n.Path : null;

    /// <summary>
    /// One name-scope path, as a node of a per-thread tree of the paths seen so far. Module calls enter the same
    /// paths every training step, so the tree makes entering a scope and reading its path free of allocations
    /// (joining a list of names on every op would allocate on every op of every step). The node is also the scope's disposable.
    /// </summary>
    private sealed class NameNode(NameNode? parent, string name) : IDisposable
    {
        private const int MaxChildren = 256;   // names made up per call (e.g. counters) are not cached beyond this
        private Dictionary<string, NameNode>? _children;
        private string? _path;

        public NameNode? Parent { get; } = parent;

        public string Path => _path ??= Parent is { Parent: not null } p ? p.Path + "/" + name : name;

        public NameNode Child(string childName)
        {
            _children ??= new Dictionary<string, NameNode>(StringComparer.Ordinal);
            if (_children.TryGetValue(childName, out var child)) return child;
            child = new NameNode(this, childName);
            if (_children.Count < MaxChildren) _children[childName] = child;
            return child;
        }

        public void Dispose()
        {
            if (ReferenceEquals(_currentName, this)) _currentName = Parent;
        }
    }

    /// <summary>
    /// Attaches the backward function of an op to its output when any input requires gradients and recording
    /// is on. Every differentiable op calls this right after computing its forward value.
    /// </summary>
    public static Tensor Record(Tensor output, string opName, Tensor[] inputs, BackwardFunction backward)
    {
        if (IsDetectingAnomalies) CheckFinite(output, opName, inputs, "forward output");
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

        // The walk's collections are reused from call to call on this thread (a re-entrant Backward, e.g. from a
        // hook, gets fresh ones), so a training step's backward pass allocates no bookkeeping.
        var state = _backwardState ?? new BackwardState();
        _backwardState = null;
        try
        {
            BackwardWalk(root, gradient, retainGraph, state);
        }
        finally
        {
            state.Clear();
            _backwardState = state;
        }
    }

    /// <summary>Reusable bookkeeping of one backward pass.</summary>
    private sealed class BackwardState
    {
        public readonly List<Tensor> Order = new();
        public readonly HashSet<Tensor> Visited = new(ReferenceEqualityComparer.Instance);
        public readonly Stack<(Tensor Tensor, int NextInput)> Stack = new();
        public readonly Dictionary<Tensor, Tensor> Grads = new(ReferenceEqualityComparer.Instance);
        public readonly List<Tensor> LeafTemps = new();   // leaves with hooks collect into a temporary first
        public readonly Func<Tensor, Tensor?> GradientOf;

        public BackwardState() => GradientOf = GradientOfInput;

        private Tensor? GradientOfInput(Tensor input)
        {
            if (!input.RequiresGrad) return null;
            if (Grads.TryGetValue(input, out var g)) return g;
            if (input.IsLeaf && input.Hooks == null)
            {
                input.Grad ??= Tensor.Unscoped(input.Backend, input.Shape);
                input.SettleGrad();
                Grads[input] = input.Grad;
                return input.Grad;
            }
            g = Tensor.ZerosLike(input);
            Grads[input] = g;
            if (input.IsLeaf) LeafTemps.Add(input);
            return g;
        }

        /// <summary>
        /// <see cref="GradientOfInput"/> for an op that writes the whole gradient: the first gradient of an
        /// intermediate, and a leaf's gradient whose zero is pending, are handed out to be overwritten
        /// (<paramref name="accumulate"/> false), and count as written from then on.
        /// </summary>
        public Tensor? GradientToWrite(Tensor input, out bool accumulate)
        {
            accumulate = true;
            if (!input.RequiresGrad || Grads.ContainsKey(input)) return GradientOfInput(input);
            if (input.IsLeaf && input.Hooks == null && input is { GradZeroPending: true, Grad: { } grad })
            {
                input.GradZeroPending = false;
                Grads[input] = grad;
                accumulate = false;
                return grad;
            }
            if (!input.IsLeaf)
            {
                // an intermediate's first contribution: its gradient needs no clearing
                var g = Tensor.Wrap(input.Backend.AllocateUninitialized(input.Count), input.Shape);
                Grads[input] = g;
                accumulate = false;
                return g;
            }
            return GradientOfInput(input);
        }

        public void Clear()
        {
            Order.Clear(); Visited.Clear(); Stack.Clear(); Grads.Clear(); LeafTemps.Clear();
        }
    }

    private static void BackwardWalk(Tensor root, Tensor? gradient, bool retainGraph, BackwardState state)
    {
        var order = state.Order;
        TopologicalOrder(root, order, state.Visited, state.Stack);
        var grads = state.Grads;
        var leafTemps = state.LeafTemps;
        var gradientOf = state.GradientOf;

        var seed = Tensor.ZerosLike(root);
        if (gradient == null) root.Backend.Fill(seed.Buffer, 1f, 0, 1);
        else root.Backend.CopyBlock(gradient.Buffer, 0, 0, seed.Buffer, 0, 0, 1, root.Count, false);
        grads[root] = seed;
        if (root.IsLeaf)
        {
            // Backward() on a leaf: its gradient is the seed itself.
            AccumulateGrad(root, RunHooks(root, seed));
            return;
        }

        // Walk from the root towards the leaves: each node's gradient is complete when it is reached.
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            var node = t.GradFn!;
            var g = RunHooks(t, grads[t]);
            grads[t] = g;
            if (t.RetainsGrad) AccumulateGrad(t, g);
            var backward = node.Backward ?? throw new InvalidOperationException(
                $"the graph through op '{node.OpName}' was already freed by an earlier Backward(); pass retainGraph: true to run backward twice");
            backward(g, gradientOf);
            if (IsDetectingAnomalies)
                foreach (var input in node.Inputs)
                    if (input.RequiresGrad && grads.TryGetValue(input, out var ig))
                        CheckFinite(ig, node.OpName, node.Inputs, "gradient flowing into input " + input.Shape, node.CreatedAt);
            if (!retainGraph) node.Free();
            if (!ReferenceEquals(g, t.Grad) && RowGroups.Current?.Keeps(g) != true) g.Dispose();
        }

        foreach (var leaf in leafTemps) AccumulateGrad(leaf, RunHooks(leaf, grads[leaf]));
    }

    /// <summary>t.Grad += g (t.Grad = g when its zero is pending; a new gradient when it has none).</summary>
    private static void AccumulateGrad(Tensor t, Tensor g)
    {
        bool add = !t.GradZeroPending;
        t.Grad ??= Tensor.Unscoped(t.Backend, t.Shape);
        t.GradZeroPending = false;
        t.Backend.CopyBlock(g.Buffer, 0, 0, t.Grad.Buffer, 0, 0, 1, t.Count, accumulate: add);
    }

    /// <summary>
    /// For a backward function whose kernel writes every element of an input's gradient: that gradient, or null when
    /// the input needs none, and whether the kernel must add to it. It is false when nothing has been added to the
    /// gradient yet: an intermediate's first contribution, or a leaf's gradient whose zero is pending
    /// (<see cref="TensorGradExtensions.ZeroGradDeferred"/>); the kernel then overwrites the buffer, which saves
    /// clearing it and adding to the zeros. Otherwise the same as <paramref name="gradientOf"/>.
    /// </summary>
    /// <param name="gradientOf">The function the backward function was given.</param>
    /// <param name="input">One of the op's inputs.</param>
    /// <param name="accumulate">Whether the kernel must add into the gradient (true) or may overwrite it.</param>
    public static Tensor? GradientToWrite(Func<Tensor, Tensor?> gradientOf, Tensor input, out bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(gradientOf);
        if (gradientOf.Target is BackwardState state) return state.GradientToWrite(input, out accumulate);
        accumulate = true;
        return gradientOf(input);
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
        TopologicalOrder(root, order, new HashSet<Tensor>(ReferenceEqualityComparer.Instance), new Stack<(Tensor Tensor, int NextInput)>());
        return order;
    }

    /// <summary><see cref="TopologicalOrder(Tensor)"/> into caller-provided (empty) collections.</summary>
    private static void TopologicalOrder(Tensor root, List<Tensor> order, HashSet<Tensor> visited, Stack<(Tensor Tensor, int NextInput)> stack)
    {
        if (root.GradFn == null) return;
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
    }
}

/// <summary>A NaN or Inf detected by <see cref="Autograd.DetectAnomaly"/>.</summary>
public sealed class AnomalyException(string message) : Exception(message);
