using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// 2-D convolution on NCHW input with KCRS weights (PyTorch layout) by im2col + <see cref="CpuGemm"/>.
/// <para>The input patches of a group of nb images are unrolled side by side into col[C*R*S, nb*OH*OW] (row (c*R + r)*S + s
/// holds the input pixel that kernel tap (c, r, s) sees at every output position of every image in the group). Then</para>
/// <list type="bullet">
/// <item>forward:         Y[K, nb*P]   = W[K, CRS] · col, scattered to y[n, K, P]</item>
/// <item>backward data:   dcol[CRS, nb*P] = Wᵀ · dY[K, nb*P] (dy gathered), then col2im adds dcol into dx</item>
/// <item>backward weight: dW[K, CRS]  += dY[K, nb*P] · colᵀ</item>
/// </list>
/// <para>im2col and col2im read a table of tap offsets (<see cref="TapOffsets"/>: for every tap and output position, the
/// input pixel or -1 for padding), so stride and padding cost nothing per element: im2col fills each col row with AVX2
/// masked gathers, col2im is one flat loop per row. (Row-wise copies lose to per-row bookkeeping here: with stride 2
/// the MNIST layers' output rows are 7 or 14 floats.)</para>
/// <para>Grouping matters: one MNIST image gives GEMMs far too thin to run well (conv2: 32 x 49 x 144). Parallelism: the
/// batch is divided among threads and every thread runs single-threaded GEMMs on its own pooled scratch (im2col and
/// col2im are memory work that a parallel GEMM would leave serial). With fewer images than threads the GEMM
/// parallelises internally instead. The threads are those of a <see cref="CpuBackend"/>; called directly, the public
/// methods run on the calling thread.</para>
/// </summary>
internal static class CpuConvolution
{
    /// <summary>Below this many flops for the whole batch, stay on the calling thread.</summary>
    private const long ParallelThresholdFlops = 1L << 21;

    [ThreadStatic] private static float[]? t_col;
    [ThreadStatic] private static float[]? t_out;

    private static float[] Scratch(ref float[]? slot, int length)
    {
        if (slot is null || slot.Length < length) slot = new float[Math.Max(length, 1024)];
        return slot;
    }

    /// <summary>y = conv2d(x, w): x [N,C,H,W], w [K,C,R,S], y [N,K,OH,OW] (overwritten). No bias. Runs on the calling thread.</summary>
    public static void Forward(float[] x, float[] w, float[] y, in ConvGeometry g) => Forward(x, w, y, g, parallel: null);

    /// <summary>dx += conv2d_backward_data(dy, w). Also the forward pass of a transposed convolution. Runs on the calling thread.</summary>
    public static void BackwardData(float[] dy, float[] w, float[] dx, in ConvGeometry g) => BackwardData(dy, w, dx, g, parallel: null);

    /// <summary>dw += conv2d_backward_weight(x, dy), with the same bits as on any number of threads. Runs on the calling thread.</summary>
    public static void BackwardWeight(float[] x, float[] dy, float[] dw, in ConvGeometry g) => BackwardWeight(x, dy, dw, g, parallel: null);

    /// <summary><see cref="Forward(float[], float[], float[], in ConvGeometry)"/> on the threads of <paramref name="parallel"/> (null: the calling thread).</summary>
    internal static void Forward(float[] x, float[] w, float[] y, in ConvGeometry g, CpuParallel? parallel)
    {
        Check(x, w, y, g, out int crs, out int plane);
        var job = new ForwardJob { X = x, W = w, Y = y, G = g, Crs = crs, Plane = plane };
        Run(ref job, g.Batch, 2L * g.Batch * g.OutChannels * crs * plane, parallel);
    }

    /// <summary><see cref="BackwardData(float[], float[], float[], in ConvGeometry)"/> on the threads of <paramref name="parallel"/> (null: the calling thread).</summary>
    internal static void BackwardData(float[] dy, float[] w, float[] dx, in ConvGeometry g, CpuParallel? parallel)
    {
        Check(dx, w, dy, g, out int crs, out int plane);
        var job = new BackwardDataJob { Dy = dy, W = w, Dx = dx, G = g, Crs = crs, Plane = plane };
        Run(ref job, g.Batch, 2L * g.Batch * g.OutChannels * crs * plane, parallel);
    }

