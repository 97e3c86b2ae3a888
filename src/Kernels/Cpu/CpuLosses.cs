namespace NeuralCore.Kernels.Cpu;

/// <summary>The fused losses (sums over all elements) and their gradients, with each loss's operator.</summary>
internal static class CpuLosses
{
    public static float Forward(LossKind kind, ReadOnlySpan<float> a, ReadOnlySpan<float> b, BufferPool pool)
    {
        int n = a.Length;
        float[] s1 = pool.Rent(n, false), s2 = pool.Rent(n, false);
        try
        {
            var call = new SumCall(a, b, s1.AsSpan(0, n), s2.AsSpan(0, n));
            LossOperators.Visit(kind, ref call);
            return call.Result;
        }
        finally
        {
            pool.Return(s1);
            pool.Return(s2);
        }
    }

    /// <summary>da += g dL/da, db += g dL/db over n elements (null means "not wanted"), large spans shared among the
    /// threads (each element's gradient is its own, so the bits do not depend on the split).</summary>
    public static void Backward(LossKind kind, float[] a, float[] b, float g, float[]? da, float[]? db, int n, CpuParallel parallel)
    {
        var call = new GradientCall(a, b, g, da, db, n, parallel);
        LossOperators.Visit(kind, ref call);
    }

    private ref struct SumCall(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2) : ILossOperatorVisitor
    {
        private readonly ReadOnlySpan<float> _a = a, _b = b;
        private readonly Span<float> _t1 = t1, _t2 = t2;

        public float Result { get; private set; }

        public void Visit<TOp>() where TOp : struct, ILossOperator => Result = TOp.Sum(_a, _b, _t1, _t2);
    }

    private readonly struct GradientCall(float[] a, float[] b, float g, float[]? da, float[]? db, int n, CpuParallel parallel)
        : ILossOperatorVisitor
    {
        public void Visit<TOp>() where TOp : struct, ILossOperator
        {
            if (da != null)
            {
                var job = new ElementwiseJob<CpuKernels.LossGradientA<TOp>> { A = a, B = b, C = da, Output = da, Count = n, PeriodA = n, PeriodB = n, P = g };
                job.Run(parallel);
            }
            if (db != null)
            {
                var job = new ElementwiseJob<CpuKernels.LossGradientB<TOp>> { A = a, B = b, C = db, Output = db, Count = n, PeriodA = n, PeriodB = n, P = g };
                job.Run(parallel);
            }
        }
    }
}
