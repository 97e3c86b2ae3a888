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
/// <para>This file holds the entry points and the planning (how the batch is grouped and split among threads); the
/// strategies live beside it: CpuConvolution.Direct.cs (forward and backward data image by image through a
/// register-blocked kernel with AVX-512, summed in the GEMM's depth blocks so that it gives the GEMM's bits),
/// CpuConvolution.Im2ColGemm.cs (forward and backward data by groups of images otherwise),
/// CpuConvolution.WeightGradient.cs (backward weight, summed in thread-count independent parts),
/// CpuConvolution.WeightDirect.cs (backward weight of layers with few taps, output channels in the lanes, in the GEMM's
/// order) and CpuConvolution.Im2Col.cs (unrolling patches into col and adding them back).</para>
/// </summary>
internal static partial class CpuConvolution
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

    /// <summary>The most batch chunks a convolution is split into.</summary>
    private const int MaxChunks = 64;

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

    // ---- planning ----------------------------------------------------------------------------

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
}
