namespace NeuralCore;

/// <summary>
/// A memory scope: every tensor created while it is the innermost open scope (on this thread) is disposed
/// when the scope is disposed, returning its buffer to the backend's pool. Wrap a training step in one so
/// steady-state training allocates no new device memory. Use <see cref="Tensor.MoveToOuterScope"/> or
/// <see cref="Keep"/> for results that must outlive the scope.
/// </summary>
/// <example><code>
/// using (var scope = TensorScope.Begin())
/// {
///     var loss = model.Loss(batch);
///     loss.Backward();
///     optimizer.Step();
/// }   // every intermediate tensor of this step is released here
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    // Tensor lists of disposed scopes, reused by the next scopes on this thread: a training step opens a scope and
    // registers about a hundred tensors, and a fresh list would regrow, and become garbage, on every step.
    [ThreadStatic] private static Stack<List<Tensor>>? _freeLists;

    private readonly List<Tensor> _tensors = _freeLists is { Count: > 0 } free ? free.Pop() : new();
    private readonly TensorScope? _outer;
    private bool _disposed;

    private TensorScope(TensorScope? outer) => _outer = outer;

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>Opens a new scope nested in the current one.</summary>
    public static TensorScope Begin() => _current = new TensorScope(_current);

    internal static void Register(Tensor tensor) => _current?._tensors.Add(tensor);

    /// <summary>Takes <paramref name="tensor"/> out of this scope (into the outer one, if any) so it survives.</summary>
    public Tensor Keep(Tensor tensor)
    {
        if (_disposed) return tensor;   // its list may already serve another scope
        if (_tensors.Remove(tensor)) _outer?._tensors.Add(tensor);
        return tensor;
    }

    internal static void MoveOut(Tensor tensor)
    {
        for (var s = _current; s != null; s = s._outer)
            if (s._tensors.Remove(tensor)) { s._outer?._tensors.Add(tensor); return; }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("tensor scopes must be disposed innermost first");
        _current = _outer;
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
        var free = _freeLists ??= new Stack<List<Tensor>>();
        if (free.Count < 16) free.Push(_tensors);
    }
}
