namespace NeuralCore.Kernels;

/// <summary>
/// The seam between the engine and the hardware: raw compute on <see cref="DeviceBuffer"/>s.
/// <para>Conventions, the same on every device:</para>
/// <list type="bullet">
/// <item>Buffers hold float32, row-major, contiguous. Shapes are passed as dimension integers.</item>
/// <item>Forward kernels OVERWRITE their output. Backward kernels ACCUMULATE (+=) into gradients.</item>
/// <item>An output may alias an input of an elementwise op at the same index (in-place is allowed);
///   MatMul and convolution outputs must not alias their inputs.</item>
/// <item>Broadcasting follows NumPy: shapes are right-aligned, a dimension of 1 stretches.</item>
/// <item>Random numbers are never generated here: the engine draws them from one seeded host generator
///   and uploads them, so every backend sees the same noise.</item>
/// </list>
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short name, e.g. "reference", "cpu", "ilgpu-cpu", "cuda".</summary>
    string Name { get; }

    // ---- memory -------------------------------------------------------------------------------

    /// <summary>A buffer of <paramref name="length"/> floats, all zero.</summary>
    DeviceBuffer Allocate(int length);

    /// <summary>
    /// A buffer of <paramref name="length"/> floats whose values are unspecified (possibly left over from an earlier
    /// use): for an output that a kernel overwrites in full, so that it skips clearing memory it is about to write.
    /// A backend that cannot skip the clearing returns <see cref="Allocate"/>'s zeros.
    /// </summary>
    DeviceBuffer AllocateUninitialized(int length) => Allocate(length);

    /// <summary>Called by <see cref="DeviceBuffer.Dispose"/>; the backend may pool the storage.</summary>
    void Release(DeviceBuffer buffer);

    /// <summary>dst[dstOffset ..] = src.</summary>
    void Upload(ReadOnlySpan<float> source, DeviceBuffer destination, int destinationOffset = 0);

    /// <summary>dst = src[srcOffset .. srcOffset + dst.Length].</summary>
    void Download(DeviceBuffer source, Span<float> destination, int sourceOffset = 0);

    /// <summary>dst[offset .. offset + length] = value.</summary>
    void Fill(DeviceBuffer destination, float value, int offset, int length);

    /// <summary>
    /// Strided block copy: for r in [0, rows): dst[dstOffset + r*dstStride + c] (+)= src[srcOffset + r*srcStride + c]
    /// for c in [0, columns). Serves copy, slice, concat and their backward passes.
    /// </summary>
    void CopyBlock(DeviceBuffer source, int sourceOffset, int sourceStride,
                   DeviceBuffer destination, int destinationOffset, int destinationStride,
                   int rows, int columns, bool accumulate);

    /// <summary>Waits for all queued work (no-op on synchronous backends).</summary>
    void Synchronize();

    /// <summary>
    /// Declares that <paramref name="buffers"/> keep their values until the result is disposed, e.g. a model's weights
    /// while the shards of a batch go forward and backward one after the other: the backend may keep work it derives
    /// from them, such as the packed copy of a matrix product's operand, and reuse it from call to call instead of
    /// redoing it. Results have the same bits either way; writing one of the buffers before the result is disposed
    /// leaves later results undefined. By default nothing is kept.
    /// </summary>
    IDisposable HoldConstant(IReadOnlyList<DeviceBuffer> buffers) => NothingHeld.Instance;

    // ---- elementwise --------------------------------------------------------------------------

    /// <summary>y[i] = op(x[i]) for i in [0, n).</summary>
    void Unary(UnaryOp op, DeviceBuffer x, DeviceBuffer y, int n, float alpha = 0f);

    /// <summary>dx[i] += dy[i] * op'(x[i]) for i in [0, n); <paramref name="y"/> = op(x) is given for ops whose
    /// derivative is cheaper from the output (exp, sigmoid, tanh, sqrt).</summary>
    void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0f);

    /// <summary>c = a op b with broadcasting; <paramref name="cShape"/> is the broadcast shape of a and b.</summary>
    void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
                DeviceBuffer c, ReadOnlySpan<int> cShape);

    /// <summary>
    /// Gradients of c = a op b: da += reduce(dc * dc/da) and db += reduce(dc * dc/db), each summed over the
    /// dimensions along which that input was broadcast. Pass null for a gradient that is not wanted.
    /// </summary>
    void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
                        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db);

    // ---- reductions ---------------------------------------------------------------------------

    /// <summary>
    /// Sum over the middle axis of x viewed as [outer, length, inner]: y[o, i] (+)= sum_r x[o, r, i].
    /// Its backward (broadcast back) is <see cref="Binary"/> Add of dy onto dx.
    /// </summary>
    void ReduceSum(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool accumulate);

    /// <summary>Fused loss: result[0] = the SUM given by <paramref name="kind"/> over n elements of a and b.</summary>
    void Loss(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int n);

    /// <summary>
    /// Loss gradient: da += scale * dLoss[0] * dL/da, db += scale * dLoss[0] * dL/db (null = not wanted).
    /// dLoss is the one-element upstream gradient of the summed loss.
    /// </summary>
    void LossBackward(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dLoss, float scale,
                      DeviceBuffer? da, DeviceBuffer? db, int n);

    // ---- matrix and layout --------------------------------------------------------------------

    /// <summary>
    /// C[m, n] (+)= alpha * op(A) op(B), op(A) is [m, k], op(B) is [k, n]. Stored A is [m, k] or, when
    /// <paramref name="transposeA"/>, [k, m]; stored B is [k, n] or, when <paramref name="transposeB"/>, [n, k].
    /// One kernel serves forward and both gradients.
    /// </summary>
    void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
                bool transposeA, bool transposeB, bool accumulate, float alpha = 1f);

    /// <summary>
    /// C[m, n] = op(A) op(B) + bias, with bias [n] added to every row, then a ReLU when <paramref name="relu"/>: exactly the
    /// numbers of <see cref="MatMul"/>, a row-broadcast <see cref="BinaryOp.Add"/> and <see cref="UnaryOp.Relu"/> in that
    /// order, which is what the default runs. A backend may apply the bias and the ReLU to each tile of C as the product
    /// finishes it, so that C is not read back from memory twice.
    /// </summary>
    void MatMulBias(DeviceBuffer a, DeviceBuffer b, DeviceBuffer bias, DeviceBuffer c, int m, int n, int k,
                    bool transposeA, bool transposeB, bool relu)
    {
        MatMul(a, b, c, m, n, k, transposeA, transposeB, accumulate: false);
        Binary(BinaryOp.Add, c, [m, n], bias, [n], c, [m, n]);
        if (relu) Unary(UnaryOp.Relu, c, c, m * n);
    }

    // ---- a batch computed in row groups ----------------------------------------------------------
    // A batch whose rows are cut into groups (gradient shards) can go forward and backward at once and still give
    // each group's sums as if the group had been computed alone: these three kernels sum over a group's rows from
    // zero, as the plain kernel does for a batch of those rows, and add the groups' sums in group order. groupStarts
    // holds the first row of every group and then the number of rows (groups may be empty).

    /// <summary>Whether the backend has <see cref="MatMulByRowGroups"/>, <see cref="SumRowsByGroups"/> and <see cref="LossByRowGroups"/>.</summary>
    bool ComputesRowGroups => false;

    /// <summary>
    /// C[m, n] = fold over the row groups g of A_gᵀ B_g, for A stored [rows, m] and B stored [rows, n]: each group's
    /// product has the bits of <see cref="MatMul"/> of that group's rows alone (transposeA, over a depth of the
    /// group's rows), and the products are added to C in group order, the first overwriting C unless
    /// <paramref name="accumulate"/>. An empty group adds zeros.
    /// </summary>
    void MatMulByRowGroups(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, ReadOnlySpan<int> groupStarts, bool accumulate)
        => throw new NotSupportedException($"{GetType().Name} does not compute row groups");

    /// <summary>
    /// y[j] = fold over the row groups of the group's column sum of x [rows, columns]: each summed from zero in row
    /// order (as the gradient of a bias is), added to y in group order, the first overwriting y unless <paramref name="accumulate"/>.
    /// </summary>
    void SumRowsByGroups(DeviceBuffer x, DeviceBuffer y, int columns, ReadOnlySpan<int> groupStarts, bool accumulate)
        => throw new NotSupportedException($"{GetType().Name} does not compute row groups");

    /// <summary>result[g] = <see cref="Loss"/> over the rows of group g of a and b, both [rows, width].</summary>
    void LossByRowGroups(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int width, ReadOnlySpan<int> groupStarts)
        => throw new NotSupportedException($"{GetType().Name} does not compute row groups");

    /// <summary>y[b, j, i] (+)= x[b, i, j] for x viewed as [batch, rows, columns].</summary>
    void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate);

    /// <summary>
    /// y (+)= x with its axes permuted: x has shape <paramref name="xShape"/> (rank at most <see cref="Broadcast.MaxRank"/>),
    /// y's dimension i is x's dimension <paramref name="axes"/>[i]. Its backward is the same kernel with the inverse
    /// permutation, accumulating.
    /// </summary>
    void Permute(DeviceBuffer x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, DeviceBuffer y, bool accumulate);

    // ---- indexing -----------------------------------------------------------------------------
    // Indices are float32 values holding integers (exact up to 2^24), so that they live in ordinary buffers on every
    // device. An index that is not an integer in [0, count) never reads or writes outside a buffer: it gives NaN
    // where a value was asked for and contributes nothing to a gradient.

    /// <summary>y[i, :] = table[indices[i], :] for i in [0, n), table [rows, width], y [n, width] (overwritten);
    /// an invalid index gives a row of NaN.</summary>
    void GatherRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int rows, int width);

    /// <summary>dTable[indices[i], :] += dy[i, :] for i in [0, n), the terms of each table row added in an order that
    /// depends on n alone, without atomics (the same bits on every run and thread count); invalid indices are skipped.
    /// The backward of <see cref="GatherRows"/>.</summary>
    void ScatterAddRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int rows, int width);

    /// <summary>y[i, :] = the sum over t in [0, taps) of table[indices[i, t], :] for i in [0, n), indices [n, taps],
    /// table [rows, width], y [n, width] (overwritten), added in increasing t; a row with an invalid index is NaN.
    /// A gather whose rows are summed in groups of <paramref name="taps"/> without the [n, taps, width] intermediate
    /// (PyTorch's <c>embedding_bag</c> in sum mode).</summary>
    void GatherSumRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int taps, int rows, int width);

    /// <summary>dTable[indices[i, t], :] += dy[i, :] for i in [0, n), t in [0, taps), each table row's terms added in
    /// increasing (i, t) without atomics (the same bits on every run and thread count); invalid indices are skipped.
    /// The backward of <see cref="GatherSumRows"/>.</summary>
    void ScatterAddSumRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int taps, int rows, int width);

    /// <summary>y[i, c] = 1 where c == indices[i], else 0, for y [n, classes] (overwritten); an invalid index gives a
    /// row of NaN.</summary>
    void OneHot(DeviceBuffer indices, DeviceBuffer y, int n, int classes);

    /// <summary>
    /// y[o, i] = the index r in [0, length) of the smallest (or, when <paramref name="max"/>, largest) x[o, r, i], as a
    /// float; the first such index on ties, and the first NaN's index where there is one (PyTorch's argmin/argmax).
    /// </summary>
    void ArgReduce(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool max);

    /// <summary>
    /// Softmax cross-entropy over the middle axis of logits viewed as [outer, classes, inner]:
    /// losses[o, i] = ln(sum_c exp(x[o, c, i] - m)) - (x[o, t, i] - m) with m the largest logit and t = targets[o, i]
    /// (overwritten). NaN where a logit is NaN or +Inf, where every logit is -Inf, or where t is invalid.
    /// </summary>
    void SoftmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer losses, int outer, int classes, int inner);

    /// <summary>dLogits[o, c, i] += dLosses[o, i] (softmax(x[o, :, i])[c] - [c == targets[o, i]]); NaN at every class
    /// of a position whose target is invalid.</summary>
    void SoftmaxCrossEntropyBackward(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer dLosses, DeviceBuffer dLogits,
        int outer, int classes, int inner);

    // ---- convolution --------------------------------------------------------------------------

    /// <summary>y = conv2d(x, w): x [N,C,H,W], w [K,C,R,S], y [N,K,OH,OW] (overwritten). No bias.</summary>
    void Conv2dForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, in ConvGeometry g);

    /// <summary>dx += conv2d_backward_data(dy, w). Also the forward pass of a transposed convolution.</summary>
    void Conv2dBackwardData(DeviceBuffer dy, DeviceBuffer w, DeviceBuffer dx, in ConvGeometry g);

    /// <summary>dw += conv2d_backward_weight(x, dy).</summary>
    void Conv2dBackwardWeight(DeviceBuffer x, DeviceBuffer dy, DeviceBuffer dw, in ConvGeometry g);

    // ---- optimisers ---------------------------------------------------------------------------

    /// <summary>
    /// One fused Adam/AdamW step over n parameters, in place on p, m and v:
    /// g' = g + wd p (Adam) ; m = b1 m + (1-b1) g' ; v = b2 v + (1-b2) g'^2 ;
    /// p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) ; AdamW additionally p -= lr wd p (decoupled).
    /// </summary>
    void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h);

    /// <summary>SGD with momentum, in place: g' = g + wd p ; vel = mu vel + g' ; p -= lr vel (PyTorch's form).</summary>
    void SgdStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer velocity, int n, float learningRate, float momentum, float weightDecay);
}

/// <summary>The scope of a <see cref="IBackend.HoldConstant"/> that keeps nothing.</summary>
internal sealed class NothingHeld : IDisposable
{
    public static readonly NothingHeld Instance = new();

    public void Dispose() { }
}
