using NeuralCore.Kernels;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// Ops of the prior's channels-last path that are one graph node instead of several, built on the backend's existing
/// kernels (so every backend runs them, and the kernels' own conformance cases cover them).
/// </summary>
internal static class PriorOps
{
    /// <summary>
    /// x [n, ...] (read as [n, in]) · Wᵀ + bias with the weight [out, ...] read as [out, in] (a 1x1 convolution's
    /// weight, or gathered patches [n, taps, channels], as they are): the numbers of
    /// <c>x.Reshape(n, in).Linear(weight.Reshape(out, in), bias)</c>, followed by a ReLU when <paramref name="relu"/>.
    /// The bias (and the ReLU) are applied to the product as it is written (<see cref="IBackend.MatMulBias"/>), so neither
    /// allocates a second [n, out] tensor or copies its gradient; the ReLU's derivative is read from its output
    /// (positive exactly where its input is).
    /// </summary>
    /// <param name="x">The rows, [n, ...].</param>
    /// <param name="weight">[out, ...], out·in elements.</param>
    /// <param name="bias">[out].</param>
    /// <param name="relu">Whether a ReLU follows.</param>
    /// <param name="zeroRow">Whether the result has one more row, of zeros, after the n rows ([n + 1, out]): the table
    /// of a gather whose indices point past the rows for a zero (a masked convolution's taps off the grid), without
    /// copying the rows into a larger tensor. The extra row is a constant: no gradient flows from it.</param>
    public static Tensor LinearRows(Tensor x, Tensor weight, Tensor bias, bool relu = false, bool zeroRow = false)
    {
        int n = x.Shape.Rank >= 1 ? x.Shape[0] : 0, outFeatures = weight.Shape.Rank >= 1 ? weight.Shape[0] : 0;
        int inFeatures = n > 0 ? x.Count / n : 0;
        if (n == 0 || outFeatures == 0 || weight.Count != outFeatures * inFeatures || bias.Shape.Rank != 1 || bias.Shape[0] != outFeatures)
            throw new ArgumentException($"linear rows: expected x [n, in...], a weight [out, ...] of out·in elements and bias [out], got {x.Shape}, {weight.Shape} and {bias.Shape}");
        var backend = x.Backend;
        var y = Tensor.Empty(backend, zeroRow ? n + 1 : n, outFeatures);   // the product (and the fill) overwrite it
        int count = n * outFeatures;
        int[] rowsShape = [n, outFeatures];
        backend.MatMulBias(x.Buffer, weight.Buffer, bias.Buffer, y.Buffer, n, outFeatures, inFeatures, transposeA: false, transposeB: true, relu);
        if (zeroRow) backend.Fill(y.Buffer, 0f, count, outFeatures);
        return Autograd.Record(y, relu ? "linear_rows_relu" : "linear_rows", [x, weight, bias], (dy, gradOf) =>
        {
            var dz = dy;
            if (relu)
            {
                dz = Tensor.Zeros(backend, n, outFeatures);
                backend.UnaryBackward(UnaryOp.Relu, y.Buffer, y.Buffer, dy.Buffer, dz.Buffer, count);
            }
            var db = gradOf(bias);
            if (db != null) backend.BinaryBackward(BinaryOp.Add, dz.Buffer, rowsShape, bias.Buffer, bias.Shape.Dims, dz.Buffer, rowsShape, null, db.Buffer);
            // both products write every element of their gradient (their depths are not 0), so a gradient not yet
            // written is overwritten instead of cleared and added to
            var dx = Autograd.GradientToWrite(gradOf, x, out bool addX);
            if (dx != null) backend.MatMul(dz.Buffer, weight.Buffer, dx.Buffer, n, inFeatures, outFeatures, false, false, accumulate: addX);
            var dw = Autograd.GradientToWrite(gradOf, weight, out bool addW);
            if (dw != null) backend.MatMul(dz.Buffer, x.Buffer, dw.Buffer, outFeatures, inFeatures, n, true, false, accumulate: addW);
            if (relu) dz.Dispose();
        });
    }

    /// <summary>
    /// The first layer's gather table [in·taps + 2, out] of a convolution weight [out, in, s, s] and its bias [out]: row
    /// code·s·s + tap holds that tap's weights for that input channel (the weight read as [out, in·s·s] and
    /// transposed), then a zero row (for taps off the grid) and the bias. The numbers of
    /// <c>Concat([weight.Reshape(out, in·s·s).Transpose(), zeros(1, out), bias.Reshape(1, out)], 0)</c>, written in
    /// place: no transposed copy to copy again, in either direction.
    /// </summary>
    public static Tensor GatherTable(Tensor weight, Tensor bias)
    {
        int outFeatures = weight.Shape.Rank == 4 ? weight.Shape[0] : 0, rows = outFeatures > 0 ? weight.Count / outFeatures : 0;
        if (outFeatures == 0 || rows == 0 || bias.Shape.Rank != 1 || bias.Shape[0] != outFeatures)
            throw new ArgumentException($"gather table: expected a weight [out, in, s, s] and bias [out], got {weight.Shape} and {bias.Shape}");
        var backend = weight.Backend;
        var table = Tensor.Empty(backend, rows + 2, outFeatures);
        int zeroRow = rows * outFeatures;
        backend.Transpose(weight.Buffer, table.Buffer, 1, outFeatures, rows, accumulate: false);
        backend.Fill(table.Buffer, 0f, zeroRow, outFeatures);
        backend.CopyBlock(bias.Buffer, 0, outFeatures, table.Buffer, zeroRow + outFeatures, outFeatures, 1, outFeatures, accumulate: false);
        return Autograd.Record(table, "gather_table", [weight, bias], (dTable, gradOf) =>
        {
            // the transpose writes every element of the weight's gradient, so one not yet written is overwritten
            var dw = Autograd.GradientToWrite(gradOf, weight, out bool addW);
            if (dw != null) backend.Transpose(dTable.Buffer, dw.Buffer, 1, rows, outFeatures, accumulate: addW);
            var db = gradOf(bias);
            if (db != null) backend.CopyBlock(dTable.Buffer, zeroRow + outFeatures, outFeatures, db.Buffer, 0, outFeatures, 1, outFeatures, accumulate: true);
        });
    }
}