    /// <summary>
    /// dw += conv2d_backward_weight(x, dy). The batch is cut into parts that depend only on the batch size and the
    /// geometry, never on the thread count; each part's gradient is summed on its own (in parallel when there is enough
    /// work) and the parts are added to dw in order, so the result has the same bits with one thread or many.
    /// </summary>
    internal static void BackwardWeight(float[] x, float[] dy, float[] dw, in ConvGeometry g, CpuParallel? parallel)
    {
        Check(x, dw, dy, g, out int crs, out int plane);
        int weightSize = g.OutChannels * crs;
        int parts = WeightParts(g, crs, plane);
        if (parts == 1)
        {
            // one GEMM: parallel or not, every element sums its products in the same order
            AccumulateWeight(x, dy, dw, g, crs, plane, 0, g.Batch, parallel);
            return;
        }
        var job = new BackwardWeightJob { X = x, Dy = dy, G = g, Crs = crs, Plane = plane, Parts = parts, WeightSize = weightSize, Gemm = null };
        for (int t = 0; t < parts; t++) job.Partials[t] = System.Buffers.ArrayPool<float>.Shared.Rent(weightSize);
        int threads = Chunks(g.Batch, 2L * g.Batch * g.OutChannels * crs * plane, parallel);
        if (threads > 1 && parts >= threads) parallel!.For(parts, ref job);   // a part per thread
        else
        {
            // fewer parts than threads (or little work): the parts one after another, each GEMM free to use the threads
            job.Gemm = parallel;
            for (int t = 0; t < parts; t++) job.Invoke(t);
        }
        var target = dw.AsSpan(0, weightSize);
        for (int t = 0; t < parts; t++)
        {
            float[] p = job.Partials[t]!;
            System.Numerics.Tensors.TensorPrimitives.Add(target, p.AsSpan(0, weightSize), target);
            System.Buffers.ArrayPool<float>.Shared.Return(p);
        }
    }

    /// <summary>How many parts the batch of a weight gradient is summed in: as few as give one GEMM of at most
    /// <see cref="GroupSize"/> images per part (at most <see cref="MaxChunks"/>). More parts would let more cores share
    /// the work, but measured on 2 cores, 8 or 16 parts of smaller GEMMs cost 6-10 % of all six conv kernels' time; with
    /// fewer parts than threads, the parts run one after another with parallel GEMMs instead.</summary>
    private static int WeightParts(in ConvGeometry g, int crs, int plane)
    {
        int group = GroupSize(g, crs, plane, g.Batch);
        int parts = (g.Batch + group - 1) / group;
        return Math.Min(parts, MaxChunks);
    }

    /// <summary>The most batch chunks a convolution is split into.</summary>
    private const int MaxChunks = 64;

    [System.Runtime.CompilerServices.InlineArray(MaxChunks)]
    private struct ChunkArrays { private float[]? _element; }

    // Loop bodies (structs, so that starting a parallel loop allocates nothing; see CpuParallel).

    private struct ForwardJob : IConvBody
    {
        public float[] X, W, Y;
        public ConvGeometry G;
        public int Crs, Plane;

        public readonly void Run(int n0, int n1, CpuParallel? gemm)
        {
            int k = G.OutChannels, imageSize = G.InChannels * G.InHeight * G.InWidth, crs = Crs, plane = Plane;
            int group = GroupSize(G, crs, plane, n1 - n0);
            for (int n = n0; n < n1; n += group)
            {
                int nb = Math.Min(group, n1 - n), cols = nb * plane;
                if (nb == 1 && IsPointwise(G))
                {
                    // A 1x1, stride-1, unpadded convolution has col == x: multiply straight into y.
                    CpuGemm.Multiply(W, 0, X, n * imageSize, Y, n * k * plane, k, plane, crs, false, false, false, 1f, gemm);
                    continue;
                }
                float[] col = Scratch(ref t_col, crs * cols), outBuf = Scratch(ref t_out, k * cols);
                Im2Col(X, n, nb, col, G);
                CpuGemm.Multiply(W, 0, col, 0, outBuf, 0, k, cols, crs, false, false, false, 1f, gemm);
                ScatterRows(outBuf, Y, n * k * plane, k, plane, nb);   // outBuf is [K, nb*P]; y wants [nb, K, P]
            }
        }
    }

