namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// 2-D convolution on NCHW input with KCRS weights (PyTorch layout) by im2col + <see cref="CpuGemm"/>.
/// <para>Per image, the input patches are unrolled into col[C*R*S, OH*OW] (row (c*R + r)*S + s holds the input pixel
/// that kernel tap (c, r, s) sees at every output position). Then</para>
/// <list type="bullet">
/// <item>forward:         y_n[K, OH*OW]  = W[K, CRS] · col_n</item>
/// <item>backward data:   dcol[CRS, OH*OW] = Wᵀ · dy_n, then col2im scatters (adds) dcol into dx_n</item>
/// <item>backward weight: dW[K, CRS]    += dy_n · col_nᵀ</item>
/// </list>
/// <para>Parallelism: the network shapes here are many small images (MNIST, batch 128), where each per-image GEMM is
/// far too small to split, so the batch is divided among threads and every thread runs single-threaded GEMMs on its
/// own pooled scratch. With fewer images than threads the GEMM parallelises internally instead.</para>
/// </summary>
public static class CpuConvolution
{
    /// <summary>Below this many flops for the whole batch, stay on the calling thread.</summary>
    private const long ParallelThresholdFlops = 1L << 21;

    [ThreadStatic] private static float[]? t_col;

    private static float[] Scratch(ref float[]? slot, int length)
    {
        if (slot is null || slot.Length < length) slot = new float[Math.Max(length, 1024)];
        return slot;
    }

    /// <summary>y = conv2d(x, w): x [N,C,H,W], w [K,C,R,S], y [N,K,OH,OW] (overwritten). No bias.</summary>
    public static void Forward(float[] x, float[] w, float[] y, in ConvGeometry g)
    {
        Check(x, w, y, g, out int crs, out int plane);
        var geo = g;
        int k = g.OutChannels;
        bool direct = IsPointwise(g);
        Run(g.Batch, 2L * g.Batch * k * crs * plane, (n0, n1, gemmThreads) =>
        {
            float[] col = direct ? x : Scratch(ref t_col, crs * plane);
            for (int n = n0; n < n1; n++)
            {
                int colOffset = 0;
                if (direct) colOffset = n * crs * plane;
                else Im2Col(x, n * geo.InChannels * geo.InHeight * geo.InWidth, col, geo);
                CpuGemm.Multiply(w, 0, col, colOffset, y, n * k * plane, k, plane, crs,
                    transposeA: false, transposeB: false, accumulate: false, 1f, gemmThreads);
            }
        });
    }

    /// <summary>dx += conv2d_backward_data(dy, w). Also the forward pass of a transposed convolution.</summary>
    public static void BackwardData(float[] dy, float[] w, float[] dx, in ConvGeometry g)
    {
        Check(dx, w, dy, g, out int crs, out int plane);
        var geo = g;
        int k = g.OutChannels;
        int imageSize = g.InChannels * g.InHeight * g.InWidth;
        bool direct = IsPointwise(g);
        Run(g.Batch, 2L * g.Batch * k * crs * plane, (n0, n1, gemmThreads) =>
        {
            float[] col = direct ? dx : Scratch(ref t_col, crs * plane);
            for (int n = n0; n < n1; n++)
            {
                // A 1x1, stride-1, unpadded convolution has col == x, so dx accumulates straight from the GEMM.
                CpuGemm.Multiply(w, 0, dy, n * k * plane, col, direct ? n * imageSize : 0, crs, plane, k,
                    transposeA: true, transposeB: false, accumulate: direct, 1f, gemmThreads);
                if (!direct) Col2ImAdd(col, dx, n * imageSize, geo);
            }
        });
    }

    /// <summary>dw += conv2d_backward_weight(x, dy).</summary>
    public static void BackwardWeight(float[] x, float[] dy, float[] dw, in ConvGeometry g)
    {
        Check(x, dw, dy, g, out int crs, out int plane);
        var geo = g;
        int k = g.OutChannels;
        int weightSize = k * crs;
        bool direct = IsPointwise(g);
        int chunks = Chunks(g.Batch, 2L * g.Batch * k * crs * plane);
        if (chunks <= 1)
        {
            Accumulate(0, g.Batch, dw, CpuGemm.MaxThreads);
            return;
        }

        // Each chunk of images sums into its own partial gradient, and the partials are reduced at the end.
        var partials = new float[chunks][];
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, t =>
        {
            int n0 = (int)((long)geo.Batch * t / chunks), n1 = (int)((long)geo.Batch * (t + 1) / chunks);
            // Pooled per chunk, not per thread: one thread may run two chunks back to back.
            float[] partial = System.Buffers.ArrayPool<float>.Shared.Rent(weightSize);
            Array.Clear(partial, 0, weightSize);
            Accumulate(n0, n1, partial, 1);
            partials[t] = partial;
        });
        for (int t = 0; t < chunks; t++)
        {
            float[] p = partials[t];
            System.Numerics.Tensors.TensorPrimitives.Add(dw.AsSpan(0, weightSize), p.AsSpan(0, weightSize), dw.AsSpan(0, weightSize));
            System.Buffers.ArrayPool<float>.Shared.Return(p);
        }

