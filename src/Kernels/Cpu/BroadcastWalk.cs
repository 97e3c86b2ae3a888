namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// Walks a broadcast output as rows of its innermost (collapsed) dimension: for each row it gives the
/// starting offsets of both inputs, and each input's stride inside the row (1 = contiguous, 0 = broadcast).
/// Bias adds ([N, F] + [F]) and channel adds ([N, C, H*W] + [C, 1]) become long contiguous or scalar rows.
/// </summary>
/// <remarks>The dimension arrays are inline (fixed-size, rank at most <see cref="Broadcast.MaxRank"/>): every broadcast
/// kernel call builds a walk, and three int[] per call were a measurable part of a training step's garbage.</remarks>
internal ref struct BroadcastWalk
{
    [System.Runtime.CompilerServices.InlineArray(Broadcast.MaxRank)]
    private struct Dims { private int _element; }

    private Dims _shape;
    private Dims _strideA;
    private Dims _strideB;
    private readonly int _rank;

    public BroadcastWalk(ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape, ReadOnlySpan<int> cShape)
    {
        int rank = Math.Max(cShape.Length, 1);
        if (rank > Broadcast.MaxRank) throw new ArgumentException($"rank {rank} exceeds the supported maximum {Broadcast.MaxRank}");
        Span<int> shape = ((Span<int>)_shape).Slice(0, rank), strideA = ((Span<int>)_strideA).Slice(0, rank), strideB = ((Span<int>)_strideB).Slice(0, rank);
        if (cShape.Length == 0) { shape[0] = 1; }
        else
        {
            cShape.CopyTo(shape);
            Broadcast.InputStrides(aShape, cShape, strideA);
            Broadcast.InputStrides(bShape, cShape, strideB);
        }
        _rank = Broadcast.Collapse(shape, strideA, strideB);
        InnerLength = _shape[_rank - 1];
        InnerStrideA = _strideA[_rank - 1];
        InnerStrideB = _strideB[_rank - 1];
        int rows = 1;
        for (int i = 0; i < _rank - 1; i++) rows *= _shape[i];
        Rows = rows;
    }

    public int Rows { get; }
    public int InnerLength { get; }
    public int InnerStrideA { get; }
    public int InnerStrideB { get; }

    /// <summary>Offsets of both inputs at the start of output row <paramref name="row"/>.</summary>
    public readonly void Offsets(int row, out int offsetA, out int offsetB)
    {
        offsetA = 0; offsetB = 0;
        for (int d = _rank - 2; d >= 0; d--)
        {
            int idx = row % _shape[d];
            row /= _shape[d];
            offsetA += idx * _strideA[d];
            offsetB += idx * _strideB[d];
        }
    }
}
