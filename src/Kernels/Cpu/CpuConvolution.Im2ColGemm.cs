namespace NeuralCore.Kernels.Cpu;

// Forward and backward data by im2col + GEMM over groups of images (see CpuConvolution.cs).
internal static partial class CpuConvolution
{
    // Loop bodies (structs, so that starting a parallel loop allocates nothing; see CpuParallel).

    private struct ForwardJob : IConvBody
    {
        public float[] X, W, Y;
        public ConvGeometry G;
        public int Crs, Plane;

        public readonly void Run(int n0, int n1, CpuParallel? gemm)
        {
            int k = G.OutChannels, imageSize = G.InChannels * G.InHeight * G.InWidth, crs = Crs, plane = Plane;
            if (!IsPointwise(G) && UseDirect(n1 - n0, gemm))
            {
                ForwardDirect(X, W, Y, G, crs, plane, n0, n1);
                return;
            }
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
            if (!IsPointwise(G) && UseDirect(n1 - n0, gemm))
            {
                BackwardDataDirect(Dy, W, Dx, G, crs, plane, n0, n1);
                return;
            }
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
}
