namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// Up to <see cref="Broadcast.MaxRank"/> integers passed to a kernel by value (shapes, strides). Kernels take
/// no arrays of parameters, so this is a fixed-size struct with one field per dimension.
/// </summary>
internal struct Dims8
{
    public int D0, D1, D2, D3, D4, D5, D6, D7;

    public readonly int Get(int i) => i switch
    {
        0 => D0, 1 => D1, 2 => D2, 3 => D3, 4 => D4, 5 => D5, 6 => D6, _ => D7,
    };

    public void Set(int i, int value)
    {
        switch (i)
        {
            case 0: D0 = value; break;
            case 1: D1 = value; break;
            case 2: D2 = value; break;
            case 3: D3 = value; break;
            case 4: D4 = value; break;
            case 5: D5 = value; break;
            case 6: D6 = value; break;
            case 7: D7 = value; break;
            default: throw new ArgumentOutOfRangeException(nameof(i), i, $"at most {Broadcast.MaxRank} dimensions");
        }
    }

    public static Dims8 From(ReadOnlySpan<int> values)
    {
        if (values.Length > Broadcast.MaxRank)
            throw new ArgumentException($"rank {values.Length} exceeds the supported maximum {Broadcast.MaxRank}");
        var d = new Dims8();
        for (int i = 0; i < values.Length; i++) d.Set(i, values[i]);
        return d;
    }
}

/// <summary>
/// How to walk an output of <see cref="Rank"/> dimensions (<see cref="Shape"/>, row-major) and find the
/// matching element of two inputs (<see cref="StrideA"/>, <see cref="StrideB"/>; 0 = broadcast dimension).
/// </summary>
internal struct BroadcastWalk8
{
    public int Rank;
    public Dims8 Shape, StrideA, StrideB;

    /// <summary>Offsets into a and b of output element <paramref name="linear"/>.</summary>
    public readonly void Offsets(int linear, out int ia, out int ib)
    {
        ia = 0; ib = 0;
        for (int d = Rank - 1; d >= 0; d--)
        {
            int size = Shape.Get(d);
            int q = linear / size;
            int idx = linear - q * size;
            linear = q;
            ia += idx * StrideA.Get(d);
            ib += idx * StrideB.Get(d);
        }
    }

    public static BroadcastWalk8 Create(ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape, ReadOnlySpan<int> cShape)
    {
        int rank = cShape.Length;
        if (rank == 0) return new BroadcastWalk8 { Rank = 1, Shape = new Dims8 { D0 = 1 } };
        Span<int> shape = stackalloc int[rank], sa = stackalloc int[rank], sb = stackalloc int[rank];
        cShape.CopyTo(shape);
        Broadcast.InputStrides(aShape, cShape, sa);
        Broadcast.InputStrides(bShape, cShape, sb);
        rank = Broadcast.Collapse(shape, sa, sb);
        return new BroadcastWalk8
        {
            Rank = rank,
            Shape = Dims8.From(shape[..rank]),
            StrideA = Dims8.From(sa[..rank]),
            StrideB = Dims8.From(sb[..rank]),
        };
    }
}

/// <summary>
/// A reduction of a contiguous source down to an output: output element j (row-major over the kept
/// dimensions) = sum over the reduced dimensions of source[keptOffset(j) + reducedOffset(r)].
/// Serves ReduceSum, broadcast gradients and the final pass of the losses.
/// </summary>
internal struct ReductionPlan
{
    public int KeptRank, ReducedRank;
    public Dims8 KeptShape, KeptStride, ReducedShape, ReducedStride;
    /// <summary>Number of outputs and number of source elements summed into each.</summary>
    public int Outputs, Length;

    public readonly int KeptOffset(int j) => Offset(j, KeptRank, KeptShape, KeptStride);

    public readonly int ReducedOffset(int r) => Offset(r, ReducedRank, ReducedShape, ReducedStride);

    /// <summary>The offset of the index-th element (row-major over shape) in a layout with the given strides.</summary>
    private static int Offset(int index, int rank, Dims8 shape, Dims8 stride)
    {
        int offset = 0;
        for (int d = rank - 1; d >= 0; d--)
        {
            int size = shape.Get(d);
            int q = index / size;
            offset += (index - q * size) * stride.Get(d);
            index = q;
        }
        return offset;
    }

    /// <summary>Sum of x viewed as [outer, length, inner] over the middle axis.</summary>
    public static ReductionPlan MiddleAxis(int outer, int length, int inner)
    {
        var p = new ReductionPlan { Outputs = outer * inner, Length = length };
        p.Add(keep: true, outer, length * inner);
        p.Add(keep: true, inner, 1);
        p.Add(keep: false, length, inner);
        return p;
    }

    /// <summary>Sum of a contiguous array of <paramref name="shape"/> down to <paramref name="target"/>
    /// (which broadcasts to <paramref name="shape"/>).</summary>
    public static ReductionPlan ToBroadcastSource(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        int rank = shape.Length, offset = rank - target.Length;
        var p = new ReductionPlan { Outputs = 1, Length = 1 };
        // dimensions innermost first so strides are known; added outermost first below
        Span<int> strides = stackalloc int[Math.Max(rank, 1)];
        int stride = 1;
        for (int d = rank - 1; d >= 0; d--) { strides[d] = stride; stride *= shape[d]; }
        for (int d = 0; d < rank; d++)
        {
            int t = d >= offset ? target[d - offset] : 1;
            if (shape[d] == 1) continue;
            bool keep = t != 1;
            p.Add(keep, shape[d], strides[d]);
            if (keep) p.Outputs *= shape[d]; else p.Length *= shape[d];
        }
        return p;
    }

    /// <summary>Appends a dimension (outermost first), merging it into the previous one of the same kind when
    /// the two are contiguous.</summary>
    private void Add(bool keep, int size, int stride)
    {
        if (size == 1) return;
        ref int rank = ref keep ? ref KeptRank : ref ReducedRank;
        ref Dims8 shape = ref keep ? ref KeptShape : ref ReducedShape;
        ref Dims8 strides = ref keep ? ref KeptStride : ref ReducedStride;
        if (rank > 0 && strides.Get(rank - 1) == stride * size)
        {
            shape.Set(rank - 1, shape.Get(rank - 1) * size);
            strides.Set(rank - 1, stride);
            return;
        }
        shape.Set(rank, size);
        strides.Set(rank, stride);
        rank++;
    }
}