    private struct BackwardDataJob : IConvBody
    {
        public float[] Dy, W, Dx;
        public ConvGeometry G;
        public int Crs, Plane;

        public readonly void Run(int n0, int n1, CpuParallel? gemm)
        {
            int k = G.OutChannels, imageSize = G.InChannels * G.InHeight * G.InWidth, crs = Crs, plane = Plane;
            int group = GroupSize(G, crs, plane, n1 - n0);
            for (int n = n0; n < n1; n += group)
            {
                int nb = Math.Min(group, n1 - n), cols = nb * plane;
                if (nb == 1 && IsPointwise(G))
                {
                    CpuGemm.Multiply(W, 0, Dy, n * k * plane, Dx, n * imageSize, crs, plane, k, true, false, true, 1f, gemm);
                    continue;
                }
                float[] col = Scratch(ref t_col, crs * cols);
                var (dyBuf, dyOffset) = GradientByChannel(Dy, n, nb, k, plane);
                CpuGemm.Multiply(W, 0, dyBuf, dyOffset, col, 0, crs, cols, k, true, false, false, 1f, gemm);
                Col2ImAdd(col, Dx, n, nb, G);
            }
        }
    }

    private struct BackwardWeightJob : IParallelBody
    {
        public float[] X, Dy;
        public ConvGeometry G;
        public int Crs, Plane, Parts, WeightSize;
        public CpuParallel? Gemm;
        public ChunkArrays Partials;

        public readonly void Invoke(int t)
        {
            int n0 = (int)((long)G.Batch * t / Parts), n1 = (int)((long)G.Batch * (t + 1) / Parts);
            float[] partial = Partials[t]!;
            Array.Clear(partial, 0, WeightSize);
            AccumulateWeight(X, Dy, partial, G, Crs, Plane, n0, n1, Gemm);
        }
    }

    /// <summary>target[K, CRS] += sum over images [n0, n1) of dY[K, P] * col[CRS, P]^T.</summary>
    private static void AccumulateWeight(float[] x, float[] dy, float[] target, in ConvGeometry g, int crs, int plane, int n0, int n1, CpuParallel? gemm)
    {
        int k = g.OutChannels;
        int group = GroupSize(g, crs, plane, n1 - n0);
        for (int n = n0; n < n1; n += group)
        {
            int nb = Math.Min(group, n1 - n), cols = nb * plane;
            float[] col = Scratch(ref t_col, crs * cols);
            var (dyBuf, dyOffset) = GradientByChannel(dy, n, nb, k, plane);
            Im2Col(x, n, nb, col, g);
            // dW[K, CRS] += dY[K, nb*P] * col[CRS, nb*P]^T
            CpuGemm.Multiply(dyBuf, dyOffset, col, 0, target, 0, k, crs, cols, false, true, true, 1f, gemm);
        }
    }

    /// <summary>
    /// Images per GEMM. One image of a small layer gives a GEMM too thin to run well (conv2 of the MNIST autoencoder:
    /// 32 x 49 x 144), so several images are unrolled side by side into col[CRS, nb*P] and multiplied at once; the
    /// group is capped so that the col scratch stays around 1M floats (4 MiB).
    /// </summary>
    private static int GroupSize(in ConvGeometry g, int crs, int plane, int images)
    {
        const int targetColumns = 4096, maxColFloats = 1 << 20;
        int byColumns = Math.Max(1, targetColumns / plane);
        int byMemory = Math.Max(1, maxColFloats / Math.Max(1, crs * plane));
        return Math.Max(1, Math.Min(images, Math.Min(byColumns, byMemory)));
    }

