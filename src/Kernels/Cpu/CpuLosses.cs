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

    /// <summary>da += g dL/da, db += g dL/db (an empty span means "not wanted").</summary>
    public static void Backward(LossKind kind, ReadOnlySpan<float> a, ReadOnlySpan<float> b, float g, Span<float> da, Span<float> db)
    {
        var call = new GradientCall(a, b, g, da, db);
        LossOperators.Visit(kind, ref call);
    }

    private ref struct SumCall(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> t1, Span<float> t2) : ILossOperatorVisitor
    {
        private readonly ReadOnlySpan<float> _a = a, _b = b;
        private readonly Span<float> _t1 = t1, _t2 = t2;

        public float Result { get; private set; }

        public void Visit<TOp>() where TOp : struct, ILossOperator => Result = TOp.Sum(_a, _b, _t1, _t2);
    }

    private readonly ref struct GradientCall(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float g, Span<float> da, Span<float> db)
        : ILossOperatorVisitor
    {
        private readonly ReadOnlySpan<float> _a = a, _b = b;
        private readonly Span<float> _da = da, _db = db;

        public void Visit<TOp>() where TOp : struct, ILossOperator
        {
            if (!_da.IsEmpty) CpuElementwise.Run<CpuKernels.LossGradientA<TOp>>(Operand.Of(_a), Operand.Of(_b), Operand.Of(_da), default, _da, g);
            if (!_db.IsEmpty) CpuElementwise.Run<CpuKernels.LossGradientB<TOp>>(Operand.Of(_a), Operand.Of(_b), Operand.Of(_db), default, _db, g);
        }
    }
}
