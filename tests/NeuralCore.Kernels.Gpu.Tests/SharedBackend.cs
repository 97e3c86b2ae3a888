using NeuralCore.Kernels;

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// Forwards every call to one long-lived backend and ignores Dispose, so that a test class that builds a
/// backend per test case (the conformance suite does) does not recompile every kernel for each case.
/// Buffers still belong to the inner backend, which checks them as usual.
/// </summary>
internal sealed class SharedBackend(IBackend inner) : IBackend
{
    public IBackend Inner { get; } = inner;
    public string Name => Inner.Name;
    public DeviceBuffer Allocate(int length) => Inner.Allocate(length);
    public void Release(DeviceBuffer buffer) => Inner.Release(buffer);
    public void Upload(ReadOnlySpan<float> source, DeviceBuffer destination, int destinationOffset = 0) => Inner.Upload(source, destination, destinationOffset);
    public void Download(DeviceBuffer source, Span<float> destination, int sourceOffset = 0) => Inner.Download(source, destination, sourceOffset);
    public void Fill(DeviceBuffer destination, float value, int offset, int length) => Inner.Fill(destination, value, offset, length);
    public void CopyBlock(DeviceBuffer source, int sourceOffset, int sourceStride, DeviceBuffer destination, int destinationOffset,
        int destinationStride, int rows, int columns, bool accumulate) =>
        Inner.CopyBlock(source, sourceOffset, sourceStride, destination, destinationOffset, destinationStride, rows, columns, accumulate);
    public void Synchronize() => Inner.Synchronize();
    public void Unary(UnaryOp op, DeviceBuffer x, DeviceBuffer y, int n, float alpha = 0) => Inner.Unary(op, x, y, n, alpha);
    public void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0) =>
        Inner.UnaryBackward(op, x, y, dy, dx, n, alpha);
    public void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape, DeviceBuffer c, ReadOnlySpan<int> cShape) =>
        Inner.Binary(op, a, aShape, b, bShape, c, cShape);
    public void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db) =>
        Inner.BinaryBackward(op, a, aShape, b, bShape, dc, cShape, da, db);
    public void ReduceSum(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool accumulate) =>
        Inner.ReduceSum(x, y, outer, length, inner, accumulate);
    public void Loss(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int n) => Inner.Loss(kind, a, b, result, n);
    public void LossBackward(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dLoss, float scale, DeviceBuffer? da, DeviceBuffer? db, int n) =>
        Inner.LossBackward(kind, a, b, dLoss, scale, da, db, n);
    public void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, float alpha = 1) =>
        Inner.MatMul(a, b, c, m, n, k, transposeA, transposeB, accumulate, alpha);
    public void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate) =>
        Inner.Transpose(x, y, batch, rows, columns, accumulate);
    public void Permute(DeviceBuffer x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, DeviceBuffer y, bool accumulate) =>
        Inner.Permute(x, xShape, axes, y, accumulate);
    public void GatherRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int rows, int width) =>
        Inner.GatherRows(table, indices, y, n, rows, width);
    public void ScatterAddRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int rows, int width) =>
        Inner.ScatterAddRows(dy, indices, dTable, n, rows, width);
    public void GatherSumRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int taps, int rows, int width) =>
        Inner.GatherSumRows(table, indices, y, n, taps, rows, width);
    public void ScatterAddSumRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int taps, int rows, int width) =>
        Inner.ScatterAddSumRows(dy, indices, dTable, n, taps, rows, width);
    public void OneHot(DeviceBuffer indices, DeviceBuffer y, int n, int classes) => Inner.OneHot(indices, y, n, classes);
    public void ArgReduce(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool max) => Inner.ArgReduce(x, y, outer, length, inner, max);
    public void SoftmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer losses, int outer, int classes, int inner) =>
        Inner.SoftmaxCrossEntropy(logits, targets, losses, outer, classes, inner);
    public void SoftmaxCrossEntropyBackward(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer dLosses, DeviceBuffer dLogits,
        int outer, int classes, int inner) => Inner.SoftmaxCrossEntropyBackward(logits, targets, dLosses, dLogits, outer, classes, inner);
    public void Conv2dForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, in ConvGeometry g) => Inner.Conv2dForward(x, w, y, g);
    public void Conv2dBackwardData(DeviceBuffer dy, DeviceBuffer w, DeviceBuffer dx, in ConvGeometry g) => Inner.Conv2dBackwardData(dy, w, dx, g);
    public void Conv2dBackwardWeight(DeviceBuffer x, DeviceBuffer dy, DeviceBuffer dw, in ConvGeometry g) => Inner.Conv2dBackwardWeight(x, dy, dw, g);
    public void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h) => Inner.AdamStep(p, g, m, v, n, h);
    public void SgdStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer velocity, int n, float learningRate, float momentum, float weightDecay) =>
        Inner.SgdStep(p, g, velocity, n, learningRate, momentum, weightDecay);
    public void Dispose() { }
}
