using NeuralCore.Kernels;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// Ops of the prior's channels-last path that are one graph node instead of several, built on the backend's existing
/// kernels (so every backend runs them, and the kernels' own conformance cases cover them).
/// </summary>
internal static class PriorOps
{
    /// <summary>
    /// x [n, in] · Wᵀ + bias with the weight [out, in, ...] read as [out, in·...] (a 1x1 convolution's weight as it is):
    /// the numbers of <c>x.Linear(weight.Reshape(out, in), bias)</c>, the bias added in place to the product, so that
    /// neither the forward nor the backward allocates a second [n, out] tensor or copies its gradient.
    /// </summary>
    public static Tensor LinearRows(Tensor x, Tensor weight, Tensor bias)
    {
        int n = x.Shape[0], inFeatures = x.Shape.Rank == 2 ? x.Shape[1] : -1, outFeatures = weight.Shape[0];
        if (inFeatures < 0 || weight.Count != outFeatures * inFeatures || bias.Shape.Rank != 1 || bias.Shape[0] != outFeatures)
            throw new ArgumentException($"linear rows: expected x [n, in], a weight of [out, in] elements and bias [out], got {x.Shape}, {weight.Shape} and {bias.Shape}");
        var backend = x.Backend;
        var y = Tensor.Zeros(backend, n, outFeatures);
        backend.MatMul(x.Buffer, weight.Buffer, y.Buffer, n, outFeatures, inFeatures, transposeA: false, transposeB: true, accumulate: false);
        backend.Binary(BinaryOp.Add, y.Buffer, y.Shape.Dims, bias.Buffer, bias.Shape.Dims, y.Buffer, y.Shape.Dims);
        return Autograd.Record(y, "linear_rows", [x, weight, bias], (dy, gradOf) =>
        {
            var db = gradOf(bias);
            if (db != null) backend.BinaryBackward(BinaryOp.Add, dy.Buffer, dy.Shape.Dims, bias.Buffer, bias.Shape.Dims, dy.Buffer, dy.Shape.Dims, null, db.Buffer);
            var dx = gradOf(x);
            if (dx != null) backend.MatMul(dy.Buffer, weight.Buffer, dx.Buffer, n, inFeatures, outFeatures, false, false, accumulate: true);
            var dw = gradOf(weight);
            if (dw != null) backend.MatMul(dy.Buffer, x.Buffer, dw.Buffer, outFeatures, inFeatures, n, true, false, accumulate: true);
        });
    }
}
