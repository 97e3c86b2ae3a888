using NeuralCore.Kernels;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.AutogradTests;

/// <summary>The tensor-level contract of the ops a vector quantiser and a PixelCNN prior are built from: shapes,
/// which results carry gradients, what is masked, and the one-line errors. Values against PyTorch: PyTorch/.</summary>
public class IndexingOpTests
{
    private readonly IBackend _b = new ReferenceBackend();

    private Tensor Leaf(ulong seed, params int[] shape)
    {
        var t = Tensor.Uniform(_b, new SeededRandom(seed), -1f, 1f, shape);
        t.RequiresGrad = true;
        return t;
    }

    [Fact]
    public void Permute_MovesEachElementAndBack()
    {
        var x = Leaf(1, 2, 3, 4, 5);
        var y = x.Permute(0, 2, 3, 1);
        Assert.Equal(new Shape(2, 4, 5, 3), y.Shape);
        float[] xv = x.ToArray(), yv = y.ToArray();
        for (int b = 0; b < 2; b++)
        for (int d = 0; d < 3; d++)
        for (int h = 0; h < 4; h++)
        for (int w = 0; w < 5; w++)
            Assert.Equal(xv[((b * 3 + d) * 4 + h) * 5 + w], yv[((b * 4 + h) * 5 + w) * 3 + d]);
        Assert.Equal(xv, y.Permute(0, -1, 1, 2).ToArray());
        // the gradient goes back through the inverse permutation
        var weights = Tensor.Uniform(_b, new SeededRandom(2), -1f, 1f, 2, 4, 5, 3);
        y.Mul(weights).Sum().Backward();
        Assert.Equal(weights.Permute(0, 3, 1, 2).ToArray(), x.Grad!.ToArray());
    }

    [Theory]
    [InlineData(new[] { 0, 0, 1 })]
    [InlineData(new[] { 0, 1 })]
    [InlineData(new[] { 0, 1, 3 })]
    public void Permute_RejectsAxesThatAreNotAPermutation(int[] axes)
    {
        var e = Assert.Throws<ArgumentException>(() => Leaf(1, 2, 3, 4).Permute(axes));
        Assert.StartsWith("permute:", e.Message);
    }

