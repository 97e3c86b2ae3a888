using NeuralCore.Kernels;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Kernels.Tests.Conformance;

/// <summary>
/// The one conformance suite every <see cref="IBackend"/> runs: each op on random data, compared against
/// <see cref="ReferenceBackend"/> (naive loops, double accumulation). A backend joins by subclassing and
/// supplying <see cref="CreateBackend"/>. Shapes include 1, 7, 33, 257 and broadcasting cases.
/// Tolerance: |candidate - reference| &lt;= Tolerance.Absolute + Tolerance.Relative * |reference| (per op below).
/// </summary>
public abstract class BackendConformanceTests : IDisposable
{
    private readonly IBackend _reference = new ReferenceBackend();
    private readonly IBackend _candidate;
    private readonly Random _random = new(1234);

    protected BackendConformanceTests() => _candidate = CreateBackend();

    /// <summary>The backend under test.</summary>
    protected abstract IBackend CreateBackend();

    /// <summary>Scale for shapes; emulated GPU backends override with smaller sizes.</summary>
    protected virtual int[] Sizes => [1, 7, 33, 257];

    /// <summary>
    /// Most multiply-adds one convolution case may cost on this backend. Emulated GPU backends (ILGPU's CPU
    /// accelerator runs every GPU thread as managed code) lower it: a bigger case then runs with its batch cut
    /// to fit, every other dimension unchanged, so the geometry is still covered.
    /// </summary>
    protected virtual long MaxConvMultiplyAdds => long.MaxValue;

    public void Dispose()
    {
        _candidate.Dispose();
        _reference.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- plumbing -------------------------------------------------------------------------------

    private float[] RandomArray(int n, float low = -1f, float high = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = low + (high - low) * (float)_random.NextDouble();
        return a;
    }

    /// <summary>The same data uploaded to both backends.</summary>
    private (DeviceBuffer Ref, DeviceBuffer Cand) Pair(float[] data)
    {
        var r = _reference.Allocate(data.Length);
        var c = _candidate.Allocate(data.Length);
        _reference.Upload(data, r);
        _candidate.Upload(data, c);
        return (r, c);
    }

    private static float[] Read(IBackend backend, DeviceBuffer b)
    {
        backend.Synchronize();
        var a = new float[b.Length];
        backend.Download(b, a);
        return a;
    }

    private void AssertClose(string what, (DeviceBuffer Ref, DeviceBuffer Cand) pair, double absolute = 1e-5, double relative = 1e-4)
        => AssertArraysClose(what, Read(_reference, pair.Ref), Read(_candidate, pair.Cand), absolute, relative);

    internal static void AssertArraysClose(string what, float[] expected, float[] actual, double absolute, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        var bad = new List<string>();
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool ok = (double.IsNaN(e) && double.IsNaN(a)) || e == a || Math.Abs(e - a) <= absolute + relative * Math.Abs(e);
            if (!ok && bad.Count < 5) bad.Add($"[{i}] expected {e:G9} got {a:G9}");
            if (!ok && bad.Count >= 5) break;
        }
        Assert.True(bad.Count == 0, $"{what}: first mismatches: {string.Join("; ", bad)}");
    }

    // ---- memory -------------------------------------------------------------------------------