        void Accumulate(int n0, int n1, float[] target, int gemmThreads)
        {
            float[] col = direct ? x : Scratch(ref t_col, crs * plane);
            for (int n = n0; n < n1; n++)
            {
                int colOffset = 0;
                if (direct) colOffset = n * crs * plane;
                else Im2Col(x, n * geo.InChannels * geo.InHeight * geo.InWidth, col, geo);
                CpuGemm.Multiply(dy, n * k * plane, col, colOffset, target, 0, k, crs, plane,
                    transposeA: false, transposeB: true, accumulate: true, 1f, gemmThreads);
            }
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static bool IsPointwise(in ConvGeometry g) =>
        g.KernelHeight == 1 && g.KernelWidth == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;

    private static void Check(float[] x, float[] w, float[] y, in ConvGeometry g, out int crs, out int plane)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(y);
        g.Validate();
        if (x.Length < g.InputSize) throw new ArgumentException($"input holds {x.Length} < {g.InputSize} floats for {g}");
        if (w.Length < g.WeightSize) throw new ArgumentException($"weight holds {w.Length} < {g.WeightSize} floats for {g}");
        if (y.Length < g.OutputSize) throw new ArgumentException($"output holds {y.Length} < {g.OutputSize} floats for {g}");
        crs = g.InChannels * g.KernelHeight * g.KernelWidth;
        plane = g.OutHeight * g.OutWidth;
    }

    /// <summary>How many batch chunks to run in parallel (1 = sequential).</summary>
    private static int Chunks(int batch, long flops)
    {
        int threads = Math.Min(CpuGemm.MaxThreads, Environment.ProcessorCount);
        if (flops < ParallelThresholdFlops || batch < threads) return 1;
        return Math.Min(threads, batch);
    }

    /// <summary>Runs body(n0, n1, gemmThreads) over the batch: chunked in parallel when there are enough images,
    /// otherwise sequentially with the GEMM free to parallelise.</summary>
    private static void Run(int batch, long flops, Action<int, int, int> body)
    {
        int chunks = Chunks(batch, flops);
        if (chunks <= 1)
        {
            body(0, batch, CpuGemm.MaxThreads);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, t =>
            body((int)((long)batch * t / chunks), (int)((long)batch * (t + 1) / chunks), 1));
    }

    /// <summary>Output positions ow in [lo, hi) whose input column ow*stride - pad + tap lies inside [0, size).</summary>
    private static void ValidRange(int outSize, int size, int stride, int pad, int tap, out int lo, out int hi)
    {
        // iw = ow*stride + (tap - pad) >= 0  <=>  ow >= ceil((pad - tap) / stride)
        int shift = tap - pad;
        lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
        // iw <= size - 1  <=>  ow <= floor((size - 1 - shift) / stride)
        int last = size - 1 - shift;
        hi = last < 0 ? 0 : Math.Min(outSize, last / stride + 1);
        if (hi < lo) hi = lo;
    }

    /// <summary>col[(c*R + r)*S + s, oh*OW + ow] = x[c, oh*sh - ph + r, ow*sw - pw + s] (0 outside the image).</summary>
    internal static void Im2Col(float[] x, int xOffset, float[] col, in ConvGeometry g)
    {
        int C = g.InChannels, H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth;
        int OH = g.OutHeight, OW = g.OutWidth, sh = g.StrideH, sw = g.StrideW, ph = g.PadH, pw = g.PadW;
        int plane = OH * OW;
        var xs = x.AsSpan();
        var cs = col.AsSpan();
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
        {
            int row = ((c * R) + r) * S + s;
            var dst = cs.Slice(row * plane, plane);
            ValidRange(OW, W, sw, pw, s, out int owLo, out int owHi);
            ValidRange(OH, H, sh, ph, r, out int ohLo, out int ohHi);
            dst.Slice(0, ohLo * OW).Clear();
            dst.Slice(ohHi * OW).Clear();
            for (int oh = ohLo; oh < ohHi; oh++)
            {
                int ih = oh * sh - ph + r;
                var d = dst.Slice(oh * OW, OW);
                d.Slice(0, owLo).Clear();
                d.Slice(owHi).Clear();
                int src = xOffset + (c * H + ih) * W + owLo * sw - pw + s;
                if (sw == 1)
                {
                    xs.Slice(src, owHi - owLo).CopyTo(d.Slice(owLo));
                }
                else
                {
                    for (int ow = owLo; ow < owHi; ow++, src += sw) d[ow] = xs[src];
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx[c, ih, iw] += col[(c*R + r)*S + s, oh*OW + ow].</summary>
    internal static void Col2ImAdd(float[] col, float[] dx, int dxOffset, in ConvGeometry g)
    {
        int C = g.InChannels, H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth;
        int OH = g.OutHeight, OW = g.OutWidth, sh = g.StrideH, sw = g.StrideW, ph = g.PadH, pw = g.PadW;
        int plane = OH * OW;
        var xs = dx.AsSpan();
        var cs = col.AsSpan();
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
        {
            int row = ((c * R) + r) * S + s;
            var srcRow = cs.Slice(row * plane, plane);
            ValidRange(OW, W, sw, pw, s, out int owLo, out int owHi);
            ValidRange(OH, H, sh, ph, r, out int ohLo, out int ohHi);
            for (int oh = ohLo; oh < ohHi; oh++)
            {
                int ih = oh * sh - ph + r;
                var sRow = srcRow.Slice(oh * OW, OW);
                int dst = dxOffset + (c * H + ih) * W + owLo * sw - pw + s;
                if (sw == 1)
                {
                    var d = xs.Slice(dst, owHi - owLo);
                    System.Numerics.Tensors.TensorPrimitives.Add(d, sRow.Slice(owLo, owHi - owLo), d);
                }
                else
                {
                    for (int ow = owLo; ow < owHi; ow++, dst += sw) xs[dst] += sRow[ow];
                }
            }
        }
    }
}
