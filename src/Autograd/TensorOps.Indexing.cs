using NeuralCore.Kernels;

namespace NeuralCore;

// Indices (of Gather, OneHot, CrossEntropy's targets, and what ArgMin/ArgMax return) are ordinary float tensors
// holding integers: they stay on the device between ops (argmin -> gather in a vector quantiser never leaves it), and
// they are exact up to 2^24. An index that is not an integer in range gives NaN where a value is produced (a gathered
// row, a one-hot row, a loss) instead of an exception, because checking would mean reading it back from a GPU.

public static partial class TensorOps
{
    /// <summary>
    /// The axes of <paramref name="x"/> rearranged (a copy): result dimension i is x's dimension
    /// <paramref name="axes"/>[i] (negative axes count from the end), as PyTorch's <c>permute</c>. E.g.
    /// <c>x.Permute(0, 2, 3, 1)</c> turns [B, D, H, W] into [B, H, W, D]. The gradient is permuted back.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="axes"/> is not a permutation of x's axes.</exception>
    public static Tensor Permute(this Tensor x, params int[] axes)
    {
        ArgumentNullException.ThrowIfNull(axes);
        int rank = x.Shape.Rank;
        if (axes.Length != rank)
            throw new ArgumentException($"permute: {axes.Length} axes given for shape {x.Shape}; name each of its {rank} axes once", nameof(axes));
        var normalized = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int a = axes[i] < 0 ? axes[i] + rank : axes[i];
            normalized[i] = a >= 0 && a < rank ? a : throw new ArgumentException(
                $"permute: axis {axes[i]} is out of range for shape {x.Shape}; name each axis in [{-rank}, {rank}) once", nameof(axes));
        }
        var dims = new int[rank];
        Span<int> strides = stackalloc int[Math.Max(rank, 1)];
        Indexing.PermutationWalk(x.Shape.Dims, normalized, dims, strides);
        var inverse = new int[rank];
        for (int i = 0; i < rank; i++) inverse[normalized[i]] = i;
        var backend = x.Backend;
        var y = NewTensor(backend, Shape.Own(dims));
        backend.Permute(x.Buffer, x.Shape.Dims, normalized, y.Buffer, accumulate: false);
        return Autograd.Record(y, "permute", [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.Permute(dy.Buffer, dy.Shape.Dims, inverse, dx.Buffer, accumulate: true);
        });
    }

    /// <summary>
    /// Rows of <paramref name="table"/> [K, D] picked by <paramref name="indices"/> (any shape, integer values in
    /// [0, K) stored as floats): result indices.Shape + [D], as PyTorch's <c>table[indices]</c> or <c>F.embedding</c>.
    /// The table's gradient adds each result row's gradient into the row it came from (rows picked twice get both).
    /// An invalid index gives a row of NaN and no gradient. <paramref name="indices"/> gets no gradient.
    /// </summary>
    public static Tensor Gather(this Tensor table, Tensor indices)
    {
        SameBackend("gather", table, indices);
        if (table.Shape.Rank != 2)
            throw new ArgumentException($"gather: expected a table [rows, width], got shape {table.Shape}", nameof(table));
        int rows = table.Shape[0], width = table.Shape[1], n = indices.Count;
        var dims = new int[indices.Shape.Rank + 1];
        indices.Shape.Dims.CopyTo(dims);
        dims[^1] = width;
        var backend = table.Backend;
        var y = NewTensor(backend, Shape.Own(dims));
        backend.GatherRows(table.Buffer, indices.Buffer, y.Buffer, n, rows, width);
        return Autograd.Record(y, "gather", [table, indices], (dy, gradOf) =>
        {
            var dt = gradOf(table);
            if (dt != null) backend.ScatterAddRows(dy.Buffer, indices.Buffer, dt.Buffer, n, rows, width);
        });
    }

    /// <summary>
    /// Sums of rows of <paramref name="table"/> [K, D]: <paramref name="indices"/> [..., taps] (integer values in [0, K)
    /// stored as floats) picks taps rows for every result row, result indices.Shape without its last axis + [D], as
    /// PyTorch's <c>F.embedding_bag(..., mode="sum")</c>; the same numbers as <c>table.Gather(indices).Sum(-2)</c>
    /// without the gathered [..., taps, D] intermediate. The table's gradient adds each result row's gradient into every
    /// row it summed. An invalid index gives a row of NaN and no gradient. <paramref name="indices"/> gets no gradient.
    /// </summary>
    public static Tensor GatherSum(this Tensor table, Tensor indices)
    {
        SameBackend("gather_sum", table, indices);
        if (table.Shape.Rank != 2)
            throw new ArgumentException($"gather_sum: expected a table [rows, width], got shape {table.Shape}", nameof(table));
        if (indices.Shape.Rank < 1)
            throw new ArgumentException($"gather_sum: expected indices [..., taps] with the rows to sum on the last axis, got a scalar", nameof(indices));
        int rows = table.Shape[0], width = table.Shape[1], taps = indices.Shape[indices.Shape.Rank - 1];
        int n = taps == 0 ? 0 : indices.Count / taps;
        var dims = indices.Shape.ToArray();
        dims[^1] = width;
        var backend = table.Backend;
        var y = NewTensor(backend, Shape.Own(dims));
        if (taps == 0) backend.Fill(y.Buffer, 0f, 0, y.Count);
        else backend.GatherSumRows(table.Buffer, indices.Buffer, y.Buffer, n, taps, rows, width);
        return Autograd.Record(y, "gather_sum", [table, indices], (dy, gradOf) =>
        {
            var dt = gradOf(table);
            if (dt != null && taps > 0) backend.ScatterAddSumRows(dy.Buffer, indices.Buffer, dt.Buffer, n, taps, rows, width);
        });
    }

    /// <summary>
    /// One-hot rows: result indices.Shape + [<paramref name="classes"/>], 1 at each index and 0 elsewhere, as PyTorch's
    /// <c>F.one_hot</c> (in float). An invalid index gives a row of NaN. Not differentiable (no gradient flows).
    /// </summary>
    public static Tensor OneHot(this Tensor indices, int classes)
    {
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "one_hot: the number of classes must be at least 1");
        var dims = new int[indices.Shape.Rank + 1];
        indices.Shape.Dims.CopyTo(dims);
        dims[^1] = classes;
        var backend = indices.Backend;
        var y = NewTensor(backend, Shape.Own(dims));
        backend.OneHot(indices.Buffer, y.Buffer, indices.Count, classes);
        return y;
    }

    /// <summary>
    /// The index of the smallest element along <paramref name="axis"/> (as a float), the axis dropped unless
    /// <paramref name="keepDim"/>; as PyTorch: the first index on ties, the index of the first NaN where there is one.
    /// Not differentiable.
    /// </summary>
    public static Tensor ArgMin(this Tensor x, int axis, bool keepDim = false) => ArgReduce(x, axis, keepDim, max: false);

    /// <summary>The index of the largest element along <paramref name="axis"/>; the rules of <see cref="ArgMin"/>.</summary>
    public static Tensor ArgMax(this Tensor x, int axis, bool keepDim = false) => ArgReduce(x, axis, keepDim, max: true);

    private static Tensor ArgReduce(Tensor x, int axis, bool keepDim, bool max)
    {
        string op = max ? "argmax" : "argmin";
        axis = x.Shape.NormalizeAxis(axis);
        int length = x.Shape[axis];
        if (length == 0) throw new ArgumentException($"{op}: axis {axis} of shape {x.Shape} is empty; there is no element to pick", nameof(axis));
        var (outer, inner) = OuterInner(x.Shape, axis);
        var dims = x.Shape.ToArray();
        dims[axis] = 1;
        if (!keepDim) dims = dims.Where((_, i) => i != axis).ToArray();
        var backend = x.Backend;
        var y = NewTensor(backend, Shape.Own(dims));
        backend.ArgReduce(x.Buffer, y.Buffer, outer, length, inner, max);
        return y;
    }

    /// <summary>
    /// Softmax cross-entropy of <paramref name="logits"/> [N, C] or [N, C, d1, ...] (classes on axis 1) against class
    /// indices <paramref name="targets"/> [N] or [N, d1, ...] (integers in [0, C) stored as floats), as PyTorch's
    /// <c>F.cross_entropy</c>: -log softmax(logits)[target] per position, computed stably (log-sum-exp after
    /// subtracting the largest logit); reduced by <paramref name="reduction"/> (<see cref="Reduction.None"/>: the
    /// per-position losses, shaped like the targets). NaN where a logit is NaN or +Inf, where every logit is -Inf,
    /// or where the target is invalid; +Inf where the target's logit alone is -Inf. Gradient: softmax - one-hot.
    /// </summary>
    public static Tensor CrossEntropy(this Tensor logits, Tensor targets, Reduction reduction = Reduction.Mean)
    {
        SameBackend("cross_entropy", logits, targets);
        var ls = logits.Shape;
        bool shapesFit = ls.Rank >= 2 && targets.Shape.Rank == ls.Rank - 1 && targets.Shape[0] == ls[0];
        for (int d = 2; shapesFit && d < ls.Rank; d++) shapesFit = targets.Shape[d - 1] == ls[d];
        if (!shapesFit)
            throw new ArgumentException($"cross_entropy: expected logits [N, C, ...] and targets [N, ...] (the logits' shape without axis 1), got {ls} and {targets.Shape}");
        int outer = ls[0], classes = ls[1], inner = targets.Count / Math.Max(1, outer);
        if (classes == 0) throw new ArgumentException($"cross_entropy: logits {ls} have no classes (axis 1 is empty)", nameof(logits));
        var backend = logits.Backend;
        var losses = NewTensor(backend, targets.Shape);
        backend.SoftmaxCrossEntropy(logits.Buffer, targets.Buffer, losses.Buffer, outer, classes, inner);
        var recorded = Autograd.Record(losses, "cross_entropy", [logits, targets], (dl, gradOf) =>
        {
            var dx = gradOf(logits);
            if (dx != null) backend.SoftmaxCrossEntropyBackward(logits.Buffer, targets.Buffer, dl.Buffer, dx.Buffer, outer, classes, inner);
        });
        return reduction switch
        {
            Reduction.None => recorded,
            Reduction.Sum => recorded.Sum(),
            Reduction.Mean => recorded.Mean(),
            _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, null),
        };
    }
}
