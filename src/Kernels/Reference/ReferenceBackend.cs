namespace NeuralCore.Kernels.Reference;

/// <summary>
/// The oracle: naive loops with double accumulation, written for obviousness, not speed.
/// Every other backend is tested against this one.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    /// <inheritdoc />
    public string Name => "reference";

    /// <inheritdoc />
    public DeviceBuffer Allocate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "buffer length must be >= 0");
        return new HostBuffer(this, new float[length], length);
    }

    /// <inheritdoc />
    public void Release(DeviceBuffer buffer) { }

    /// <inheritdoc />
    public void Upload(ReadOnlySpan<float> source, DeviceBuffer destination, int destinationOffset = 0) =>
        source.CopyTo(H(destination).Data.AsSpan(destinationOffset, source.Length));

    /// <inheritdoc />
    public void Download(DeviceBuffer source, Span<float> destination, int sourceOffset = 0) =>
        H(source).Data.AsSpan(sourceOffset, destination.Length).CopyTo(destination);

    /// <inheritdoc />
    public void Fill(DeviceBuffer destination, float value, int offset, int length) =>
        H(destination).Data.AsSpan(offset, length).Fill(value);

    /// <inheritdoc />
    public void CopyBlock(DeviceBuffer source, int sourceOffset, int sourceStride, DeviceBuffer destination,
        int destinationOffset, int destinationStride, int rows, int columns, bool accumulate)
    {
        float[] s = H(source).Data, d = H(destination).Data;
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
        {
            int di = destinationOffset + r * destinationStride + c;
            float v = s[sourceOffset + r * sourceStride + c];
            d[di] = accumulate ? d[di] + v : v;
        }
    }

    /// <inheritdoc />
    public void Synchronize() { }

    /// <inheritdoc />
    public void Unary(UnaryOp op, DeviceBuffer x, DeviceBuffer y, int n, float alpha = 0)
    {
        float[] xs = H(x).Data, ys = H(y).Data;
        for (int i = 0; i < n; i++) ys[i] = (float)ScalarMath.Apply(op, xs[i], alpha);
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0)
    {
        float[] xs = H(x).Data, ys = H(y).Data, dys = H(dy).Data, dxs = H(dx).Data;
        for (int i = 0; i < n; i++)
            dxs[i] = (float)(dxs[i] + (double)dys[i] * ScalarMath.Derivative(op, xs[i], ys[i], alpha));
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer c, ReadOnlySpan<int> cShape)
    {
        float[] av = H(a).Data, bv = H(b).Data, cv = H(c).Data;
        int n = Broadcast.Count(cShape);
        Span<int> sa = stackalloc int[cShape.Length], sb = stackalloc int[cShape.Length];
        Broadcast.InputStrides(aShape, cShape, sa);
        Broadcast.InputStrides(bShape, cShape, sb);
        for (int i = 0; i < n; i++)
        {
            (int ia, int ib) = Offsets(i, cShape, sa, sb);
            cv[i] = (float)ScalarMath.Apply(op, av[ia], bv[ib]);
        }
    }

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db)
    {
        float[] av = H(a).Data, bv = H(b).Data, dcv = H(dc).Data;
        int n = Broadcast.Count(cShape);
        Span<int> sa = stackalloc int[cShape.Length], sb = stackalloc int[cShape.Length];
        Broadcast.InputStrides(aShape, cShape, sa);
        Broadcast.InputStrides(bShape, cShape, sb);
        var accA = new double[Broadcast.Count(aShape)];
        var accB = new double[Broadcast.Count(bShape)];
        for (int i = 0; i < n; i++)
        {
            (int ia, int ib) = Offsets(i, cShape, sa, sb);
            var (ga, gb) = ScalarMath.Derivatives(op, av[ia], bv[ib]);
            accA[ia] += dcv[i] * ga;
            accB[ib] += dcv[i] * gb;
        }
        if (da != null) { var d = H(da).Data; for (int i = 0; i < accA.Length; i++) d[i] = (float)(d[i] + accA[i]); }
        if (db != null) { var d = H(db).Data; for (int i = 0; i < accB.Length; i++) d[i] = (float)(d[i] + accB[i]); }
    }

    private static (int, int) Offsets(int linear, ReadOnlySpan<int> shape, ReadOnlySpan<int> sa, ReadOnlySpan<int> sb)
    {
        int ia = 0, ib = 0;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int idx = linear % shape[d];
            linear /= shape[d];
            ia += idx * sa[d];
            ib += idx * sb[d];
        }
        return (ia, ib);
    }

    /// <inheritdoc />
    public void ReduceSum(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool accumulate)
    {
        float[] xs = H(x).Data, ys = H(y).Data;
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            double s = 0;
            for (int r = 0; r < length; r++) s += xs[(o * length + r) * inner + i];
            int yi = o * inner + i;
            ys[yi] = (float)(accumulate ? ys[yi] + s : s);
        }
    }

    /// <inheritdoc />
    public void Loss(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int n)
    {
        float[] av = H(a).Data, bv = H(b).Data;
        double s = 0;
        for (int i = 0; i < n; i++) s += ScalarMath.Loss(kind, av[i], bv[i]);
        H(result).Data[0] = (float)s;
    }

    /// <inheritdoc />
    public void LossBackward(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dLoss, float scale,
        DeviceBuffer? da, DeviceBuffer? db, int n)
    {
        float[] av = H(a).Data, bv = H(b).Data;
        double g = (double)H(dLoss).Data[0] * scale;
        float[]? dav = da == null ? null : H(da).Data, dbv = db == null ? null : H(db).Data;
        for (int i = 0; i < n; i++)
        {
            var (ga, gb) = ScalarMath.LossDerivatives(kind, av[i], bv[i]);
            if (dav != null) dav[i] = (float)(dav[i] + g * ga);
            if (dbv != null) dbv[i] = (float)(dbv[i] + g * gb);
        }
    }

    /// <inheritdoc />
    public void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha = 1)
    {
        float[] av = H(a).Data, bv = H(b).Data, cv = H(c).Data;
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++)
            {
                float x = transposeA ? av[p * m + i] : av[i * k + p];
                float y = transposeB ? bv[j * k + p] : bv[p * n + j];
                s += (double)x * y;
            }
            s *= alpha;
            cv[i * n + j] = (float)(accumulate ? cv[i * n + j] + s : s);
        }
    }

    /// <inheritdoc />
    public void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate)
    {
        float[] xs = H(x).Data, ys = H(y).Data;
        for (int bi = 0; bi < batch; bi++)
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
        {
            int yi = (bi * columns + c) * rows + r;
            float v = xs[(bi * rows + r) * columns + c];
            ys[yi] = accumulate ? ys[yi] + v : v;
        }
    }

    /// <inheritdoc />
    public void Permute(DeviceBuffer x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, DeviceBuffer y, bool accumulate)
    {
        float[] xs = H(x).Data, ys = H(y).Data;
        int rank = xShape.Length;
        Span<int> shape = stackalloc int[Math.Max(rank, 1)], strides = stackalloc int[Math.Max(rank, 1)];
        Indexing.PermutationWalk(xShape, axes, shape, strides);
        int n = Broadcast.Count(xShape);
        for (int i = 0; i < n; i++)
        {
            // the source offset of output element i, from its row-major index in the permuted shape
            int rest = i, offset = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                offset += rest % shape[d] * strides[d];
                rest /= shape[d];
            }
            ys[i] = accumulate ? ys[i] + xs[offset] : xs[offset];
        }
    }

    /// <inheritdoc />
    public void GatherRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int rows, int width)
    {
        float[] ts = H(table).Data, idx = H(indices).Data, ys = H(y).Data;
        for (int i = 0; i < n; i++)
        {
            int r = Indexing.Resolve(idx[i], rows);
            for (int c = 0; c < width; c++) ys[i * width + c] = r < 0 ? float.NaN : ts[r * width + c];
        }
    }

    /// <inheritdoc />
    public void ScatterAddRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int rows, int width)
    {
        float[] dys = H(dy).Data, idx = H(indices).Data, dts = H(dTable).Data;
        var acc = new double[rows * width];
        for (int i = 0; i < n; i++)
        {
            int r = Indexing.Resolve(idx[i], rows);
            if (r < 0) continue;
            for (int c = 0; c < width; c++) acc[r * width + c] += dys[i * width + c];
        }
        for (int j = 0; j < acc.Length; j++) dts[j] = (float)(dts[j] + acc[j]);
    }

    /// <inheritdoc />
    public void GatherSumRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int taps, int rows, int width)
    {
        float[] ts = H(table).Data, idx = H(indices).Data, ys = H(y).Data;
        var acc = new double[width];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(acc);
            for (int t = 0; t < taps; t++)
            {
                int r = Indexing.Resolve(idx[i * taps + t], rows);
                for (int c = 0; c < width; c++) acc[c] += r < 0 ? double.NaN : ts[r * width + c];
            }
            for (int c = 0; c < width; c++) ys[i * width + c] = (float)acc[c];
        }
    }

    /// <inheritdoc />
    public void ScatterAddSumRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int taps, int rows, int width)
    {
        float[] dys = H(dy).Data, idx = H(indices).Data, dts = H(dTable).Data;
        var acc = new double[rows * width];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < taps; t++)
            {
                int r = Indexing.Resolve(idx[i * taps + t], rows);
                if (r < 0) continue;
                for (int c = 0; c < width; c++) acc[r * width + c] += dys[i * width + c];
            }
        for (int j = 0; j < acc.Length; j++) dts[j] = (float)(dts[j] + acc[j]);
    }

    /// <inheritdoc />
    public void OneHot(DeviceBuffer indices, DeviceBuffer y, int n, int classes)
    {
        float[] idx = H(indices).Data, ys = H(y).Data;
        for (int i = 0; i < n; i++)
        {
            int t = Indexing.Resolve(idx[i], classes);
            for (int c = 0; c < classes; c++) ys[i * classes + c] = t < 0 ? float.NaN : c == t ? 1f : 0f;
        }
    }

    /// <inheritdoc />
    public void ArgReduce(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool max)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "argmin/argmax needs at least one element along the axis");
        float[] xs = H(x).Data, ys = H(y).Data;
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int best = 0;
            float bestValue = xs[o * length * inner + i];
            for (int r = 1; r < length && !float.IsNaN(bestValue); r++)
            {
                float v = xs[(o * length + r) * inner + i];
                if (float.IsNaN(v) || (max ? v > bestValue : v < bestValue)) { best = r; bestValue = v; }
            }
            ys[o * inner + i] = best;
        }
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer losses, int outer, int classes, int inner)
    {
        float[] xs = H(logits).Data, ts = H(targets).Data, ls = H(losses).Data;
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int t = Indexing.Resolve(ts[o * inner + i], classes);
            var (m, sum) = MaxAndSumExp(xs, o, i, classes, inner);
            ls[o * inner + i] = t < 0 ? float.NaN : (float)(Math.Log(sum) - (xs[(o * classes + t) * inner + i] - m));
        }
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropyBackward(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer dLosses, DeviceBuffer dLogits,
        int outer, int classes, int inner)
    {
        float[] xs = H(logits).Data, ts = H(targets).Data, dls = H(dLosses).Data, dxs = H(dLogits).Data;
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int t = Indexing.Resolve(ts[o * inner + i], classes);
            var (m, sum) = MaxAndSumExp(xs, o, i, classes, inner);
            double g = t < 0 ? double.NaN : dls[o * inner + i];
            for (int c = 0; c < classes; c++)
            {
                int xi = (o * classes + c) * inner + i;
                double p = Math.Exp(xs[xi] - m) / sum;
                dxs[xi] = (float)(dxs[xi] + g * (p - (c == t ? 1 : 0)));
            }
        }
    }

    /// <summary>The largest logit at (o, :, i) (NaN when any is NaN) and sum_c exp(x - max), in double.</summary>
    private static (double Max, double SumExp) MaxAndSumExp(float[] xs, int o, int i, int classes, int inner)
    {
        double m = double.NegativeInfinity;
        for (int c = 0; c < classes; c++)
        {
            double v = xs[(o * classes + c) * inner + i];
            if (v > m || double.IsNaN(v)) m = v;
            if (double.IsNaN(m)) break;
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += Math.Exp(xs[(o * classes + c) * inner + i] - m);
        return (m, sum);
    }

    /// <inheritdoc />
    public void Conv2dForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, in ConvGeometry g)
    {
        float[] xs = H(x).Data, ws = H(w).Data, ys = H(y).Data;
        var acc = new double[g.OutputSize];
        ForEachTap(g, (xi, wi, yi) => acc[yi] += (double)xs[xi] * ws[wi]);
        for (int i = 0; i < acc.Length; i++) ys[i] = (float)acc[i];
    }

    /// <inheritdoc />
    public void Conv2dBackwardData(DeviceBuffer dy, DeviceBuffer w, DeviceBuffer dx, in ConvGeometry g)
    {
        float[] dys = H(dy).Data, ws = H(w).Data, dxs = H(dx).Data;
        var acc = new double[g.InputSize];
        ForEachTap(g, (xi, wi, yi) => acc[xi] += (double)dys[yi] * ws[wi]);
        for (int i = 0; i < acc.Length; i++) dxs[i] = (float)(dxs[i] + acc[i]);
    }

    /// <inheritdoc />
    public void Conv2dBackwardWeight(DeviceBuffer x, DeviceBuffer dy, DeviceBuffer dw, in ConvGeometry g)
    {
        float[] xs = H(x).Data, dys = H(dy).Data, dws = H(dw).Data;
        var acc = new double[g.WeightSize];
        ForEachTap(g, (xi, wi, yi) => acc[wi] += (double)dys[yi] * xs[xi]);
        for (int i = 0; i < acc.Length; i++) dws[i] = (float)(dws[i] + acc[i]);
    }

    /// <summary>
    /// The definition of a convolution: calls <paramref name="tap"/>(input index, weight index, output index) for
    /// every input element that meets a weight element in an output element (padding taps skipped), in NCHW order.
    /// </summary>
    private static void ForEachTap(in ConvGeometry g, Action<int, int, int> tap)
    {
        int oh = g.OutHeight, ow = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
        for (int k = 0; k < g.OutChannels; k++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            int yi = ((n * g.OutChannels + k) * oh + i) * ow + j;
            for (int c = 0; c < g.InChannels; c++)
            for (int r = 0; r < g.KernelHeight; r++)
            for (int q = 0; q < g.KernelWidth; q++)
            {
                int hi = i * g.StrideH - g.PadH + r, wi = j * g.StrideW - g.PadW + q;
                if (hi < 0 || hi >= g.InHeight || wi < 0 || wi >= g.InWidth) continue;
                tap(((n * g.InChannels + c) * g.InHeight + hi) * g.InWidth + wi,
                    ((k * g.InChannels + c) * g.KernelHeight + r) * g.KernelWidth + q, yi);
            }
        }
    }

    /// <inheritdoc />
    public void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h)
    {
        float[] ps = H(p).Data, gs = H(g).Data, ms = H(m).Data, vs = H(v).Data;
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step), bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        for (int i = 0; i < n; i++)
        {
            double param = ps[i], grad = gs[i];
            if (h.DecoupledWeightDecay) param -= (double)h.LearningRate * h.WeightDecay * param;
            else grad += h.WeightDecay * param;
            double mi = h.Beta1 * (double)ms[i] + (1 - h.Beta1) * grad;
            double vi = h.Beta2 * (double)vs[i] + (1 - h.Beta2) * grad * grad;
            ms[i] = (float)mi; vs[i] = (float)vi;
            param -= h.LearningRate * (mi / bc1) / (Math.Sqrt(vi / bc2) + h.Epsilon);
            ps[i] = (float)param;
        }
    }

    /// <inheritdoc />
    public void SgdStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer velocity, int n, float learningRate, float momentum, float weightDecay)
    {
        float[] ps = H(p).Data, gs = H(g).Data, vs = H(velocity).Data;
        for (int i = 0; i < n; i++)
        {
            double grad = gs[i] + (double)weightDecay * ps[i];
            double vel = momentum * (double)vs[i] + grad;
            vs[i] = (float)vel;
            ps[i] = (float)(ps[i] - learningRate * vel);
        }
    }

    /// <inheritdoc />
    public void Dispose() { }

    private HostBuffer H(DeviceBuffer buffer)
    {
        if (buffer is HostBuffer h && ReferenceEquals(buffer.Backend, this)) return h;
        throw new ArgumentException($"buffer belongs to backend '{buffer.Backend.Name}', not '{Name}'; move the tensor first");
    }
}
