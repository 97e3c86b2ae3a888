using ILGPU;
using ILGPU.Algorithms;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// Elementwise kernels, one thread per element (ILGPU groups them automatically). The op is a kernel
/// argument: every thread takes the same branch, so the switch costs a few instructions, not divergence.
/// The formulas are <see cref="Reference.ScalarMath"/>'s, in float.
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

    public static float ApplyUnary(int op, float x, float alpha)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -x;
            case UnaryOp.Exp: return XMath.Exp(x);
            case UnaryOp.Log: return XMath.Log(x);
            case UnaryOp.Sqrt: return XMath.Sqrt(x);
            case UnaryOp.Abs: return XMath.Abs(x);
            case UnaryOp.Relu: return x > 0f ? x : 0f;
            case UnaryOp.LeakyRelu: return x > 0f ? x : alpha * x;
            case UnaryOp.Sigmoid: return 1f / (1f + XMath.Exp(-x));
            case UnaryOp.Tanh: return XMath.Tanh(x);
            case UnaryOp.Softplus: return XMath.Max(x, 0f) + XMath.Log(1f + XMath.Exp(-XMath.Abs(x)));
            case UnaryOp.Pow: return XMath.Pow(x, alpha);
            case UnaryOp.Scale: return alpha * x;
            default: return x + alpha; // AddScalar (validated on the host)
        }
    }

    /// <summary>dy/dx given x and y = op(x).</summary>
    public static float Derivative(int op, float x, float y, float alpha)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -1f;
            case UnaryOp.Exp: return y;
            case UnaryOp.Log: return 1f / x;
            case UnaryOp.Sqrt: return 0.5f / y;
            case UnaryOp.Abs: return x > 0f ? 1f : x < 0f ? -1f : 0f;
            case UnaryOp.Relu: return x > 0f ? 1f : 0f;
            case UnaryOp.LeakyRelu: return x > 0f ? 1f : alpha;
            case UnaryOp.Sigmoid: return y * (1f - y);
            case UnaryOp.Tanh: return 1f - y * y;
            case UnaryOp.Softplus: return 1f / (1f + XMath.Exp(-x));
            case UnaryOp.Pow: return alpha * XMath.Pow(x, alpha - 1f);
            case UnaryOp.Scale: return alpha;
            default: return 1f; // AddScalar
        }
    }

    public static void Unary(Index1D i, ArrayView<float> x, ArrayView<float> y, int op, float alpha) =>
        y[i] = ApplyUnary(op, x[i], alpha);

    public static void UnaryBackward(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, int op, float alpha) =>
        dx[i] += dy[i] * Derivative(op, x[i], y[i], alpha);

    public static float ApplyBinary(int op, float a, float b) => (BinaryOp)op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        _ => a / b,
    };

    /// <summary>c = a op b over c's elements, inputs found through the broadcast walk.</summary>
    public static void Binary(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int op, BroadcastWalk8 walk)
    {
        walk.Offsets(i, out int ia, out int ib);
        c[i] = ApplyBinary(op, a[ia], b[ib]);
    }

    /// <summary>
    /// The gradient term of one input at every element of c: t = dc * d(a op b)/d(input), written to
    /// <paramref name="term"/>[i] (overwrite, or += when <paramref name="accumulate"/> and the input has c's shape).
    /// <paramref name="wantB"/> selects the input: 0 = a, 1 = b.
    /// </summary>
    public static void BinaryGradTerm(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dc,
        ArrayView<float> term, int op, int wantB, int accumulate, BroadcastWalk8 walk)
    {
        walk.Offsets(i, out int ia, out int ib);
        float av = a[ia], bv = b[ib], g;
        switch ((BinaryOp)op)
        {
            case BinaryOp.Add: g = 1f; break;
            case BinaryOp.Sub: g = wantB != 0 ? -1f : 1f; break;
            case BinaryOp.Mul: g = wantB != 0 ? av : bv; break;
            default: g = wantB != 0 ? -av / (bv * bv) : 1f / bv; break;
        }
        float t = dc[i] * g;
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
