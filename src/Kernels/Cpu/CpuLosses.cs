using System.Numerics.Tensors;

namespace NeuralCore.Kernels.Cpu;

/// <summary>Fused, vectorised losses (sums over all elements) and their gradients.</summary>
internal static class CpuLosses
{
    public static float Forward(LossKind kind, ReadOnlySpan<float> a, ReadOnlySpan<float> b, BufferPool pool)
    {
        int n = a.Length;
        float[] s1 = pool.Rent(n, false), s2 = pool.Rent(n, false);
        Span<float> t1 = s1.AsSpan(0, n), t2 = s2.AsSpan(0, n);
        try
        {
            switch (kind)
            {
                case LossKind.SquaredError:
                    TensorPrimitives.Subtract(a, b, t1);
                    return TensorPrimitives.SumOfSquares<float>(t1);
                case LossKind.BinaryCrossEntropy:
                    // -(b ln a + (1-b) ln(1-a)) = -(t2 + b (t1 - t2)), logs clamped at -100 like PyTorch
                    TensorPrimitives.Log(a, t1);
                    TensorPrimitives.Max(t1, -100f, t1);
                    TensorPrimitives.Subtract(1f, a, t2);
                    TensorPrimitives.Log(t2, t2);
                    TensorPrimitives.Max(t2, -100f, t2);
                    TensorPrimitives.Subtract(t1, t2, t1);
                    return -(TensorPrimitives.Sum<float>(t2) + TensorPrimitives.Dot(b, t1));
                case LossKind.BinaryCrossEntropyWithLogits:
                    // max(a, 0) - a b + ln(1 + exp(-|a|))
                    TensorPrimitives.Abs(a, t1);
                    TensorPrimitives.Negate(t1, t1);
                    TensorPrimitives.Exp(t1, t1);
                    TensorPrimitives.Add(t1, 1f, t1);
                    TensorPrimitives.Log(t1, t1);
                    TensorPrimitives.Max(a, 0f, t2);
                    return TensorPrimitives.Sum<float>(t1) + TensorPrimitives.Sum<float>(t2) - TensorPrimitives.Dot(a, b);
                case LossKind.GaussianKl:
                    // -0.5 sum(1 + b - a^2 - exp(b))
                    TensorPrimitives.Exp(b, t1);
                    return -0.5f * (n + TensorPrimitives.Sum(b) - TensorPrimitives.SumOfSquares(a) - TensorPrimitives.Sum<float>(t1));
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
            }
        }
        finally
        {
            pool.Return(s1);
            pool.Return(s2);
        }
    }

    /// <summary>da += g dL/da, db += g dL/db (an empty span means "not wanted").</summary>
    public static void Backward(LossKind kind, ReadOnlySpan<float> a, ReadOnlySpan<float> b, float g,
        Span<float> da, Span<float> db, BufferPool pool)
    {
        int n = a.Length;
        float[] s1 = pool.Rent(n, false), s2 = pool.Rent(n, false);
        Span<float> t1 = s1.AsSpan(0, n), t2 = s2.AsSpan(0, n);
        try
        {
            switch (kind)
            {
                case LossKind.SquaredError:
                    TensorPrimitives.Subtract(a, b, t1);
                    if (!da.IsEmpty) TensorPrimitives.MultiplyAdd(t1, 2f * g, da, da);
                    if (!db.IsEmpty) TensorPrimitives.MultiplyAdd(t1, -2f * g, db, db);
                    break;
                case LossKind.BinaryCrossEntropy:
                    if (!da.IsEmpty)
                    {
                        // g (a - b) / max(a (1 - a), 1e-12)
                        TensorPrimitives.Subtract(1f, a, t1);
                        TensorPrimitives.Multiply(t1, a, t1);
                        TensorPrimitives.Max(t1, 1e-12f, t1);
                        TensorPrimitives.Subtract(a, b, t2);
                        TensorPrimitives.Divide(t2, t1, t2);
                        TensorPrimitives.MultiplyAdd(t2, g, da, da);
                    }
                    if (!db.IsEmpty)
                    {
                        // -g (ln a - ln(1 - a)), logs clamped
                        TensorPrimitives.Log(a, t1);
                        TensorPrimitives.Max(t1, -100f, t1);
                        TensorPrimitives.Subtract(1f, a, t2);
                        TensorPrimitives.Log(t2, t2);
                        TensorPrimitives.Max(t2, -100f, t2);
                        TensorPrimitives.Subtract(t1, t2, t1);
                        TensorPrimitives.MultiplyAdd(t1, -g, db, db);
                    }
                    break;
                case LossKind.BinaryCrossEntropyWithLogits:
                    if (!da.IsEmpty)
                    {
                        TensorPrimitives.Sigmoid(a, t1);
                        TensorPrimitives.Subtract(t1, b, t1);
                        TensorPrimitives.MultiplyAdd(t1, g, da, da);
                    }
                    if (!db.IsEmpty) TensorPrimitives.MultiplyAdd(a, -g, db, db);
                    break;
                case LossKind.GaussianKl:
                    if (!da.IsEmpty) TensorPrimitives.MultiplyAdd(a, g, da, da);
                    if (!db.IsEmpty)
                    {
                        // -0.5 g (1 - exp(b)) = 0.5 g (exp(b) - 1)
                        TensorPrimitives.Exp(b, t1);
                        TensorPrimitives.Subtract(t1, 1f, t1);
                        TensorPrimitives.MultiplyAdd(t1, 0.5f * g, db, db);
                    }
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
            }
        }
        finally
        {
            pool.Return(s1);
            pool.Return(s2);
        }
    }
}
