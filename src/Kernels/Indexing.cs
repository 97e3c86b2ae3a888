namespace NeuralCore.Kernels;

/// <summary>
/// The rules every backend shares for the indexing kernels (<see cref="IBackend.GatherRows"/>, <see cref="IBackend.OneHot"/>,
/// the cross-entropy targets) and for <see cref="IBackend.Permute"/>: what counts as a valid index, and the walk of a
/// permutation.
/// </summary>
public static class Indexing
{
    /// <summary>The integer a float index stands for, or -1 when it is not an integer in [0, count) (NaN, +-Inf,
    /// fractions, negatives and values past the end are all invalid).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]   // called per index in the CPU's gather and scatter loops
    public static int Resolve(float index, int count)
    {
        if (!(index >= 0f && index < count)) return -1;
        int i = (int)index;
        return i == index ? i : -1;
    }

    /// <summary>
    /// Checks that <paramref name="axes"/> is a permutation of [0, rank) for a shape of at most
    /// <see cref="Broadcast.MaxRank"/> dimensions, and fills the permuted shape and, for each of its dimensions, the
    /// stride of that dimension in the source: source offset of output index (j0, j1, ...) = sum_i j_i sourceStrides[i].
    /// </summary>
    /// <exception cref="ArgumentException">The axes are not a permutation of the source's dimensions.</exception>
    public static void PermutationWalk(ReadOnlySpan<int> sourceShape, ReadOnlySpan<int> axes, Span<int> permutedShape, Span<int> sourceStrides)
    {
        int rank = sourceShape.Length;
        if (rank > Broadcast.MaxRank) throw new ArgumentException($"permute: rank {rank} exceeds the supported maximum {Broadcast.MaxRank}");
        if (axes.Length != rank)
            throw new ArgumentException($"permute: {axes.Length} axes given for shape {Broadcast.Format(sourceShape)}; name each of its {rank} axes once", nameof(axes));
        Span<int> strides = stackalloc int[Math.Max(rank, 1)];
        Span<bool> seen = stackalloc bool[Math.Max(rank, 1)];
        seen.Clear();
        int stride = 1;
        for (int d = rank - 1; d >= 0; d--) { strides[d] = stride; stride *= sourceShape[d]; }
        for (int i = 0; i < rank; i++)
        {
            int a = axes[i];
            if (a < 0 || a >= rank || seen[a])
                throw new ArgumentException($"permute: axes [{string.Join(", ", axes.ToArray())}] are not a permutation of [0, {rank}) for shape {Broadcast.Format(sourceShape)}; name each axis once", nameof(axes));
            seen[a] = true;
            permutedShape[i] = sourceShape[a];
            sourceStrides[i] = strides[a];
        }
    }
}