    /// <summary>dy of images [n, n + nb) as [K, nb*P] for the GEMM: dy itself (at an offset) for one image, otherwise
    /// gathered into this thread's scratch.</summary>
    private static (float[] Data, int Offset) GradientByChannel(float[] dy, int n, int nb, int k, int plane)
    {
        if (nb == 1) return (dy, n * k * plane);
        float[] buffer = Scratch(ref t_out, k * nb * plane);
        GatherRows(dy, n * k * plane, buffer, k, plane, nb);
        return (buffer, 0);
    }

    /// <summary>The inverse of <see cref="GatherRows"/>: dst[offset + (j*K + kk)*P + p] = src[kk, j*P + p].</summary>
    private static void ScatterRows(float[] src, float[] dst, int offset, int k, int plane, int nb)
    {
        int cols = nb * plane;
        for (int j = 0; j < nb; j++)
        for (int kk = 0; kk < k; kk++)
            src.AsSpan(kk * cols + j * plane, plane).CopyTo(dst.AsSpan(offset + (j * k + kk) * plane, plane));
    }

    /// <summary>dst[kk, j*P + p] = src[offset + (j*K + kk)*P + p]: [nb, K, P] to [K, nb*P].</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void GatherRows(float[] src, int offset, float[] dst, int k, int plane, int nb)
    {
        int cols = nb * plane;
        for (int j = 0; j < nb; j++)
        for (int kk = 0; kk < k; kk++)
            src.AsSpan(offset + (j * k + kk) * plane, plane).CopyTo(dst.AsSpan(kk * cols + j * plane, plane));
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

    /// <summary>How many batch chunks to run in parallel on <paramref name="parallel"/> (1 = sequential).</summary>
    private static int Chunks(int batch, long flops, CpuParallel? parallel)
    {
        int threads = parallel?.Threads ?? 1;
        if (flops < ParallelThresholdFlops || batch < threads) return 1;
        return Math.Min(Math.Min(threads, batch), MaxChunks);
    }

    /// <summary>A convolution loop body over images [n0, n1), with the threads for the GEMMs it runs (null: its own thread).</summary>
    private interface IConvBody
    {
        void Run(int n0, int n1, CpuParallel? gemm);
    }

    /// <summary>Chunk i of <see cref="Chunked{T}"/>'s batch split.</summary>
    private struct Chunked<T> : IParallelBody where T : struct, IConvBody
    {
        public T Body;
        public int Batch, Chunks;
        public readonly void Invoke(int t) => Body.Run((int)((long)Batch * t / Chunks), (int)((long)Batch * (t + 1) / Chunks), null);
    }

    /// <summary>Runs body over the batch: chunked in parallel when there are enough images, otherwise sequentially with
    /// the GEMM free to parallelise.</summary>
    private static void Run<T>(ref T body, int batch, long flops, CpuParallel? parallel) where T : struct, IConvBody
    {
        int chunks = Chunks(batch, flops, parallel);
        if (chunks <= 1)
        {
            body.Run(0, batch, parallel);
            return;
        }
        var job = new Chunked<T> { Body = body, Batch = batch, Chunks = chunks };
        parallel!.For(chunks, ref job);
    }

    /// <summary>
    /// For every kernel tap t = r*S + s and output position p = oh*OW + ow: the offset in one input channel's H x W
    /// plane of the pixel the tap reads there, or -1 where it falls in the padding. [R*S, OH*OW], built once per
    /// geometry (batch and channel counts do not matter) and shared by all threads.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ConvGeometry, int[]> s_tapOffsets = new();

    private static int[] TapOffsets(in ConvGeometry g)
    {
        var key = g with { Batch = 1, InChannels = 1, OutChannels = 1 };
        if (s_tapOffsets.TryGetValue(key, out var table)) return table;
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth, plane = OH * OW;
        table = new int[R * S * plane];
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
        for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
        {
            int ih = oh * g.StrideH - g.PadH + r, iw = ow * g.StrideW - g.PadW + s;
            table[(r * S + s) * plane + oh * OW + ow] = ih >= 0 && ih < H && iw >= 0 && iw < W ? ih * W + iw : -1;
        }
        return s_tapOffsets.GetOrAdd(key, table);
    }

    /// <summary>Checks that images [n, n + nb) lie in <paramref name="images"/> and their col[CRS, nb*P] in <paramref name="col"/>.</summary>
    private static void CheckColRange(float[] images, int n, int nb, float[] col, in ConvGeometry g, string what)
    {
        long imageSize = (long)g.InChannels * g.InHeight * g.InWidth;
        long colSize = (long)g.InChannels * g.KernelHeight * g.KernelWidth * nb * g.OutHeight * g.OutWidth;
        if (n < 0 || nb < 1 || (n + nb) * imageSize > images.Length || colSize > col.Length)
            throw new ArgumentOutOfRangeException(nameof(col), what + " out of range");
    }

    /// <summary>col[(c*R + r)*S + s, j*P + oh*OW + ow] = x[n + j, c, oh*sh - ph + r, ow*sw - pw + s] (0 outside the image)
    /// for the nb images from n: col is [CRS, nb*P]. Every col row of an image is a gather through
    /// <see cref="TapOffsets"/>: eight pixels per AVX2 gather, with the padding masked to 0 (output rows are 7 or 14
    /// floats with stride 2, too short for row-wise copies).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Im2Col(float[] x, int n, int nb, float[] col, in ConvGeometry g)
    {
        CheckColRange(x, n, nb, col, g, "im2col");
        int[] taps = TapOffsets(g);
        int channelSize = g.InHeight * g.InWidth, imageSize = g.InChannels * channelSize;
        int tapCount = g.KernelHeight * g.KernelWidth, plane = g.OutHeight * g.OutWidth, ldCol = nb * plane;
        fixed (float* px = x, pcol = col)
        fixed (int* pt = taps)
        {
            for (int j = 0; j < nb; j++)
            {
                float* image = px + (long)(n + j) * imageSize, columns = pcol + j * plane;
                for (int c = 0; c < g.InChannels; c++)
                for (int t = 0; t < tapCount; t++)
                    Gather(image + (long)c * channelSize, pt + t * plane, columns + (long)(c * tapCount + t) * ldCol, plane);
            }
        }
    }

    /// <summary>destination[i] = offsets[i] &lt; 0 ? 0 : source[offsets[i]].</summary>
    private static unsafe void Gather(float* source, int* offsets, float* destination, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            var none = Vector256.Create(-1);
            for (; i + 8 <= count; i += 8)
            {
                var index = Avx.LoadVector256(offsets + i);
                var inside = Avx2.CompareGreaterThan(index, none).AsSingle();
                Avx.Store(destination + i,
                    Avx2.GatherMaskVector256(Vector256<float>.Zero, source, index, inside, 4));
            }
        }
        for (; i < count; i++)
        {
            int offset = offsets[i];
            destination[i] = offset >= 0 ? source[offset] : 0f;
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx[n + j, c, ih, iw] += col[(c*R + r)*S + s, j*P + oh*OW + ow], same col
    /// layout, image by image.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Col2ImAdd(float[] col, float[] dx, int n, int nb, in ConvGeometry g)
    {
        CheckColRange(dx, n, nb, col, g, "col2im");
        int[] taps = TapOffsets(g);
        int channelSize = g.InHeight * g.InWidth, imageSize = g.InChannels * channelSize;
        int tapCount = g.KernelHeight * g.KernelWidth, plane = g.OutHeight * g.OutWidth, ldCol = nb * plane;
        fixed (float* pdx = dx, pcol = col)
        fixed (int* pt = taps)
        {
            for (int j = 0; j < nb; j++)
            for (int c = 0; c < g.InChannels; c++)
            {
                float* channel = pdx + (long)(n + j) * imageSize + (long)c * channelSize;
                for (int t = 0; t < tapCount; t++)
                {
                    float* source = pcol + j * plane + (long)(c * tapCount + t) * ldCol;
                    int* offsets = pt + t * plane;
                    for (int p = 0; p < plane; p++)
                    {
                        int offset = offsets[p];
                        if (offset >= 0) channel[offset] += source[p];
                    }
                }
            }
        }
    }
}
