using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels.Cpu;

/// <summary>
/// y = x Wᵀ for one row: the product a Linear layer computes at batch 1, with W [outputs, inputs] (PyTorch's layout)
/// packed once into panels of 64 outputs, [panel][input][64], so that a call streams the weights in order.
/// <para>Every output sums its products in the order of <see cref="CpuGemm"/>'s blocked product: the inputs cut into the
/// same equal blocks of at most KC, each block a chain of fused multiply-adds from zero in input order (plain multiply
/// and add where the machine has no 256-bit SIMD, as the scalar micro-kernel), the blocks' sums added to the output in
/// turn. So a row scored alone has the same bits as the same row inside a batch through the backend's MatMul.</para>
/// <para>Runs on the calling thread and allocates nothing: batch-1 work is far below the size where waking other
/// threads pays (the GEMM's own threshold is 4 Mflop; one 784 x 400 layer is 0.6).</para>
/// </summary>
public sealed class PackedRowWeights
{
    private const int Panel = 64;
    private readonly float[] _packed;

    /// <summary>Packs <paramref name="weight"/> [outputs, inputs] (row-major); later changes to it are not seen.</summary>
    public PackedRowWeights(ReadOnlySpan<float> weight, int outputs, int inputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        if (weight.Length < (long)outputs * inputs)
            throw new ArgumentException($"packed row weights: weight holds {weight.Length} values but [{outputs}, {inputs}] needs {(long)outputs * inputs}", nameof(weight));
        Outputs = outputs;
        Inputs = inputs;
        int panels = (outputs + Panel - 1) / Panel;
        _packed = GC.AllocateArray<float>(panels * inputs * Panel, pinned: true);
        for (int j = 0; j < outputs; j++)
        {
            int panel = j / Panel, lane = j % Panel;
            var row = weight.Slice(j * inputs, inputs);
            for (int p = 0; p < inputs; p++) _packed[((long)panel * inputs + p) * Panel + lane] = row[p];
        }
    }

    /// <summary>Outputs per row (the layer's out features).</summary>
    public int Outputs { get; }
    /// <summary>Inputs per row (the layer's in features).</summary>
    public int Inputs { get; }

    /// <summary>y[j] = sum over p of x[p] W[j, p], for x [Inputs] and y [Outputs]; y is overwritten.</summary>
    public unsafe void Multiply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length < Inputs) throw new ArgumentException($"packed row weights: x holds {x.Length} values, needs {Inputs}", nameof(x));
        if (y.Length < Outputs) throw new ArgumentException($"packed row weights: y holds {y.Length} values, needs {Outputs}", nameof(y));
        fixed (float* px = x, py = y, pw = _packed)
            CpuGemm.RowTimesPanels(px, pw, py, Inputs, Outputs);
    }
}

public static unsafe partial class CpuGemm
{
    /// <summary>Whether a product of depth <paramref name="k"/> is one depth block: its sums then start from zero and are added to C once.</summary>
    internal static bool IsOneDepthBlock(int k) => k <= KC;

    /// <summary>The k blocks of <see cref="Blocked"/>: k cut into equal blocks of at most KC.</summary>
    private static int KStep(int k)
    {
        int kBlocks = (k + KC - 1) / KC;
        return (k + kBlocks - 1) / kBlocks;
    }

    /// <summary>y [n] = x [k] times the 64-wide panels [panel][k][64], summed in the blocked GEMM's order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    internal static void RowTimesPanels(float* x, float* panels, float* y, int k, int n)
    {
        const int panel = 64;
        float* acc = stackalloc float[panel];
        int kStep = KStep(k);
        for (int pc = 0; pc < k; pc += kStep)
        {
            int kc = Math.Min(kStep, k - pc);
            for (int j0 = 0; j0 < n; j0 += panel)
            {
                float* w = panels + ((long)(j0 / panel) * k + pc) * panel;
                if (Use512) Panel512(x + pc, w, kc, acc);
                else if (Use256) Panel256(x + pc, w, kc, acc);
                else PanelScalar(x + pc, w, kc, acc);
                int cols = Math.Min(panel, n - j0);
                float* d = y + j0;
                if (pc == 0) for (int j = 0; j < cols; j++) d[j] = acc[j];
                else for (int j = 0; j < cols; j++) d[j] += acc[j];   // C + block sum, as the micro-kernels' store
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel512(float* x, float* w, int kc, float* acc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int p = 0; p < kc; p++)
        {
            var xp = Vector512.Create(x[p]);
            c0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(w), c0);
            c1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(w + 16), c1);
            c2 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(w + 32), c2);
            c3 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(w + 48), c3);
            w += 64;
        }
        c0.Store(acc); c1.Store(acc + 16); c2.Store(acc + 32); c3.Store(acc + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel256(float* x, float* w, int kc, float* acc)
    {
        // 8 accumulators + the broadcast: 9 of the 16 ymm registers, one pass over the panel
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector256<float> c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < kc; p++)
        {
            var xp = Vector256.Create(x[p]);
            c0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w), c0);
            c1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 8), c1);
            c2 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 16), c2);
            c3 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 24), c3);
            c4 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 32), c4);
            c5 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 40), c5);
            c6 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 48), c6);
            c7 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(w + 56), c7);
            w += 64;
        }
        c0.Store(acc); c1.Store(acc + 8); c2.Store(acc + 16); c3.Store(acc + 24);
        c4.Store(acc + 32); c5.Store(acc + 40); c6.Store(acc + 48); c7.Store(acc + 56);
    }

    /// <summary>As <see cref="KernelScalar"/>: a separate multiply and add per step.</summary>
    private static void PanelScalar(float* x, float* w, int kc, float* acc)
    {
        for (int j = 0; j < 64; j++) acc[j] = 0f;
        for (int p = 0; p < kc; p++)
        {
            float xp = x[p];
            for (int j = 0; j < 64; j++) acc[j] += xp * w[j];
            w += 64;
        }
    }
}
