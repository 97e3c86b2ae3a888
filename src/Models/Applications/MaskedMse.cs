namespace NeuralCore.Models.Applications;

/// <summary>
/// Squared error counted only where a mask is 1: the loss of models trained on tables with missing cells,
/// where the target is unknown in some places. Composed from differentiable ops (sub, mul, pow, sum), so
/// gradients flow to the prediction and are exactly zero at masked-out cells.
/// </summary>
/// <example><code>
/// var loss = MaskedMse.Loss(reconstruction, target, observed);   // [batch, features] x 3 -> []
/// loss.Backward();
/// </code></example>
public static class MaskedMse
{
    /// <summary>
    /// sum(mask * (prediction - target)²) / max(1, sum(mask)): the mean squared error over the cells where
    /// <paramref name="mask"/> is 1. All three tensors have the same shape, e.g. [batch, features]; the mask
    /// holds 0 or 1 and needs no gradient. Result [].
    /// </summary>
    /// <param name="prediction">Model output, e.g. [batch, features].</param>
    /// <param name="target">Values to match; anything (but finite) where the mask is 0.</param>
    /// <param name="mask">1 where the target is known, 0 elsewhere.</param>
    /// <param name="maskedCount">Number of ones in <paramref name="mask"/> (the divisor); pass it when known to save a device read.</param>
    public static Tensor Loss(Tensor prediction, Tensor target, Tensor mask, int? maskedCount = null)
    {
        if (prediction.Shape != target.Shape || prediction.Shape != mask.Shape)
            throw new ArgumentException($"masked mse: prediction {prediction.Shape}, target {target.Shape} and mask {mask.Shape} must have the same shape");
        float count = maskedCount ?? CountOnes(mask);
        var error = prediction.Sub(target).Mul(mask);
        return error.Pow(2f).Sum().Mul(1f / Math.Max(1f, count));
    }

    private static float CountOnes(Tensor mask)
    {
        using var _ = Autograd.NoGrad();
        return mask.Sum().Item();
    }
}