    [Fact]
    public void Gather_PicksRows_AndAddsTheGradientOfRepeatedRows()
    {
        var table = Leaf(3, 4, 3);
        var indices = Tensor.FromArray(_b, [2f, 0f, 2f, 2f, 3f, 0f], 2, 3);
        var rows = table.Gather(indices);
        Assert.Equal(new Shape(2, 3, 3), rows.Shape);
        float[] t = table.ToArray(), r = rows.ToArray(), idx = indices.ToArray();
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < 3; c++) Assert.Equal(t[(int)idx[i] * 3 + c], r[i * 3 + c]);
        var upstream = Tensor.Uniform(_b, new SeededRandom(4), -1f, 1f, 2, 3, 3);
        rows.Backward(upstream);
        // each table row's gradient is the sum of the upstream rows that picked it; row 1 was never picked
        var expected = new double[12];
        float[] u = upstream.ToArray();
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < 3; c++) expected[(int)idx[i] * 3 + c] += u[i * 3 + c];
        var grad = table.Grad!.ToArray();
        for (int j = 0; j < 12; j++) Assert.Equal(expected[j], grad[j], 6);
        Assert.Equal([0f, 0f, 0f], grad[3..6]);
        Assert.Null(indices.Grad);
    }

    [Fact]
    public void OneHot_ArgMin_ArgMax_CarryNoGradient()
    {
        var x = Leaf(5, 3, 4);
        var codes = x.ArgMin(1);
        Assert.Equal(new Shape(3), codes.Shape);
        Assert.False(codes.RequiresGrad);
        Assert.Equal(new Shape(1, 4), x.ArgMax(0, keepDim: true).Shape);
        var onehot = codes.OneHot(4);
        Assert.Equal(new Shape(3, 4), onehot.Shape);
        Assert.False(onehot.RequiresGrad);
        // the one-hot of the argmin marks each row's smallest element
        float[] xv = x.ToArray(), oh = onehot.ToArray();
        for (int row = 0; row < 3; row++)
        {
            var r = xv[(row * 4)..(row * 4 + 4)];
            Assert.Equal(1f, oh[row * 4 + Array.IndexOf(r, r.Min())]);
            Assert.Equal(1f, oh[(row * 4)..(row * 4 + 4)].Sum());
        }
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(_b, 3, 0).ArgMin(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => codes.OneHot(0));
    }

    [Fact]
    public void CrossEntropy_ReductionsAgree_AndShapesAreChecked()
    {
        var logits = Leaf(6, 2, 5, 3, 3);
        var targets = Tensor.FromArray(_b, Enumerable.Range(0, 18).Select(i => (float)(i * 7 % 5)).ToArray(), 2, 3, 3);
        var none = logits.CrossEntropy(targets, Reduction.None);
        Assert.Equal(targets.Shape, none.Shape);
        float sum = none.ToArray().Sum();
        Assert.Equal(sum, logits.CrossEntropy(targets, Reduction.Sum).Item(), 5);
        Assert.Equal(sum / 18, logits.CrossEntropy(targets).Item(), 5);
        // the gradient of the summed loss: softmax - one-hot, so each position's gradients over the classes add to 0
        logits.CrossEntropy(targets, Reduction.Sum).Backward();
        var g = logits.Grad!.ToArray();
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 9; p++)
                Assert.Equal(0.0, Enumerable.Range(0, 5).Sum(c => (double)g[(b * 5 + c) * 9 + p]), 5);

        var e = Assert.Throws<ArgumentException>(() => logits.CrossEntropy(Tensor.Zeros(_b, 2, 3)));
        Assert.StartsWith("cross_entropy: expected logits [N, C, ...] and targets [N, ...]", e.Message);
        var m = Assert.Throws<ArgumentException>(() => logits.MseLoss(logits, Reduction.None));
        Assert.Contains("reduction None is not supported", m.Message);
    }

    [Fact]
    public void EmptyAndScalarShapes_Work()
    {
        foreach (var backend in new IBackend[] { _b, new NeuralCore.Kernels.Cpu.CpuBackend(threads: 2) })
        {
            var empty = Tensor.Zeros(backend, 0, 5, 3);
            Assert.Equal(new Shape(0, 3), empty.CrossEntropy(Tensor.Zeros(backend, 0, 3), Reduction.None).Shape);
            Assert.Equal(new Shape(3, 0, 5), empty.Permute(2, 0, 1).Shape);
            Assert.Equal(new Shape(0, 3), empty.ArgMax(1).Shape);
            Assert.Equal(new Shape(0, 2), Tensor.Zeros(backend, 4, 2).Gather(Tensor.Zeros(backend, 0)).Shape);
            Assert.Equal([7f], Tensor.Scalar(backend, 7f).Permute().ToArray());
        }
    }

    [Fact]
    public void PixelCnnMasks_MatchTheirDefinition()
    {
        Assert.Equal([1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f, 0f], TensorOps.PixelCnnMask(_b, PixelCnnMaskType.A, 3, 3).ToArray());
        Assert.Equal([1f, 1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f], TensorOps.PixelCnnMask(_b, PixelCnnMaskType.B, 3, 3).ToArray());
        Assert.Equal([0f], TensorOps.PixelCnnMask(_b, PixelCnnMaskType.A, 1, 1).ToArray());
        Assert.Equal([1f], TensorOps.PixelCnnMask(_b, PixelCnnMaskType.B, 1, 1).ToArray());
        var seven = TensorOps.PixelCnnMask(_b, PixelCnnMaskType.A, 7, 7).ToArray();
        Assert.Equal(24f, seven.Sum());   // 3 full rows above the centre and 3 taps left of it
    }

    [Fact]
    public void MaskedConv2d_IgnoresAndFreezesMaskedTaps()
    {
        var x = Leaf(7, 1, 2, 5, 5);
        var w = Leaf(8, 3, 2, 3, 3);
        var mask = TensorOps.PixelCnnMask(_b, PixelCnnMaskType.A, 3, 3);
        var y = x.MaskedConv2d(w, mask, padding: 1);
        y.Sum().Backward();
        float[] m = mask.ToArray(), dw = w.Grad!.ToArray();
        for (int i = 0; i < dw.Length; i++)
            if (m[i % 9] == 0f) Assert.Equal(0f, dw[i]);
        Assert.Contains(dw, v => v != 0f);
        // changing a masked tap changes nothing
        var changed = w.ToArray();
        changed[4] += 100f;   // the centre of the first kernel, masked by A
        var w2 = Tensor.FromArray(_b, changed, 3, 2, 3, 3);
        Assert.Equal(y.ToArray(), x.MaskedConv2d(w2, mask, padding: 1).ToArray());
        Assert.Throws<ArgumentException>(() => x.MaskedConv2d(w, TensorOps.PixelCnnMask(_b, PixelCnnMaskType.B, 5, 5)));
    }

    [Fact]
    public void PixelCnn_OutputDependsOnlyOnEarlierPixels()
    {
        // one mask-A layer then a mask-B layer: output (r, c) must not change when pixel (r, c) or any later one does
        var w1 = Leaf(9, 4, 1, 3, 3);
        var w2 = Leaf(10, 1, 4, 3, 3);
        var maskA = TensorOps.PixelCnnMask(_b, PixelCnnMaskType.A, 3, 3);
        var maskB = TensorOps.PixelCnnMask(_b, PixelCnnMaskType.B, 3, 3);
        Tensor Net(Tensor image) => image.MaskedConv2d(w1, maskA, padding: 1).Relu().MaskedConv2d(w2, maskB, padding: 1);
        var image = Tensor.Uniform(_b, new SeededRandom(11), 0f, 1f, 1, 1, 5, 5);
        float[] before = Net(image).ToArray(), pixels = image.ToArray();
        for (int p = 0; p < 25; p++)
        {
            var changed = (float[])pixels.Clone();
            changed[p] += 1f;
            var after = Net(Tensor.FromArray(_b, changed, 1, 1, 5, 5)).ToArray();
            for (int q = 0; q <= p; q++) Assert.Equal(before[q], after[q]);
        }
    }
}