    [Fact]
    public void AllocateGivesZeros_UploadDownloadRoundTrip_Fill()
    {
        foreach (int n in Sizes)
        {
            var b = _candidate.Allocate(n);
            Assert.All(Read(_candidate, b), v => Assert.Equal(0f, v));
            var data = RandomArray(n);
            _candidate.Upload(data, b);
            Assert.Equal(data, Read(_candidate, b));
            _candidate.Fill(b, 2.5f, n / 2, n - n / 2);
            var back = Read(_candidate, b);
            for (int i = 0; i < n; i++) Assert.Equal(i < n / 2 ? data[i] : 2.5f, back[i]);
            b.Dispose();
            var again = _candidate.Allocate(n);   // pooled memory must come back zeroed
            Assert.All(Read(_candidate, again), v => Assert.Equal(0f, v));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CopyBlock_Strided(bool accumulate)
    {
        foreach (int cols in Sizes)
        {
            int rows = 3, srcStride = cols + 2, dstStride = cols + 5;
            var src = Pair(RandomArray(rows * srcStride + 1));
            var dst = Pair(RandomArray(rows * dstStride + 4));
            _reference.CopyBlock(src.Ref, 1, srcStride, dst.Ref, 4, dstStride, rows, cols, accumulate);
            _candidate.CopyBlock(src.Cand, 1, srcStride, dst.Cand, 4, dstStride, rows, cols, accumulate);
            AssertClose($"copy {rows}x{cols} acc={accumulate}", dst);
        }
    }

    // ---- elementwise --------------------------------------------------------------------------

    /// <summary>Every <see cref="UnaryOp"/> (a new op joins by itself), plus more parameters for the ops that take one.</summary>
    public static TheoryData<UnaryOp, float> UnaryCases
    {
        get
        {
            var cases = new TheoryData<UnaryOp, float>();
            foreach (var op in Enum.GetValues<UnaryOp>()) cases.Add(op, DefaultAlpha(op));
            cases.Add(UnaryOp.LeakyRelu, 1.5f);
            cases.Add(UnaryOp.Pow, 1.5f);
            cases.Add(UnaryOp.Pow, -0.5f);
            return cases;
        }
    }

    private static float DefaultAlpha(UnaryOp op) => op switch
    {
        UnaryOp.LeakyRelu => 0.1f, UnaryOp.Pow => 2f, UnaryOp.Scale => -3f, UnaryOp.AddScalar => 0.25f, _ => 0f,
    };

    private static bool NeedsPositive(UnaryOp op, float alpha) =>
        op is UnaryOp.Log or UnaryOp.Sqrt || (op == UnaryOp.Pow && alpha != MathF.Round(alpha));

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary_ForwardAndBackward(UnaryOp op, float alpha)
    {
        foreach (int n in Sizes)
        {
            bool positive = NeedsPositive(op, alpha);
            var x = Pair(RandomArray(n, positive ? 0.1f : -4f, 4f));
            var y = Pair(new float[n]);
            _reference.Unary(op, x.Ref, y.Ref, n, alpha);
            _candidate.Unary(op, x.Cand, y.Cand, n, alpha);
            AssertClose($"{op}({alpha}) forward n={n}", y, 1e-5, 1e-5);

            var dy = Pair(RandomArray(n));
            var dx = Pair(RandomArray(n));   // backward accumulates into existing values
            _reference.UnaryBackward(op, x.Ref, y.Ref, dy.Ref, dx.Ref, n, alpha);
            _candidate.UnaryBackward(op, x.Cand, y.Cand, dy.Cand, dx.Cand, n, alpha);
            AssertClose($"{op}({alpha}) backward n={n}", dx, 1e-5, 1e-4);
        }
    }

    [Fact]
    public void Softplus_IsStableForLargeInputs()
    {
        var x = Pair([-200f, -30f, 0f, 30f, 200f]);
        var y = Pair(new float[5]);
        _candidate.Unary(UnaryOp.Softplus, x.Cand, y.Cand, 5);
        var v = Read(_candidate, y.Cand);
        Assert.All(v, f => Assert.True(float.IsFinite(f)));
        Assert.Equal(200f, v[4], 3);
        Assert.Equal(MathF.Log(2f), v[2], 5);
    }

    /// <summary>Broadcasting cases: (a shape, b shape).</summary>
    public static TheoryData<int[], int[]> BroadcastCases => new()
    {
        { [33], [33] },
        { [7, 33], [7, 33] },
        { [7, 33], [33] },          // bias add
        { [7, 33], [7, 1] },        // per-row scale
        { [1, 33], [7, 1] },        // outer product shape
        { [257], [1] },             // scalar
        { [1], [7, 257] },
        { [3, 4, 5, 7], [4, 1, 1] },   // per-channel bias on NCHW
        { [3, 1, 5, 1], [1, 4, 1, 7] },
        { [2, 3, 1], [3, 7] },
    };

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void Binary_ForwardAndBackward_WithBroadcasting(int[] aShape, int[] bShape)
    {
        var cShape = Broadcast.ResultShape(aShape, bShape);
        int na = Broadcast.Count(aShape), nb = Broadcast.Count(bShape), nc = Broadcast.Count(cShape);
        foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
        {
            var a = Pair(RandomArray(na, 0.5f, 2f));
            var b = Pair(RandomArray(nb, 0.5f, 2f));   // away from zero for Div
            var c = Pair(new float[nc]);
            _reference.Binary(op, a.Ref, aShape, b.Ref, bShape, c.Ref, cShape);
            _candidate.Binary(op, a.Cand, aShape, b.Cand, bShape, c.Cand, cShape);
            string label = $"{op} {Broadcast.Format(aShape)} {Broadcast.Format(bShape)}";
            AssertClose(label + " forward", c);

            var dc = Pair(RandomArray(nc));
            var da = Pair(RandomArray(na));
            var db = Pair(RandomArray(nb));
            _reference.BinaryBackward(op, a.Ref, aShape, b.Ref, bShape, dc.Ref, cShape, da.Ref, db.Ref);
            _candidate.BinaryBackward(op, a.Cand, aShape, b.Cand, bShape, dc.Cand, cShape, da.Cand, db.Cand);
            AssertClose(label + " backward a", da, 1e-4, 1e-4);
            AssertClose(label + " backward b", db, 1e-4, 1e-4);

            // one gradient only (null for the other) must also work
            var da2 = Pair(new float[na]);
            _reference.BinaryBackward(op, a.Ref, aShape, b.Ref, bShape, dc.Ref, cShape, da2.Ref, null);
            _candidate.BinaryBackward(op, a.Cand, aShape, b.Cand, bShape, dc.Cand, cShape, da2.Cand, null);
            AssertClose(label + " backward a only", da2, 1e-4, 1e-4);
        }
    }

    [Fact]
    public void Binary_InPlaceOutput()
    {
        int[] shape = [7, 33];
        var a = Pair(RandomArray(231));
        var b = Pair(RandomArray(33));
        _reference.Binary(BinaryOp.Add, a.Ref, shape, b.Ref, [33], a.Ref, shape);
        _candidate.Binary(BinaryOp.Add, a.Cand, shape, b.Cand, [33], a.Cand, shape);
        AssertClose("in-place add", a);
    }

    // ---- reductions ---------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 257, 1)]
    [InlineData(7, 33, 1)]
    [InlineData(1, 7, 33)]
    [InlineData(3, 7, 5)]
    [InlineData(257, 1, 7)]
    public void ReduceSum_OverMiddleAxis(int outer, int length, int inner)
    {
        foreach (bool accumulate in new[] { false, true })
        {
            var x = Pair(RandomArray(outer * length * inner));
            var y = Pair(RandomArray(outer * inner));
            _reference.ReduceSum(x.Ref, y.Ref, outer, length, inner, accumulate);
            _candidate.ReduceSum(x.Cand, y.Cand, outer, length, inner, accumulate);
            AssertClose($"sum [{outer},{length},{inner}] acc={accumulate}", y, 1e-4, 1e-4);
        }
    }

    public static TheoryData<LossKind> LossCases => [.. Enum.GetValues<LossKind>()];

    [Theory]
    [MemberData(nameof(LossCases))]
    public void Losses_ForwardAndBackward(LossKind kind)
    {
        foreach (int n in Sizes)
        {
            bool probabilities = kind == LossKind.BinaryCrossEntropy;
            var a = Pair(RandomArray(n, probabilities ? 0.01f : -3f, probabilities ? 0.99f : 3f));
            var b = Pair(RandomArray(n, probabilities || kind == LossKind.BinaryCrossEntropyWithLogits ? 0f : -2f, 1f));
            var result = Pair(new float[1]);
            _reference.Loss(kind, a.Ref, b.Ref, result.Ref, n);
            _candidate.Loss(kind, a.Cand, b.Cand, result.Cand, n);
            AssertClose($"{kind} n={n}", result, 1e-4, 1e-4);

            var dl = Pair([0.7f]);
            var da = Pair(RandomArray(n));
            var db = Pair(RandomArray(n));
            _reference.LossBackward(kind, a.Ref, b.Ref, dl.Ref, 0.5f, da.Ref, db.Ref, n);
            _candidate.LossBackward(kind, a.Cand, b.Cand, dl.Cand, 0.5f, da.Cand, db.Cand, n);
            AssertClose($"{kind} backward a n={n}", da, 1e-4, 1e-4);
            AssertClose($"{kind} backward b n={n}", db, 1e-4, 1e-4);
        }
    }

    [Fact]
    public void BinaryCrossEntropy_ClampsLogsLikePyTorch()
    {
        var a = Pair([0f, 1f, 0.5f]);
        var b = Pair([1f, 0f, 1f]);
        var result = Pair(new float[1]);
        _candidate.Loss(LossKind.BinaryCrossEntropy, a.Cand, b.Cand, result.Cand, 3);
        Assert.Equal(200f + MathF.Log(2f), Read(_candidate, result.Cand)[0], 3);
    }

    // ---- matrix and layout --------------------------------------------------------------------

    public static TheoryData<int, int, int> MatMulShapes => new()
    {
        { 1, 1, 1 }, { 7, 33, 1 }, { 1, 7, 33 }, { 33, 7, 257 }, { 257, 33, 7 }, { 64, 64, 64 }, { 65, 31, 129 },
    };

    [Theory]
    [MemberData(nameof(MatMulShapes))]
    public void MatMul_AllTransposeVariants(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (bool acc in new[] { false, true })
        {
            var a = Pair(RandomArray(m * k));
            var b = Pair(RandomArray(k * n));
            var c = Pair(RandomArray(m * n));
            float alpha = acc ? 0.5f : 1f;
            _reference.MatMul(a.Ref, b.Ref, c.Ref, m, n, k, ta, tb, acc, alpha);
            _candidate.MatMul(a.Cand, b.Cand, c.Cand, m, n, k, ta, tb, acc, alpha);
            AssertClose($"matmul m={m} n={n} k={k} ta={ta} tb={tb} acc={acc}", c, 1e-4 * Math.Sqrt(k), 1e-4);
        }
    }

    [Theory]
    [MemberData(nameof(MatMulShapes))]
    public void MatMulBias_AddsTheBiasThenTheRelu(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
        foreach (bool relu in new[] { false, true })
        {
            var a = Pair(RandomArray(m * k));
            var b = Pair(RandomArray(k * n));
            var bias = Pair(RandomArray(n));
            var c = Pair(RandomArray(m * n));   // overwritten
            _reference.MatMulBias(a.Ref, b.Ref, bias.Ref, c.Ref, m, n, k, ta, transposeB: true, relu);
            _candidate.MatMulBias(a.Cand, b.Cand, bias.Cand, c.Cand, m, n, k, ta, transposeB: true, relu);
            AssertClose($"matmul+bias m={m} n={n} k={k} ta={ta} relu={relu}", c, 1e-4 * Math.Sqrt(k), 1e-4);
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 7, 33)]
    [InlineData(3, 33, 7)]
    [InlineData(2, 257, 33)]
    [InlineData(3, 100, 230)]   // large enough for the CPU to share bands among its threads
    public void Transpose_Batched(int batch, int rows, int cols)
    {
        foreach (bool acc in new[] { false, true })
        {
            var x = Pair(RandomArray(batch * rows * cols));
            var y = Pair(RandomArray(batch * rows * cols));
            _reference.Transpose(x.Ref, y.Ref, batch, rows, cols, acc);
            _candidate.Transpose(x.Cand, y.Cand, batch, rows, cols, acc);
            AssertClose($"transpose {batch}x{rows}x{cols}", y);
        }
    }

    // ---- convolution --------------------------------------------------------------------------

    public static TheoryData<ConvGeometry> ConvCases => new()
    {
        new ConvGeometry(2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1),
        new ConvGeometry(2, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1),     // conv AE, first layer
        new ConvGeometry(3, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1),    // conv AE, second layer
        new ConvGeometry(1, 2, 9, 6, 3, 2, 3, 1, 2, 0, 1),        // non-square everything
        new ConvGeometry(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
        new ConvGeometry(2, 5, 8, 8, 7, 5, 5, 3, 3, 2, 2),
        new ConvGeometry(128, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1),  // full conv-AE batch: exercises the parallel paths
        new ConvGeometry(128, 16, 14, 14, 1, 3, 3, 1, 1, 1, 1),
        new ConvGeometry(4, 1, 28, 28, 32, 3, 3, 2, 2, 1, 1),     // VQ-VAE, first layer: 9 taps, two vectors of output channels
        new ConvGeometry(2, 64, 14, 14, 16, 3, 3, 2, 2, 1, 1),    // VQ-VAE decoder: depth 576, more than one GEMM depth block
        new ConvGeometry(2, 32, 28, 28, 1, 3, 3, 1, 1, 1, 1),     // VQ-VAE, last layer: output rows of 28, depth 288
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2d_ForwardBackwardDataBackwardWeight(ConvGeometry g)
    {
        long work = (long)g.OutputSize * g.InChannels * g.KernelHeight * g.KernelWidth;
        if (work > MaxConvMultiplyAdds) g = g with { Batch = (int)Math.Max(1, g.Batch * MaxConvMultiplyAdds / work) };
        var x = Pair(RandomArray(g.InputSize));
        var w = Pair(RandomArray(g.WeightSize));
        var y = Pair(RandomArray(g.OutputSize));
        _reference.Conv2dForward(x.Ref, w.Ref, y.Ref, g);
        _candidate.Conv2dForward(x.Cand, w.Cand, y.Cand, g);
        double tol = 1e-4 * Math.Sqrt(g.InChannels * g.KernelHeight * g.KernelWidth);
        AssertClose($"conv forward {g}", y, tol, 1e-4);

        var dy = Pair(RandomArray(g.OutputSize));
        var dx = Pair(RandomArray(g.InputSize));
        _reference.Conv2dBackwardData(dy.Ref, w.Ref, dx.Ref, g);
        _candidate.Conv2dBackwardData(dy.Cand, w.Cand, dx.Cand, g);
        AssertClose($"conv backward data {g}", dx, tol, 1e-4);

        var dw = Pair(RandomArray(g.WeightSize));
        _reference.Conv2dBackwardWeight(x.Ref, dy.Ref, dw.Ref, g);
        _candidate.Conv2dBackwardWeight(x.Cand, dy.Cand, dw.Cand, g);
        AssertClose($"conv backward weight {g}", dw, 1e-4 * Math.Sqrt(g.Batch * g.OutHeight * g.OutWidth), 1e-4);
    }

    // ---- permutation and indexing -------------------------------------------------------------

    public static TheoryData<int[], int[]> PermuteCases => new()
    {
        { [2, 3, 4, 5], [0, 2, 3, 1] },    // [B, D, H, W] -> [B, H, W, D] (the vector quantiser's way in)
        { [2, 4, 5, 3], [0, 3, 1, 2] },    // and back
        { [2, 3, 4, 5], [3, 2, 1, 0] },
        { [7, 33], [1, 0] },
        { [1, 7, 1, 33], [2, 0, 3, 1] },   // size-1 dimensions
        { [257], [0] },
        { [2, 1, 3, 1, 2, 3, 1, 2], [7, 6, 5, 4, 3, 2, 1, 0] },   // rank 8
    };

    [Theory]
    [MemberData(nameof(PermuteCases))]
    public void Permute_MatchesReference(int[] shape, int[] axes)
    {
        int n = Broadcast.Count(shape);
        foreach (bool accumulate in new[] { false, true })
        {
            var x = Pair(RandomArray(n));
            var y = Pair(RandomArray(n));
            _reference.Permute(x.Ref, shape, axes, y.Ref, accumulate);
            _candidate.Permute(x.Cand, shape, axes, y.Cand, accumulate);
            AssertClose($"permute {Broadcast.Format(shape)} by {Broadcast.Format(axes)} acc={accumulate}", y, 0, 0);
        }
    }

    [Fact]
    public void Permute_RejectsAxesThatAreNotAPermutation()
    {
        var x = _candidate.Allocate(6);
        var y = _candidate.Allocate(6);
        Assert.Throws<ArgumentException>(() => _candidate.Permute(x, [2, 3], [0, 0], y, false));
        Assert.Throws<ArgumentException>(() => _candidate.Permute(x, [2, 3], [0], y, false));
        Assert.Throws<ArgumentException>(() => _candidate.Permute(x, [2, 3], [1, 2], y, false));
    }

    /// <summary>n indices into [0, rows): random (with repeats), then every invalid kind (NaN, +-Inf, -1, rows, a fraction).</summary>
    private float[] Indices(int n, int rows, bool invalid)
    {
        var idx = new float[n];
        for (int i = 0; i < n; i++) idx[i] = _random.Next(rows);
        if (invalid)
        {
            float[] bad = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -1f, rows, 0.5f, -0f];
            for (int i = 0; i < bad.Length && i < n; i++) idx[(i * 5 + 1) % n] = bad[i];
        }
        return idx;
    }

    [Theory]
    [InlineData(7, 5, false)]
    [InlineData(64, 16, false)]     // the VQ-VAE codebook
    [InlineData(33, 3, true)]
    [InlineData(1, 257, true)]
    [InlineData(64, 16, true, 4133)]    // a VQ-VAE batch's worth of codes: enough for the GPU to cut them into slices
    public void GatherRows_AndScatterAddRows_MatchReference(int rows, int width, bool invalid, int indices = 0)
    {
        foreach (int n in indices > 0 ? [indices] : Sizes)
        {
            var table = Pair(RandomArray(rows * width));
            var idx = Pair(Indices(n, rows, invalid));
            var y = Pair(RandomArray(n * width));
            _reference.GatherRows(table.Ref, idx.Ref, y.Ref, n, rows, width);
            _candidate.GatherRows(table.Cand, idx.Cand, y.Cand, n, rows, width);
            AssertClose($"gather {n} of [{rows}, {width}]", y, 0, 0);

            var dy = Pair(RandomArray(n * width));
            var dTable = Pair(RandomArray(rows * width));
            _reference.ScatterAddRows(dy.Ref, idx.Ref, dTable.Ref, n, rows, width);
            _candidate.ScatterAddRows(dy.Cand, idx.Cand, dTable.Cand, n, rows, width);
            AssertClose($"scatter-add {n} into [{rows}, {width}]", dTable, 1e-5 * Math.Sqrt(n), 1e-4);
        }
    }

    [Theory]
    [InlineData(7, 5, 3, false)]
    [InlineData(33, 3, 5, true)]
    [InlineData(1177, 64, 24, false)]   // the prior's first layer: 24 taps of a [49 x 24 + 1, 64] table
    [InlineData(64, 16, 2, true, 4133)]
    public void GatherSumRows_AndScatterAddSumRows_MatchReference(int rows, int width, int taps, bool invalid, int count = 0)
    {
        foreach (int n in count > 0 ? [count] : Sizes)
        {
            var table = Pair(RandomArray(rows * width));
            var idx = Pair(Indices(n * taps, rows, invalid));
            var y = Pair(RandomArray(n * width));
            _reference.GatherSumRows(table.Ref, idx.Ref, y.Ref, n, taps, rows, width);
            _candidate.GatherSumRows(table.Cand, idx.Cand, y.Cand, n, taps, rows, width);
            AssertClose($"gather-sum {n} x {taps} of [{rows}, {width}]", y, 1e-5 * Math.Sqrt(taps), 1e-4);

            var dy = Pair(RandomArray(n * width));
            var dTable = Pair(RandomArray(rows * width));
            _reference.ScatterAddSumRows(dy.Ref, idx.Ref, dTable.Ref, n, taps, rows, width);
            _candidate.ScatterAddSumRows(dy.Cand, idx.Cand, dTable.Cand, n, taps, rows, width);
            AssertClose($"scatter-add-sum {n} x {taps} into [{rows}, {width}]", dTable, 1e-5 * Math.Sqrt(n * taps), 1e-4);
        }
    }

    [Fact]
    public void GatherRows_InvalidIndexGivesNaNRow_ValidOnesCopyExactly()
    {
        var table = Pair([1f, 2f, 3f, 4f, 5f, 6f]);
        var idx = Pair([2f, float.NaN, 0f, 3f, -1f, 1.5f, 1f]);
        var y = Pair(new float[14]);
        _candidate.GatherRows(table.Cand, idx.Cand, y.Cand, 7, 3, 2);
        var v = Read(_candidate, y.Cand);
        Assert.Equal([5f, 6f], v[0..2]);
        Assert.Equal([1f, 2f], v[4..6]);
        Assert.Equal([3f, 4f], v[12..14]);
        foreach (int row in new[] { 1, 3, 4, 5 }) Assert.True(float.IsNaN(v[2 * row]) && float.IsNaN(v[2 * row + 1]), $"row {row}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(64)]
    public void OneHot_MatchesReference(int classes)
    {
        foreach (int n in Sizes)
        {
            var idx = Pair(Indices(n, classes, invalid: true));
            var y = Pair(RandomArray(n * classes));
            _reference.OneHot(idx.Ref, y.Ref, n, classes);
            _candidate.OneHot(idx.Cand, y.Cand, n, classes);
            AssertClose($"one-hot {n} x {classes}", y, 0, 0);
        }
    }

    [Theory]
    [InlineData(1, 257, 1)]
    [InlineData(7, 33, 1)]
    [InlineData(1, 7, 33)]
    [InlineData(3, 7, 5)]
    [InlineData(257, 1, 7)]
    [InlineData(100, 64, 1)]     // distances of 100 vectors to a codebook of 64
    public void ArgReduce_MatchesReference_WithTiesAndNaN(int outer, int length, int inner)
    {
        int n = outer * length * inner;
        // few distinct values, so ties are common; some NaN, +-Inf and signed zeros
        var x = new float[n];
        float[] special = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f];
        for (int i = 0; i < n; i++)
            x[i] = _random.Next(20) == 0 ? special[_random.Next(special.Length)] : _random.Next(5) - 2;
        var xs = Pair(x);
        foreach (bool max in new[] { false, true })
        {
            var y = Pair(RandomArray(outer * inner));
            _reference.ArgReduce(xs.Ref, y.Ref, outer, length, inner, max);
            _candidate.ArgReduce(xs.Cand, y.Cand, outer, length, inner, max);
            AssertClose($"{(max ? "argmax" : "argmin")} [{outer},{length},{inner}]", y, 0, 0);
        }
    }

    [Fact]
    public void ArgReduce_FollowsPyTorchOnTiesAndNaN()
    {
        // rows of 4: ties pick the first, -0 and +0 tie, the first NaN wins both ways
        var x = Pair([3f, 1f, 1f, 2f, /**/ 0f, -0f, 0f, 5f, /**/ 1f, float.NaN, -9f, float.NaN, /**/ float.NegativeInfinity, 2f, float.NegativeInfinity, 1f]);
        var y = Pair(new float[4]);
        _candidate.ArgReduce(x.Cand, y.Cand, 4, 4, 1, max: false);
        Assert.Equal([1f, 0f, 1f, 0f], Read(_candidate, y.Cand));
        _candidate.ArgReduce(x.Cand, y.Cand, 4, 4, 1, max: true);
        Assert.Equal([0f, 3f, 1f, 1f], Read(_candidate, y.Cand));
    }

    public static TheoryData<int, int, int> CrossEntropyShapes => new()
    {
        { 7, 33, 1 },      // [N, C]
        { 257, 3, 1 },
        { 1, 1, 1 },
        { 3, 7, 5 },       // [N, C, d]
        { 2, 64, 49 },     // the PixelCNN prior: [B, K, 7, 7]
        { 5, 2, 257 },
    };

    [Theory]
    [MemberData(nameof(CrossEntropyShapes))]
    public void SoftmaxCrossEntropy_ForwardAndBackward_MatchReference(int outer, int classes, int inner)
    {
        int n = outer * classes * inner, positions = outer * inner;
        var logits = RandomArray(n, -6f, 6f);
        var targets = Indices(positions, classes, invalid: false);
        // edge values at a few places: huge, -Inf (one logit, and the target's), NaN, and one invalid target
        float[] edges = [3e38f, -3e38f, float.NegativeInfinity, float.PositiveInfinity, float.NaN, 1e20f, -1e-40f];
        for (int i = 0; i < edges.Length && positions > 2; i++) logits[(i * 7919) % n] = edges[i];
        if (positions > 3) targets[positions - 2] = classes;
        var x = Pair(logits);
        var t = Pair(targets);
        var losses = Pair(RandomArray(positions));
        _reference.SoftmaxCrossEntropy(x.Ref, t.Ref, losses.Ref, outer, classes, inner);
        _candidate.SoftmaxCrossEntropy(x.Cand, t.Cand, losses.Cand, outer, classes, inner);
        string label = $"cross-entropy [{outer},{classes},{inner}]";
        AssertClose(label, losses, 1e-5, 1e-5);

        var dl = Pair(RandomArray(positions));
        var dx = Pair(RandomArray(n));
        _reference.SoftmaxCrossEntropyBackward(x.Ref, t.Ref, dl.Ref, dx.Ref, outer, classes, inner);
        _candidate.SoftmaxCrossEntropyBackward(x.Cand, t.Cand, dl.Cand, dx.Cand, outer, classes, inner);
        AssertClose(label + " backward", dx, 1e-5, 1e-4);
    }

    // ---- optimisers ---------------------------------------------------------------------------

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.01f, false)]
    [InlineData(0.01f, true)]
    public void AdamStep_MatchesReference(float weightDecay, bool decoupled)
    {
        foreach (int n in Sizes)
        {
            var p = Pair(RandomArray(n));
            var m = Pair(RandomArray(n, -0.1f, 0.1f));
            var v = Pair(RandomArray(n, 0f, 0.1f));
            for (int step = 1; step <= 3; step++)
            {
                var g = Pair(RandomArray(n));
                var h = new AdamParameters(1e-2f, 0.9f, 0.999f, 1e-8f, weightDecay, decoupled, step);
                _reference.AdamStep(p.Ref, g.Ref, m.Ref, v.Ref, n, h);
                _candidate.AdamStep(p.Cand, g.Cand, m.Cand, v.Cand, n, h);
            }
            AssertClose($"adam p n={n}", p, 1e-5, 1e-4);
            AssertClose($"adam m n={n}", m, 1e-6, 1e-4);
            AssertClose($"adam v n={n}", v, 1e-6, 1e-4);
        }
    }

    [Fact]
    public void SgdStep_MatchesReference()
    {
        foreach (int n in Sizes)
        {
            var p = Pair(RandomArray(n));
            var vel = Pair(RandomArray(n));
            var g = Pair(RandomArray(n));
            _reference.SgdStep(p.Ref, g.Ref, vel.Ref, n, 0.1f, 0.9f, 0.01f);
            _candidate.SgdStep(p.Cand, g.Cand, vel.Cand, n, 0.1f, 0.9f, 0.01f);
            AssertClose($"sgd p n={n}", p);
            AssertClose($"sgd vel n={n}", vel);
        }
    }
}

/// <summary>The fast CPU backend against the reference.</summary>
public sealed class CpuBackendConformanceTests : BackendConformanceTests
{
    protected override IBackend CreateBackend() => new Cpu.CpuBackend();
}

/// <summary>The reference backend against itself: guards the suite's own plumbing.</summary>
public sealed class ReferenceBackendConformanceTests : BackendConformanceTests
{
    protected override IBackend CreateBackend() => new ReferenceBackend();
}
