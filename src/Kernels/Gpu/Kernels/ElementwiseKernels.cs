using ILGPU;
using ILGPU.Algorithms;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// Elementwise kernels, one thread per element (ILGPU groups them automatically). The op kernels are generic over
/// the op's operator struct (src/Kernels/Operators): ILGPU compiles one specialised kernel per op, with no switch.
/// </summary>
internal static class ElementwiseKernels
{
    public static void Fill(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    /// <summary>dst[dOff + r*dStride + c] (+)= src[sOff + r*sStride + c], one thread per (r, c).</summary>
    public static void CopyBlock(Index1D i, ArrayView<float> source, ArrayView<float> destination, CopyArgs a)
    {
        int r = i / a.Columns, c = i - r * a.Columns;
        int di = a.DestinationOffset + r * a.DestinationStride + c;
        float v = source[a.SourceOffset + r * a.SourceStride + c];
        destination[di] = a.Accumulate != 0 ? destination[di] + v : v;
    }

    public struct CopyArgs
    {
        public int SourceOffset, SourceStride, DestinationOffset, DestinationStride, Columns, Accumulate;
    }

    /// <summary>y = op(x) with the op's operator (src/Kernels/Operators).</summary>
    public static void Unary<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, float alpha) where TOp : struct, IUnaryOperator =>
        y[i] = TOp.Forward(x[i], alpha);

    /// <summary>dx += dy op'(x), given y = op(x).</summary>
    public static void UnaryBackward<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, float alpha) where TOp : struct, IUnaryOperator =>
        dx[i] = TOp.Backward(x[i], y[i], dy[i], dx[i], alpha);

    /// <summary>c = a op b over c's elements, inputs found through the broadcast walk.</summary>
    public static void Binary<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, BroadcastWalk8 walk)
        where TOp : struct, IBinaryOperator
    {
        walk.Offsets(i, out int ia, out int ib);
        c[i] = TOp.Forward(a[ia], b[ib]);
    }

    /// <summary>
    /// The gradient term of one input at every element of c: t = dc * d(a op b)/d(input), written to
    /// <paramref name="term"/>[i] (overwrite, or += when <paramref name="accumulate"/> and the input has c's shape).
    /// <paramref name="wantB"/> selects the input: 0 = a, 1 = b.
    /// </summary>
    public static void BinaryGradTerm<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dc,
        ArrayView<float> term, int wantB, int accumulate, BroadcastWalk8 walk) where TOp : struct, IBinaryOperator
    {
        walk.Offsets(i, out int ia, out int ib);
        float t = wantB != 0 ? TOp.GradientB(a[ia], b[ib], dc[i]) : TOp.GradientA(a[ia], b[ib], dc[i]);
        term[i] = accumulate != 0 ? term[i] + t : t;
    }

    /// <summary>y[b, j, i] (+)= x[b, i, j]; one thread per element of y.</summary>
    public static void Transpose(Index1D index, ArrayView<float> x, ArrayView<float> y, int rows, int columns, int accumulate)
    {
        int plane = rows * columns;
        int bi = index / plane, rest = index - bi * plane;
        int c = rest / rows, r = rest - c * rows;          // y is [columns, rows]
        float v = x[bi * plane + r * columns + c];
        y[index] = accumulate != 0 ? y[index] + v : v;
    }

    /// <summary>dst[b, a, p] (+)= src[a, b, p] for src viewed as [A, B, P]: swaps the two outer axes.</summary>
    public static void SwapOuterAxes(Index1D index, ArrayView<float> src, ArrayView<float> dst, int outerA, int outerB, int inner, int accumulate)
    {
        int p = index % inner;
        int ba = index / inner;            // dst row: b * A + a
        int b = ba / outerA, a = ba - b * outerA;
        float v = src[(a * outerB + b) * inner + p];
        dst[index] = accumulate != 0 ? dst[index] + v : v;
    }

    /// <summary>Fused Adam/AdamW, the same float formula as the CPU backend.</summary>
    public static void Adam(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamArgs h)
    {
        float pi = p[i];
        float gi = g[i] + h.L2 * pi;
        pi *= h.Decay;
        float mi = h.Beta1 * m[i] + (1f - h.Beta1) * gi;
        float vi = h.Beta2 * v[i] + (1f - h.Beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - h.LearningRate * (mi * h.Correction1) / (XMath.Sqrt(vi * h.Correction2) + h.Epsilon);
    }

    public struct AdamArgs
    {
        public float LearningRate, Beta1, Beta2, Epsilon, Correction1, Correction2, Decay, L2;
    }

    public static void Sgd(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> velocity,
        float learningRate, float momentum, float weightDecay)
    {
        float gi = g[i] + weightDecay * p[i];
        float vel = momentum * velocity[i] + gi;
        velocity[i] = vel;
        p[i] -= learningRate * vel;
    }
}
