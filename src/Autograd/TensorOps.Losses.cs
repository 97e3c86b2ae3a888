using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>How a loss reduces its per-element terms.</summary>
public enum Reduction
{
    /// <summary>Sum over all elements.</summary>
    Sum,
    /// <summary>Mean over all elements (PyTorch's default).</summary>
    Mean,
    /// <summary>No reduction: one loss per element (or per position, for <see cref="TensorOps.CrossEntropy"/>). Only the
    /// losses that say so accept it.</summary>
    None,
}

public static partial class TensorOps
{
    /// <summary>Mean (or summed) squared error between prediction and target of the same shape. Result [].</summary>
    public static Tensor MseLoss(this Tensor prediction, Tensor target, Reduction reduction = Reduction.Mean) =>
        FusedLoss(LossKind.SquaredError, "mse_loss", prediction, target, reduction);

    /// <summary>Binary cross-entropy of probabilities in [0, 1] against targets in [0, 1]; logs clamped at -100 like PyTorch. Result [].</summary>
    public static Tensor BinaryCrossEntropy(this Tensor probabilities, Tensor target, Reduction reduction = Reduction.Mean) =>
        FusedLoss(LossKind.BinaryCrossEntropy, "bce_loss", probabilities, target, reduction);

    /// <summary>Binary cross-entropy on logits (sigmoid folded in, stable for any logit). Result [].</summary>
    public static Tensor BinaryCrossEntropyWithLogits(this Tensor logits, Tensor target, Reduction reduction = Reduction.Mean) =>
        FusedLoss(LossKind.BinaryCrossEntropyWithLogits, "bce_with_logits_loss", logits, target, reduction);

    /// <summary>
    /// KL(N(mu, exp(logVar)) || N(0, I)) = -0.5 Σ (1 + logVar - mu² - exp(logVar)), summed by default
    /// (the VAE's regulariser). mu and logVar: [batch, latent]. Result [].
    /// </summary>
    public static Tensor GaussianKlDivergence(Tensor mu, Tensor logVar, Reduction reduction = Reduction.Sum) =>
        FusedLoss(LossKind.GaussianKl, "gaussian_kl", mu, logVar, reduction);

    private static Tensor FusedLoss(LossKind kind, string name, Tensor a, Tensor b, Reduction reduction)
    {
        SameBackend(name, a, b);
        if (a.Shape != b.Shape) throw new ArgumentException($"{name}: shapes differ: {a.Shape} and {b.Shape}");
        if (reduction is not (Reduction.Sum or Reduction.Mean))
            throw new ArgumentException($"{name}: reduction {reduction} is not supported; use Sum or Mean", nameof(reduction));
        var backend = a.Backend;
        int n = a.Count;
        if (reduction == Reduction.Sum && RowGroups.Current is { } groups && groups.HoldsRows(a.Shape)) return GroupedLoss(kind, name, a, b, groups);
        float scale = reduction == Reduction.Mean ? 1f / Math.Max(1, n) : 1f;
        var loss = NewTensor(backend, Shape.Scalar);
        backend.Loss(kind, a.Buffer, b.Buffer, loss.Buffer, n);
        if (scale != 1f) backend.Unary(UnaryOp.Scale, loss.Buffer, loss.Buffer, 1, scale);
        return Autograd.Record(loss, name, [a, b], (dl, gradOf) =>
            backend.LossBackward(kind, a.Buffer, b.Buffer, dl.Buffer, scale, gradOf(a)?.Buffer, gradOf(b)?.Buffer, n));
    }

    // A summed loss of a batch in row groups: one sum per group, each that of the group's rows alone. Its gradient is
    // elementwise; every group's upstream gradient must be the same (a loss summed or scaled as a whole).
    private static Tensor GroupedLoss(LossKind kind, string name, Tensor a, Tensor b, RowGroups groups)
    {
        var backend = a.Backend;
        int n = a.Count;
        var loss = NewTensor(backend, Shape.Own([groups.Count]));
        backend.LossByRowGroups(kind, a.Buffer, b.Buffer, loss.Buffer, n / groups.Rows, groups.Starts);
        return Autograd.Record(loss, name, [a, b], (dl, gradOf) =>
        {
            var upstream = dl.ToArray();
            if (upstream.Any(u => BitConverter.SingleToInt32Bits(u) != BitConverter.SingleToInt32Bits(upstream[0])))
                throw new NotSupportedException($"{name} in row groups: the groups' losses have different upstream gradients");
            backend.LossBackward(kind, a.Buffer, b.Buffer, dl.Buffer, 1f, gradOf(a)?.Buffer, gradOf(b)?.Buffer, n);
        });
    }
}
