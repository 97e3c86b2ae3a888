using NeuralCore.Kernels;

namespace NeuralCore;

public static partial class TensorOps
{
    /// <summary>Sum of all elements, shape [].</summary>
    public static Tensor Sum(this Tensor x) => SumRange(x.Reshape(x.Count), 0, keepDim: false, "sum");

    /// <summary>Mean of all elements, shape [].</summary>
    public static Tensor Mean(this Tensor x) => x.Sum().Mul(1f / Math.Max(1, x.Count));

    /// <summary>Sum over <paramref name="axis"/> (negative counts from the end); the axis is dropped unless <paramref name="keepDim"/>.</summary>
    public static Tensor Sum(this Tensor x, int axis, bool keepDim = false) => SumRange(x, x.Shape.NormalizeAxis(axis), keepDim, "sum");

    /// <summary>Sum over several axes (each named once, as PyTorch requires).</summary>
    /// <exception cref="ArgumentException"><paramref name="axes"/> is empty or names an axis twice.</exception>
    public static Tensor Sum(this Tensor x, int[] axes, bool keepDim = false) => SumAxes(x, Axes(x, axes, "sum"), keepDim);

    private static Tensor SumAxes(Tensor x, int[] normalized, bool keepDim)
    {
        var y = x;
        foreach (int a in normalized.OrderDescending()) y = SumRange(y, a, keepDim, "sum");
        return y;
    }

    /// <summary>The axes mapped into [0, rank); refuses an empty list and an axis named twice (-1 and rank - 1 are one
    /// axis), which PyTorch refuses too, rather than reducing it once.</summary>
    private static int[] Axes(Tensor x, int[] axes, string op)
    {
        if (axes.Length == 0) throw new ArgumentException($"{op}: no axes given; name at least one, or call {op}() without axes to reduce every element", nameof(axes));
        var normalized = axes.Select(x.Shape.NormalizeAxis).ToArray();
        for (int i = 0; i < normalized.Length; i++)
            for (int j = 0; j < i; j++)
                if (normalized[i] == normalized[j])
                    throw new ArgumentException($"{op}: axis {axes[i]} appears more than once in [{string.Join(", ", axes)}] for shape {x.Shape}; name each axis once", nameof(axes));
        return normalized;
    }

    /// <summary>Mean over <paramref name="axis"/>.</summary>
    public static Tensor Mean(this Tensor x, int axis, bool keepDim = false)
    {
        int len = x.Shape[axis];
        return x.Sum(axis, keepDim).Mul(1f / Math.Max(1, len));
    }

    /// <summary>Mean over several axes (each named once, as PyTorch requires).</summary>
    /// <exception cref="ArgumentException"><paramref name="axes"/> is empty or names an axis twice.</exception>
    public static Tensor Mean(this Tensor x, int[] axes, bool keepDim = false)
    {
        var normalized = Axes(x, axes, "mean");
        int len = 1;
        foreach (int a in normalized) len *= x.Shape[a];
        return SumAxes(x, normalized, keepDim).Mul(1f / Math.Max(1, len));
    }

    private static Tensor SumRange(Tensor x, int axis, bool keepDim, string name)
    {
        var dims = x.Shape.Dims;
        int outer = 1, inner = 1, length = dims[axis];
        for (int i = 0; i < axis; i++) outer *= dims[i];
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var kept = dims.ToArray();
        kept[axis] = 1;
        var resultShape = keepDim ? kept : dims.ToArray().Where((_, i) => i != axis).ToArray();
        var backend = x.Backend;
        var y = NewTensor(backend, new Shape(resultShape));
        backend.ReduceSum(x.Buffer, y.Buffer, outer, length, inner, accumulate: false);
        return Autograd.Record(y, name, [x], (dy, gradOf) =>
        {
            var dx = gradOf(x);
            // broadcast dy back over the summed axis: dx = dx + dy (dy viewed with the axis kept as 1)
            if (dx != null) backend.Binary(BinaryOp.Add, dx.Buffer, dx.Shape.Dims, dy.Buffer, kept, dx.Buffer, dx.Shape.Dims);
        });
    }
}
