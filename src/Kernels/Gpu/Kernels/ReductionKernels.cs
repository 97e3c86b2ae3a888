using ILGPU;
using ILGPU.Algorithms;

namespace NeuralCore.Kernels.Gpu.Kernels;

/// <summary>
/// Deterministic sums (no atomics): either one thread per output walking its reduced elements, or one
/// explicitly grouped block per output with a shared-memory tree. Losses are a grouped partial-sum pass
/// followed by one grouped pass over the partials. The summation order is fixed, so results repeat exactly.
/// </summary>
internal static class ReductionKernels
{
    /// <summary>Threads per group of the grouped reductions (a power of two).</summary>
    public const int GroupSize = 128;

    /// <summary>Maximum number of partial sums of a loss (groups of the first pass).</summary>
    public const int MaxPartials = 256;

    /// <summary>dst[j] (+)= scale * sum_r src[plan(j, r)], one thread per output j.</summary>
    public static void PerThread(Index1D j, ArrayView<float> src, ArrayView<float> dst, ReductionPlan plan, float scale, int accumulate)
    {
        int baseOffset = plan.KeptOffset(j);
        float s = 0f;
        for (int r = 0; r < plan.Length; r++) s += src[baseOffset + plan.ReducedOffset(r)];
        s *= scale;
        dst[j] = accumulate != 0 ? dst[j] + s : s;
    }

    /// <summary>The same with one group of <see cref="GroupSize"/> threads per output (grid = outputs).</summary>
    public static void PerGroup(ArrayView<float> src, ArrayView<float> dst, ReductionPlan plan, float scale, int accumulate)
    {
        var shared = SharedMemory.Allocate<float>(GroupSize);
        int j = Grid.IdxX, t = Group.IdxX;
        int baseOffset = plan.KeptOffset(j);
        float s = 0f;
        for (int r = t; r < plan.Length; r += GroupSize) s += src[baseOffset + plan.ReducedOffset(r)];
        float total = TreeSum(shared, t, s);
        if (t == 0)
        {
            total *= scale;
            dst[j] = accumulate != 0 ? dst[j] + total : total;
        }
    }

    /// <summary>Sums one value per thread of the group; the result is valid in thread 0.</summary>
    private static float TreeSum(ArrayView<float> shared, int t, float value)
    {
        shared[t] = value;
        Group.Barrier();
        for (int half = GroupSize / 2; half > 0; half >>= 1)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        return shared[0];
    }

    /// <summary>partials[group] = sum of the loss terms that group strides over (grid-stride loop).</summary>
    public static void LossPartials<TOp>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> partials, int n)
        where TOp : struct, ILossOperator
    {
        var shared = SharedMemory.Allocate<float>(GroupSize);
        int t = Group.IdxX, g = Grid.IdxX, stride = Grid.DimX * GroupSize;
        float s = 0f;
        for (int i = g * GroupSize + t; i < n; i += stride) s += TOp.Term(a[i], b[i]);
        float total = TreeSum(shared, t, s);
        if (t == 0) partials[g] = total;
    }

    /// <summary>da += s dL/da, db += s dL/db with s = scale * dLoss[0] read on the device.</summary>
    public static void LossBackward<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dLoss,
        ArrayView<float> da, ArrayView<float> db, LossBackwardArgs args) where TOp : struct, ILossOperator
    {
        float g = dLoss[0] * args.Scale;
        float av = a[i], bv = b[i];
        if (args.WantA != 0) da[i] += TOp.GradientA(av, bv, g);
        if (args.WantB != 0) db[i] += TOp.GradientB(av, bv, g);
    }

    public struct LossBackwardArgs
    {
        public int WantA, WantB;
        public float Scale;
    }
}
