using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// A batch whose rows are cut into groups (a trainer's gradient shards) computed forward and backward at once, with
/// every sum over rows kept apart per group, so that the results have the bits of each group computed alone and its
/// gradients added in group order. While one is active on a thread (from <see cref="Begin"/> to <see cref="Dispose"/>):
/// <list type="bullet">
/// <item>a summed fused loss of a batch of <see cref="Rows"/> rows gives one value per group, shape [<see cref="Count"/>];</item>
/// <item>backward does not compute the gradient of a parameter that sums over the rows (the weight of a matrix
/// product x Wᵀ, a bias added to every row): it keeps what that needs, and <see cref="ApplyGradient"/> computes it
/// later, each group's sum from zero, added to a target in group order. A data-parallel trainer computes it once the
/// sum of the groups before this process's has arrived in the target.</item>
/// </list>
/// Row-wise ops (matrix products with the weight, elementwise ops) give the same bits however the rows are grouped,
/// so only these sums need the groups. A parameter that another op reaches, or that two ops reach, gets its gradient
/// in the ordinary way or fails; the caller checks <see cref="HasGradient"/>.
/// </summary>
public sealed class RowGroups : IDisposable
{
    [ThreadStatic] private static RowGroups? t_current;

    private readonly RowGroups? _previous;
    private readonly Dictionary<Tensor, Action<DeviceBuffer, bool>> _deferred = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Tensor> _kept = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    private RowGroups(int[] starts)
    {
        Starts = starts;
        _previous = t_current;
        t_current = this;
    }

    /// <summary>Starts the row groups of a batch on this thread.</summary>
    /// <param name="groupStarts">The first row of every group, then the batch's number of rows (non-decreasing; groups may be empty).</param>
    public static RowGroups Begin(ReadOnlySpan<int> groupStarts)
    {
        if (groupStarts.Length < 2 || groupStarts[0] != 0)
            throw new ArgumentException("row groups: give the first row (0) of the first group, the first of every other, and the number of rows", nameof(groupStarts));
        for (int g = 1; g < groupStarts.Length; g++)
            if (groupStarts[g] < groupStarts[g - 1]) throw new ArgumentException($"row groups: group {g} starts at row {groupStarts[g]}, before group {g - 1}", nameof(groupStarts));
        return new RowGroups(groupStarts.ToArray());
    }

    /// <summary>The row groups active on this thread, or null.</summary>
    public static RowGroups? Current => t_current;

    /// <summary>Rows of the batch.</summary>
    public int Rows => Starts[^1];

    /// <summary>Number of groups.</summary>
    public int Count => Starts.Length - 1;

    internal int[] Starts { get; }

    /// <summary>Whether backward left <paramref name="parameter"/>'s gradient to <see cref="ApplyGradient"/>.</summary>
    public bool HasGradient(Tensor parameter) => _deferred.ContainsKey(parameter);

    /// <summary>
    /// Computes <paramref name="parameter"/>'s gradient over the batch into <paramref name="target"/>: the fold, in
    /// group order, of each group's gradient, added to what <paramref name="target"/> holds when
    /// <paramref name="accumulate"/>, or starting from the first group's.
    /// </summary>
    /// <exception cref="InvalidOperationException">Backward left no gradient of <paramref name="parameter"/> here.</exception>
    public void ApplyGradient(Tensor parameter, Tensor target, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(target);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_deferred.TryGetValue(parameter, out var work))
            throw new InvalidOperationException($"backward left no row-grouped gradient of {parameter}");
        work(target.Buffer, accumulate);
    }

    // Whether op inputs of these shapes hold a row of the batch per row.
    internal bool HoldsRows(Shape shape) => shape.Rank == 2 && shape[0] == Rows;

    internal static bool IsParameter(Tensor t) => t.IsLeaf && t.RequiresGrad;

    /// <summary>Leaves <paramref name="parameter"/>'s gradient to <paramref name="work"/>, keeping <paramref name="upstream"/> (which backward would free) until then.</summary>
    internal void Defer(Tensor parameter, Tensor upstream, Action<DeviceBuffer, bool> work)
    {
        // two uses would sum per use, then per group: another order than the groups computed alone
        if (!_deferred.TryAdd(parameter, work))
            throw new NotSupportedException($"{parameter} is used by two ops; a batch in row groups supports one use per parameter");
        _kept.Add(upstream);
    }

    internal bool Keeps(Tensor t) => _kept.Contains(t);

    /// <summary>Ends the row groups (this thread's earlier ones, if any, become current again) and frees what backward left for <see cref="ApplyGradient"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (ReferenceEquals(t_current, this)) t_current = _previous;
        foreach (var t in _kept) t.Dispose();
        _kept.Clear();
        _deferred.Clear();
    }
}
