using NeuralCore.Kernels;

namespace NeuralCore;

public static partial class TensorOps
{
    /// <summary>Same data, new shape (no copy). One dimension may be -1 (inferred).</summary>
    public static Tensor Reshape(this Tensor x, params int[] shape)
    {
        shape = InferShape(x, shape);   // a fresh copy, owned by the result's shape
        var y = x.ViewAs(Shape.Own(shape));
        var backend = x.Backend;
        return Autograd.Record(y, "reshape", [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.CopyBlock(dy.Buffer, 0, 0, dx.Buffer, 0, 0, 1, x.Count, accumulate: true);
        });
    }

    /// <summary>[N, d1, d2, ...] to [N, d1*d2*...].</summary>
    public static Tensor Flatten(this Tensor x) => x.Shape.Rank <= 2 && x.Shape.Rank > 0 ? x : x.Reshape(x.Shape[0], -1);

    private static int[] InferShape(Tensor x, int[] shape)
    {
        shape = (int[])shape.Clone();
        int unknown = Array.IndexOf(shape, -1);
        if (unknown >= 0)
        {
            int known = 1;
            for (int i = 0; i < shape.Length; i++) if (i != unknown) known *= shape[i];
            if (known == 0 || x.Count % known != 0)
                throw new ArgumentException($"reshape: cannot reshape {x.Shape} to {Broadcast.Format(shape)}");
            shape[unknown] = x.Count / known;
        }
        if (Broadcast.Count(shape) != x.Count)
            throw new ArgumentException($"reshape: cannot reshape {x.Shape} ({x.Count} elements) to {Broadcast.Format(shape)} ({Broadcast.Count(shape)} elements)");
        return shape;
    }

    /// <summary>Swaps the last two dimensions: [..., r, c] to [..., c, r] (a copy).</summary>
    public static Tensor Transpose(this Tensor x)
    {
        if (x.Shape.Rank < 2) throw new ArgumentException($"transpose: needs at least 2 dimensions, got {x.Shape}");
        var dims = x.Shape.ToArray();
        int rows = dims[^2], cols = dims[^1], batch = x.Count / Math.Max(1, rows * cols);
        (dims[^2], dims[^1]) = (cols, rows);
        var backend = x.Backend;
        var y = NewTensor(backend, new Shape(dims));
        backend.Transpose(x.Buffer, y.Buffer, batch, rows, cols, accumulate: false);
        return Autograd.Record(y, "transpose", [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.Transpose(dy.Buffer, dx.Buffer, batch, cols, rows, accumulate: true);
        });
    }

    /// <summary>Elements [start, start + length) along <paramref name="axis"/> (a copy).</summary>
    public static Tensor Slice(this Tensor x, int axis, int start, int length)
    {
        axis = x.Shape.NormalizeAxis(axis);
        int dim = x.Shape[axis];
        if (start < 0 || length < 0 || start + length > dim)
            throw new ArgumentOutOfRangeException(nameof(start), $"slice: [{start}, {start + length}) is outside axis {axis} of {x.Shape} (size {dim})");
        var (outer, inner) = OuterInner(x.Shape, axis);
        var dims = x.Shape.ToArray();
        dims[axis] = length;
        var backend = x.Backend;
        var y = NewTensor(backend, new Shape(dims));
        int srcStride = dim * inner, cols = length * inner, offset = start * inner;
        backend.CopyBlock(x.Buffer, offset, srcStride, y.Buffer, 0, cols, outer, cols, accumulate: false);
        return Autograd.Record(y, "slice", [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            if (dx != null) backend.CopyBlock(dy.Buffer, 0, cols, dx.Buffer, offset, srcStride, outer, cols, accumulate: true);
        });
    }

    /// <summary>Rows [start, start + count) of a batch (axis 0).</summary>
    public static Tensor SliceRows(this Tensor x, int start, int count) => x.Slice(0, start, count);

    /// <summary>Joins tensors along <paramref name="axis"/>; all other dimensions must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis)
    {
        if (tensors.Count == 0) throw new ArgumentException("concat: no tensors given");
        var first = tensors[0];
        axis = first.Shape.NormalizeAxis(axis);
        var dims = first.Shape.ToArray();
        int total = 0;
        foreach (var t in tensors)
        {
            SameBackend("concat", first, t);
            bool ok = t.Shape.Rank == first.Shape.Rank;
            for (int i = 0; ok && i < dims.Length; i++) ok = i == axis || t.Shape[i] == dims[i];
            if (!ok) throw new ArgumentException($"concat: shapes {first.Shape} and {t.Shape} differ outside axis {axis}");
            total += t.Shape[axis];
        }
        dims[axis] = total;
        var backend = first.Backend;
        var y = NewTensor(backend, new Shape(dims));
        var (outer, inner) = OuterInner(y.Shape, axis);
        int dstStride = total * inner;
        var offsets = new int[tensors.Count];
        int offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            offsets[i] = offset;
            int cols = tensors[i].Shape[axis] * inner;
            backend.CopyBlock(tensors[i].Buffer, 0, cols, y.Buffer, offset, dstStride, outer, cols, accumulate: false);
            offset += cols;
        }
        var inputs = tensors.ToArray();
        return Autograd.Record(y, "concat", inputs, (dy, gradOf) =>
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var dx = gradOf(inputs[i]);
                int cols = inputs[i].Shape[axis] * inner;
                if (dx != null) backend.CopyBlock(dy.Buffer, offsets[i], dstStride, dx.Buffer, 0, cols, outer, cols, accumulate: true);
            }
        });
    }

    private static (int Outer, int Inner) OuterInner(Shape shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Rank; i++) inner *= shape[i];
        return (outer, inner);
    }
}
