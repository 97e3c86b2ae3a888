using ILGPU;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// im2col / col2im for convolution as GEMM. The column matrix of a chunk of <c>Images</c> images is
/// [C*R*S, Images*OH*OW]: row (c, r, s), column (n, oh, ow). col2im gathers (one thread per input element,
/// summing the columns that read it), so the backward pass needs no atomics and is deterministic.
/// </summary>
internal static class ConvolutionKernels
{
    public struct ConvArgs
    {
        public int C, H, W, R, S, StrideH, StrideW, PadH, PadW, OutH, OutW, Images;
    }

    /// <summary>col[(c,r,s), (n,oh,ow)] = x[n, c, oh*sh - ph + r, ow*sw - pw + s] or 0 outside.</summary>
    public static void Im2Col(Index1D index, ArrayView<float> x, ArrayView<float> col, ConvArgs g)
    {
        int pixels = g.OutH * g.OutW, columns = g.Images * pixels;
        int row = index / columns, column = index - row * columns;
        int n = column / pixels, pixel = column - n * pixels;
        int oh = pixel / g.OutW, ow = pixel - oh * g.OutW;
        int rs = g.R * g.S;
        int c = row / rs, k = row - c * rs;
        int r = k / g.S, s = k - r * g.S;
        int ih = oh * g.StrideH - g.PadH + r, iw = ow * g.StrideW - g.PadW + s;
        float v = 0f;
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = x[((n * g.C + c) * g.H + ih) * g.W + iw];
        col[index] = v;
    }

    /// <summary>dx[n, c, h, w] += sum of col entries that im2col read from (n, c, h, w).</summary>
    public static void Col2ImAccumulate(Index1D index, ArrayView<float> col, ArrayView<float> dx, ConvArgs g)
    {
        int w = index % g.W;
        int rest = index / g.W;
        int h = rest % g.H;
        rest /= g.H;
        int c = rest % g.C;
        int n = rest / g.C;
        int pixels = g.OutH * g.OutW, columns = g.Images * pixels;
        float sum = 0f;
        for (int r = 0; r < g.R; r++)
        {
            int th = h + g.PadH - r;
            if (th < 0) break;                       // th only shrinks as r grows
            int oh = th / g.StrideH;
            if (oh * g.StrideH != th || oh >= g.OutH) continue;
            for (int s = 0; s < g.S; s++)
            {
                int tw = w + g.PadW - s;
                if (tw < 0) break;
                int ow = tw / g.StrideW;
                if (ow * g.StrideW != tw || ow >= g.OutW) continue;
                sum += col[((c * g.R + r) * g.S + s) * columns + n * pixels + oh * g.OutW + ow];
            }
        }
        dx[index] += sum;
    }
}
