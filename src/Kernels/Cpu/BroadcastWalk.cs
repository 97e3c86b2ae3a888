namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// Walks a broadcast output as rows of its innermost (collapsed) dimension: for each row it gives the
/// starting offsets of both inputs, and each input's stride inside the row (1 = contiguous, 0 = broadcast).
/// Bias adds ([N, F] + [F]) and channel adds ([N, C, H*W] + [C, 1]) become long contiguous or scalar rows.
/// </summary>
internal ref struct BroadcastWalk
{
    private Span<int> _shape;
    private Span<int> _strideA;
    private Span<int> _strideB;
    private readonly int _rank;

    public BroadcastWalk(ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape, ReadOnlySpan<int> cShape)
    {
        int rank = Math.Max(cShape.Length, 1);
        _shape = new int[rank];
        _strideA = new int[rank];
        _strideB = new int[rank];
        if (cShape.Length == 0) { _shape[0] = 1; }
        else
        {
            cShape.CopyTo(_shape);
            Broadcast.InputStrides(aShape, cShape, _strideA);
            Broadcast.InputStrides(bShape, cShape, _strideB);
        }
        _rank = Broadcast.Collapse(_shape.Slice(0, rank), _strideA.Slice(0, rank), _strideB.Slice(0, rank));
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
