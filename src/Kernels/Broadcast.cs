namespace NeuralCore.Kernels;

/// <summary>
/// NumPy broadcasting helpers shared by every backend: the output shape of two shapes, and the
/// element strides of each input when walked in the output's order (stride 0 = broadcast dimension).
/// </summary>
public static class Broadcast
{
    /// <summary>Maximum rank supported by the broadcasting kernels.</summary>
    public const int MaxRank = 8;

    /// <summary>The broadcast shape of <paramref name="a"/> and <paramref name="b"/>, or an error naming both.</summary>
    public static int[] ResultShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        if (rank > MaxRank) throw new ArgumentException($"rank {rank} exceeds the supported maximum {MaxRank}");
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db})");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Number of elements of a shape.</summary>
    public static int Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        if (n > int.MaxValue) throw new ArgumentException($"shape {Format(shape)} has more than {int.MaxValue} elements");
        return (int)n;
    }

    /// <summary>"[2, 3]"</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>
    /// Strides of an input of shape <paramref name="input"/> walked over <paramref name="output"/>'s indices,
    /// right-aligned; broadcast dimensions get stride 0. Result has output's rank.
    /// </summary>
    public static void InputStrides(ReadOnlySpan<int> input, ReadOnlySpan<int> output, Span<int> strides)
    {
        int offset = output.Length - input.Length;
        if (offset < 0) throw new ArgumentException($"input shape {Format(input)} has higher rank than output {Format(output)}");
        int stride = 1;
        for (int i = output.Length - 1; i >= 0; i--)
        {
            int d = i >= offset ? input[i - offset] : 1;
            if (d != 1 && d != output[i])
                throw new ArgumentException($"shape {Format(input)} cannot broadcast to {Format(output)}");
            strides[i] = d == 1 ? 0 : stride;
            stride *= d;
        }
    }

    /// <summary>
    /// Merges adjacent dimensions where both inputs stay contiguous-or-broadcast together, so kernels walk as
    /// few and as long dimensions as possible. Returns the new rank; arrays are rewritten in place.
    /// </summary>
    public static int Collapse(Span<int> shape, Span<int> strideA, Span<int> strideB)
    {
        int rank = shape.Length;
        // drop size-1 dimensions
        int w = 0;
        for (int i = 0; i < rank; i++)
        {
            if (shape[i] == 1) continue;
            shape[w] = shape[i]; strideA[w] = strideA[i]; strideB[w] = strideB[i]; w++;
        }
        if (w == 0) { shape[0] = 1; strideA[0] = 0; strideB[0] = 0; return 1; }
        rank = w;
        w = 0;
        for (int i = 1; i < rank; i++)
        {
            // dimension i-1 (outer, index w) merges with i (inner) when outer stride == inner stride * inner size for both
            bool mergeA = strideA[w] == strideA[i] * shape[i];
            bool mergeB = strideB[w] == strideB[i] * shape[i];
            if (mergeA && mergeB)
            {
                shape[w] *= shape[i];
                strideA[w] = strideA[i];
                strideB[w] = strideB[i];
            }
            else
            {
                w++;
                shape[w] = shape[i]; strideA[w] = strideA[i]; strideB[w] = strideB[i];
            }
        }
        return w + 1;
    }
}
