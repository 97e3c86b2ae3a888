using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>An immutable tensor shape, e.g. [batch, features]. Row-major, contiguous.</summary>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[] _dims;

    /// <summary>A shape with the given dimensions (each 0 or more).</summary>
    public Shape(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"shape {Broadcast.Format(dims)} has a negative dimension");
        _dims = (int[])dims.Clone();
        _count = Broadcast.Count(_dims);
    }

    private readonly int _count;

    /// <summary>Takes ownership of <paramref name="dims"/> without the defensive copy (the caller made it and never
    /// changes it): ops build one fresh dimension array per result, and a second copy would be garbage on every op.</summary>
    internal static Shape Own(int[] dims)
    {
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"shape {Broadcast.Format(dims)} has a negative dimension");
        return new Shape(dims, Broadcast.Count(dims));
    }

    private Shape(int[] dims, int count)
    {
        _dims = dims;
        _count = count;
    }

    /// <summary>The shape of a scalar: rank 0, one element (also what <c>default(Shape)</c> is).</summary>
    public static Shape Scalar => new([]);

    /// <summary>Dimensions (a copy is never needed: the span is read-only).</summary>
    public ReadOnlySpan<int> Dims => _dims ?? [];

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims?.Length ?? 0;

    /// <summary>Total number of elements (1 for a scalar).</summary>
    public int Count => _dims == null ? 1 : _count;

    /// <summary>Dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int this[int axis] => _dims[NormalizeAxis(axis)];

    /// <summary>Maps a possibly negative axis into [0, rank) or throws naming the shape.</summary>
    public int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is out of range for shape {this}");
        return a;
    }

    /// <summary>The dimensions as a new array.</summary>
    public int[] ToArray() => Dims.ToArray();

    /// <inheritdoc />
    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    /// <summary>True when both shapes have the same dimensions.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    /// <summary>True when the shapes differ.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    /// <inheritdoc />
    public override string ToString() => Broadcast.Format(Dims);

    /// <summary>The shape with the dimensions of <paramref name="dims"/>.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);
}
