using NeuralCore.Kernels;

namespace NeuralCore;

public static partial class TensorOps
{
    /// <summary>
    /// Matrix product op(a) · op(b): a [m, k] (or [k, m] when <paramref name="transposeA"/>),
    /// b [k, n] (or [n, k] when <paramref name="transposeB"/>); result [m, n].
    /// </summary>
    public static Tensor MatMul(this Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        SameBackend("matmul", a, b);
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2)
            throw new ArgumentException($"matmul: expected two matrices, got shapes {a.Shape} and {b.Shape}");
        int m = transposeA ? a.Shape[1] : a.Shape[0];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        int kb = transposeB ? b.Shape[1] : b.Shape[0];
        int n = transposeB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
            throw new ArgumentException($"matmul: inner dimensions differ: {a.Shape}{(transposeA ? "ᵀ" : "")} · {b.Shape}{(transposeB ? "ᵀ" : "")} ({k} vs {kb})");
        var backend = a.Backend;
        var c = NewTensor(backend, Shape.Own([m, n]));
        backend.MatMul(a.Buffer, b.Buffer, c.Buffer, m, n, k, transposeA, transposeB, accumulate: false);
        return Autograd.Record(c, "matmul", [a, b], (dc, gradOf) =>
        {
            // C = op(A) op(B):  dop(A) = dC op(B)ᵀ,  dop(B) = op(A)ᵀ dC. A product over an inner dimension of 0
            // writes nothing, so only a non-empty one may overwrite a gradient whose zero is pending.
            bool add = true;
            var da = n > 0 ? Autograd.GradientToWrite(gradOf, a, out add) : gradOf(a);
            if (da != null)
            {
                if (!transposeA) backend.MatMul(dc.Buffer, b.Buffer, da.Buffer, m, k, n, false, !transposeB, accumulate: add);
                else backend.MatMul(b.Buffer, dc.Buffer, da.Buffer, k, m, n, transposeB, true, accumulate: add);
            }
            if (transposeB && !transposeA && RowGroups.Current is { } groups && groups.HoldsRows(a.Shape) && RowGroups.IsParameter(b))
            {
                // x Wᵀ over a batch in row groups: W's gradient sums over the rows, so it is left to the groups
                groups.Defer(b, dc, (target, accumulate) => backend.MatMulByRowGroups(dc.Buffer, a.Buffer, target, n, k, groups.Starts, accumulate));
                return;
            }
            add = true;
            var db = m > 0 ? Autograd.GradientToWrite(gradOf, b, out add) : gradOf(b);
            if (db != null)
            {
                if (!transposeB) backend.MatMul(a.Buffer, dc.Buffer, db.Buffer, k, n, m, !transposeA, false, accumulate: add);
                else backend.MatMul(dc.Buffer, a.Buffer, db.Buffer, n, k, m, true, transposeA, accumulate: add);
            }
        });
    }

    /// <summary>
    /// Affine map x Wᵀ + b as in PyTorch's nn.Linear: x [batch, in], weight [out, in], bias [out] (optional);
    /// result [batch, out].
    /// </summary>
    public static Tensor Linear(this Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (x.Shape.Rank != 2 || weight.Shape.Rank != 2 || x.Shape[1] != weight.Shape[1])
            throw new ArgumentException($"linear: expected input [batch, {(weight.Shape.Rank == 2 ? weight.Shape[1] : -1)}] for weight {weight.Shape}, got {x.Shape}");
        var y = x.MatMul(weight, transposeB: true);
        return bias == null ? y : y.Add(bias);
    }
}
