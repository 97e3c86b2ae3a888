using ILGPU;
using ILGPU.Algorithms;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// Permutation, gather / scatter-add of rows, one-hot, argmin/argmax and softmax cross-entropy. No atomics: every
/// output element is written by one thread, which adds its terms in a fixed order, so results repeat exactly.
/// </summary>
internal static class IndexingKernels
{
    /// <summary>y[j] (+)= x[source offset of j], one thread per output element.</summary>
    public static void Permute(Index1D j, ArrayView<float> x, ArrayView<float> y, PermuteArgs a)
    {
        int rest = j, offset = 0;
        for (int d = a.Rank - 1; d >= 0; d--)
        {
            int size = a.Shape.Get(d);
            int q = rest / size;
            offset += (rest - q * size) * a.Strides.Get(d);
            rest = q;
        }
        float v = x[offset];
        y[j] = a.Accumulate != 0 ? y[j] + v : v;
    }

    public struct PermuteArgs
    {
        public int Rank, Accumulate;
        public Dims8 Shape, Strides;
    }

    /// <summary>y[i, c] = table[indices[i], c] (NaN for an invalid index), one thread per element of y.</summary>
    public static void GatherRows(Index1D j, ArrayView<float> table, ArrayView<float> indices, ArrayView<float> y, int rows, int width)
    {
        int i = j / width, c = j - i * width;
        int r = Indexing.Resolve(indices[i], rows);
        y[j] = r < 0 ? float.NaN : table[r * width + c];
    }

    /// <summary>y[i, c] = the sum over t of table[indices[i, t], c] in increasing t (NaN for an invalid index), one thread per element of y.</summary>
    public static void GatherSumRows(Index1D j, ArrayView<float> table, ArrayView<float> indices, ArrayView<float> y, int taps, int rows, int width)
    {
        int i = j / width, c = j - i * width;
        float acc = 0f;
        for (int t = 0; t < taps; t++)
        {
            int r = Indexing.Resolve(indices[i * taps + t], rows);
            acc += r < 0 ? float.NaN : table[r * width + c];
        }
        y[j] = acc;
    }

    /// <summary>
    /// The scatter-add split into slices of the indices: output[s, r, c] (+)= dy[i / Taps, c] over the i of slice s
    /// ([s L, (s + 1) L) with L = SliceLength) whose index is r, in increasing i; one thread per
    /// output element, no atomics. With one slice it adds straight into the table's gradient (accumulate = 1); with
    /// several it writes partial sums that a fixed-order reduction then adds up, so every table element's terms are
    /// summed in the same order on every run.
    /// </summary>
    public static void ScatterAddRows(Index1D j, ArrayView<float> dy, ArrayView<float> indices, ArrayView<float> output, ScatterArgs a)
    {
        int elements = a.Rows * a.Width;
        int slice = j / elements, e = j - slice * elements;
        int r = e / a.Width, c = e - r * a.Width;
        int start = slice * a.SliceLength, end = XMath.Min(a.N, start + a.SliceLength);
        float acc = a.Accumulate != 0 ? output[j] : 0f;
        for (int i = start; i < end; i++)
            if (Indexing.Resolve(indices[i], a.Rows) == r) acc += dy[i / a.Taps * a.Width + c];
        output[j] = acc;
    }

    public struct ScatterArgs
    {
        /// <summary>Indices per row of dy: 1 for the gather's backward, the group size for the gather-sum's.</summary>
        public int Taps;
        public int N, Rows, Width, SliceLength, Accumulate;
    }

    /// <summary>y[i, c] = [c == indices[i]] (a NaN row for an invalid index), one thread per element of y.</summary>
    public static void OneHot(Index1D j, ArrayView<float> indices, ArrayView<float> y, int classes)
    {
        int i = j / classes, c = j - i * classes;
        int t = Indexing.Resolve(indices[i], classes);
        y[j] = t < 0 ? float.NaN : c == t ? 1f : 0f;
    }

    /// <summary>y[o, i] = the index of the first smallest (largest) x[o, :, i], or of its first NaN; one thread per output.</summary>
    public static void ArgReduce(Index1D j, ArrayView<float> x, ArrayView<float> y, int length, int inner, int max)
    {
        int o = j / inner, i = j - o * inner;
        int at = o * length * inner + i, best = 0;
        float bestValue = x[at];
        for (int r = 1; r < length && !XMath.IsNaN(bestValue); r++)
        {
            at += inner;
            float v = x[at];
            if (XMath.IsNaN(v) || (max != 0 ? v > bestValue : v < bestValue)) { best = r; bestValue = v; }
        }
        y[j] = best;
    }

    /// <summary>The loss at position (o, i), or with <paramref name="backward"/> != 0 its gradient added into
    /// dLogits[o, :, i]; one thread per position. <paramref name="dLosses"/> is read only for the gradient.</summary>
    public static void SoftmaxCrossEntropy(Index1D j, ArrayView<float> logits, ArrayView<float> targets, ArrayView<float> dLosses,
        ArrayView<float> output, int classes, int inner, int backward)
    {
        int o = j / inner, i = j - o * inner;
        int first = o * classes * inner + i;
        float m = float.NegativeInfinity;
        for (int c = 0, at = first; c < classes; c++, at += inner)
        {
            float v = logits[at];
            if (XMath.IsNaN(v)) { m = v; break; }
            if (v > m) m = v;
        }
        float s = 0f;
        for (int c = 0, at = first; c < classes; c++, at += inner) s += XMath.Exp(logits[at] - m);
        int t = Indexing.Resolve(targets[j], classes);
        if (backward == 0)
        {
            output[j] = t < 0 ? float.NaN : XMath.Log(s) - (logits[first + t * inner] - m);
            return;
        }
        float g = t < 0 ? float.NaN : dLosses[j];
        float scale = g / s;
        for (int c = 0, at = first; c < classes; c++, at += inner)
        {
            float term = XMath.Exp(logits[at] - m) * scale;
            output[at] += c == t ? term - g : term;
        }
    }
}
