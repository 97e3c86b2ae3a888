namespace NeuralCore.Kernels.Cpu;

// Backward weight: dW += dY · colᵀ, summed in parts that do not depend on the thread count.
internal static partial class CpuConvolution
{
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
    /// the work, but every part adds a partial gradient to clear and sum and makes its GEMMs thinner; with fewer parts
    /// than threads, the parts run one after another with parallel GEMMs instead.</summary>
    private static int WeightParts(in ConvGeometry g, int crs, int plane)
    {
        int group = GroupSize(g, crs, plane, g.Batch);
        int parts = (g.Batch + group - 1) / group;
        return Math.Min(parts, MaxChunks);
    }

    [System.Runtime.CompilerServices.InlineArray(MaxChunks)]
    private struct ChunkArrays { private float[]? _element; }

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
        if (UseDirectWeight(k, crs))
        {
            AccumulateWeightDirect(x, dy, target, g, crs, plane, n0, n1, group);
            return;
        }
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
}
