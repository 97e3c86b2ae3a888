using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using NeuralCore.Kernels.Gpu.Kernels;
using static NeuralCore.Kernels.Gpu.Kernels.ConvolutionKernels;
using static NeuralCore.Kernels.Gpu.Kernels.ElementwiseKernels;
using static NeuralCore.Kernels.Gpu.Kernels.GemmKernels;
using static NeuralCore.Kernels.Gpu.Kernels.IndexingKernels;
using static NeuralCore.Kernels.Gpu.Kernels.ReductionKernels;

namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// <see cref="IBackend"/> on an ILGPU accelerator: CUDA, OpenCL, or ILGPU's CPU accelerator (which emulates
/// groups, shared memory and barriers, so the same kernels run in tests without a GPU).
/// <para>Tensors stay resident on the device; every op queues kernels on one stream and returns. Nothing is
/// read back except in <see cref="Download"/> (losses write their sum into a one-element device buffer and
/// loss gradients read dLoss[0] on the device). Every kernel is compiled once: the fixed ones at construction, each op's on its first use.</para>
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    /// <summary>The device names <see cref="Create"/> accepts.</summary>
    public static readonly IReadOnlyList<string> DeviceNames = ["cuda", "opencl", "ilgpu-cpu"];

    /// <summary>Largest im2col scratch (floats) one convolution chunk may use; bigger batches are split.</summary>
    private const int MaxColumnFloats = 1 << 24;

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly GpuMemoryPool _pool;
    private bool _disposed;

    // kernels, compiled once
    private readonly Action<Index1D, ArrayView<float>, float> _fill;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, CopyArgs> _copyBlock;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int> _transpose;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int> _swapOuterAxes;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs> _adam;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float> _sgd;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ReductionPlan, float, int> _reducePerThread;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ReductionPlan, float, int> _reducePerGroup;
    private readonly OperatorKernels _ops;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> _gemm64;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> _gemm128;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> _gemm128Vector;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ConvArgs> _im2col;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ConvArgs> _col2im;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, PermuteArgs> _permute;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> _gatherRows;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScatterArgs> _scatterAddRows;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _gatherSumRows;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int> _oneHot;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int> _argReduce;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _crossEntropy;

    private IlgpuBackend(string name, Context context, Accelerator accelerator)
    {
        Name = name;
        _context = context;
        _accelerator = accelerator;
        _stream = accelerator.DefaultStream;
        _pool = new GpuMemoryPool(accelerator);
        var acc = accelerator;
        _fill = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementwiseKernels.Fill);
        _copyBlock = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, CopyArgs>(ElementwiseKernels.CopyBlock);
        _transpose = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(ElementwiseKernels.Transpose);
        _swapOuterAxes = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>(SwapOuterAxes);
        _adam = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs>(Adam);
        _sgd = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float>(Sgd);
        _reducePerThread = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ReductionPlan, float, int>(PerThread);
        _reducePerGroup = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ReductionPlan, float, int>(PerGroup);
        _ops = new OperatorKernels(acc);
        _gemm64 = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(Gemm64);
        _gemm128 = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(Gemm128);
        _gemm128Vector = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(Gemm128Vector);
        _im2col = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvArgs>(Im2Col);
        _col2im = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvArgs>(Col2ImAccumulate);
        _permute = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, PermuteArgs>(IndexingKernels.Permute);
        _gatherRows = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(IndexingKernels.GatherRows);
        _scatterAddRows = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScatterArgs>(IndexingKernels.ScatterAddRows);
        _gatherSumRows = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(IndexingKernels.GatherSumRows);
        _oneHot = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(IndexingKernels.OneHot);
        _argReduce = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(IndexingKernels.ArgReduce);
        _crossEntropy = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(
            IndexingKernels.SoftmaxCrossEntropy);
    }

    /// <summary>
    /// Opens the first accelerator of the named kind: "cuda", "opencl" or "ilgpu-cpu" (ILGPU's CPU
    /// accelerator, 256 threads per group). Throws <see cref="AcceleratorNotFoundException"/> naming what
    /// was found when the kind is absent.
    /// </summary>
    public static IlgpuBackend Create(string device)
    {
        AcceleratorType kind = device switch
        {
            "cuda" => AcceleratorType.Cuda,
            "opencl" => AcceleratorType.OpenCL,
            "ilgpu-cpu" => AcceleratorType.CPU,
            _ => throw new ArgumentException($"unknown ILGPU device '{device}'; choose one of {string.Join(", ", DeviceNames)}", nameof(device)),
        };
        Context? context = null;
        try
        {
            context = Context.Create(builder =>
            {
                switch (kind)
                {
                    case AcceleratorType.Cuda: builder.Cuda().Optimize(OptimizationLevel.O2); break;
                    case AcceleratorType.OpenCL: builder.OpenCL().Optimize(OptimizationLevel.O2); break;
                    default: builder.CPU(EmulatedDevice); break;
                }
                builder.EnableAlgorithms();
            });
            var found = context.Devices.FirstOrDefault(d => d.AcceleratorType == kind)
                ?? throw new AcceleratorNotFoundException(device, FindAccelerators());
            var accelerator = found.CreateAccelerator(context);
            return new IlgpuBackend(device, context, accelerator);
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator shaped like a small GPU: warps of 32, 8 warps (256 threads) per group.</summary>
    private static CPUDevice EmulatedDevice => new(32, 8, 1);

    /// <summary>Every accelerator ILGPU can see here, as "device-name (description)".</summary>
    public static IReadOnlyList<string> FindAccelerators()
    {
        var found = new List<string>();
        foreach (var (type, name) in new[] { (AcceleratorType.Cuda, "cuda"), (AcceleratorType.OpenCL, "opencl") })
        {
            try
            {
                using var context = Context.Create(b => { if (type == AcceleratorType.Cuda) b.Cuda(); else b.OpenCL(); });
                foreach (var d in context.Devices.Where(d => d.AcceleratorType == type)) found.Add($"{name} ({d.Name})");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // a missing driver library means "none of this kind"
            }
        }
        found.Add("ilgpu-cpu (ILGPU CPU accelerator)");
        return found;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The accelerator's own description, e.g. "NVIDIA H200".</summary>
    public string DeviceDescription => _accelerator.Name;

    /// <summary>The GEMM kernels, by the names <see cref="ForcedGemmKernel"/> takes.</summary>
    public const string Tiled64 = "tiled64", Tiled128 = "tiled128", Vector128 = "vector128";

    /// <summary>The names of the GEMM kernels that <see cref="ForcedGemmKernel"/> accepts, so that each can be timed
    /// or tested alone.</summary>
    public IReadOnlyList<string> GemmKernels { get; } = [Tiled64, Tiled128, Vector128];

    /// <summary>
    /// Forces one GEMM kernel (null = choose by shape: the 128x128 tile when it fills every multiprocessor, as the
    /// vector kernel when m, n, k and offsets are multiples of 4; else 64x64). A forced vector128 falls back to
    /// tiled128 on shapes it cannot take.
    /// </summary>
    public string? ForcedGemmKernel
    {
        get => _forcedGemm;
        set => _forcedGemm = value is null || GemmKernels.Contains(value) ? value
            : throw new ArgumentException($"unknown GEMM kernel '{value}'; choose one of {string.Join(", ", GemmKernels)}", nameof(value));
    }

    private string? _forcedGemm;

    /// <summary>Test hook: force this many split-K slices (0 = choose by size).</summary>
    internal int ForceSplitK { get; set; }

    // ---- memory -------------------------------------------------------------------------------

    /// <inheritdoc />
    public DeviceBuffer Allocate(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "buffer length must be >= 0");
        var buffer = new GpuBuffer(this, _pool.Rent(length), length);
        if (length > 0) buffer.View.MemSetToZero(_stream);
        return buffer;
    }

    /// <inheritdoc />
    public void Release(DeviceBuffer buffer)
    {
        if (!_disposed && buffer is GpuBuffer g && ReferenceEquals(g.Backend, this)) _pool.Return(g.Memory, g.Length);
    }

    /// <summary>Device scratch of <paramref name="length"/> floats (contents undefined); give it back with
    /// <see cref="Return"/> as soon as the kernels that use it are queued.</summary>
    private MemoryBuffer1D<float, Stride1D.Dense> Rent(int length) => _pool.Rent(length);

    private void Return(MemoryBuffer1D<float, Stride1D.Dense> scratch, int length) => _pool.Return(scratch, length);

    /// <inheritdoc />
    public void Upload(ReadOnlySpan<float> source, DeviceBuffer destination, int destinationOffset = 0)
    {
        var d = G(destination);
        CheckRange(d, destinationOffset, source.Length, nameof(destinationOffset));
        if (source.Length == 0) return;
        d.Memory.View.SubView(destinationOffset, source.Length).CopyFromCPU(_stream, source);
    }

    /// <inheritdoc />
    public void Download(DeviceBuffer source, Span<float> destination, int sourceOffset = 0)
    {
        var s = G(source);
        CheckRange(s, sourceOffset, destination.Length, nameof(sourceOffset));
        if (destination.Length == 0) return;
        s.Memory.View.SubView(sourceOffset, destination.Length).CopyToCPU(_stream, destination);
    }

    /// <inheritdoc />
    public void Fill(DeviceBuffer destination, float value, int offset, int length)
    {
        var d = G(destination);
        CheckRange(d, offset, length, nameof(offset));
        if (length > 0) _fill(length, d.View.SubView(offset, length), value);
    }

    /// <inheritdoc />
    public void CopyBlock(DeviceBuffer source, int sourceOffset, int sourceStride, DeviceBuffer destination,
        int destinationOffset, int destinationStride, int rows, int columns, bool accumulate)
    {
        if (rows <= 0 || columns <= 0) return;
        var args = new CopyArgs
        {
            SourceOffset = sourceOffset, SourceStride = sourceStride,
            DestinationOffset = destinationOffset, DestinationStride = destinationStride,
            Columns = columns, Accumulate = accumulate ? 1 : 0,
        };
        _copyBlock(rows * columns, V(source), V(destination), args);
    }

    /// <inheritdoc />
    public void Synchronize() => _accelerator.Synchronize();

    // ---- elementwise --------------------------------------------------------------------------

    /// <inheritdoc />
    public void Unary(UnaryOp op, DeviceBuffer x, DeviceBuffer y, int n, float alpha = 0)
    {
        var kernels = _ops.Unary(op);
        if (n > 0) kernels.Forward(n, V(x), V(y), alpha);
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, DeviceBuffer x, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dx, int n, float alpha = 0)
    {
        var kernels = _ops.Unary(op);
        if (n > 0) kernels.Backward(n, V(x), V(y), V(dy), V(dx), alpha);
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer c, ReadOnlySpan<int> cShape)
    {
        var kernels = _ops.Binary(op);
        int n = Broadcast.Count(cShape);
        if (n == 0) return;
        kernels.Forward(n, V(a), V(b), V(c), BroadcastWalk8.Create(aShape, bShape, cShape));
    }

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, DeviceBuffer a, ReadOnlySpan<int> aShape, DeviceBuffer b, ReadOnlySpan<int> bShape,
        DeviceBuffer dc, ReadOnlySpan<int> cShape, DeviceBuffer? da, DeviceBuffer? db)
    {
        var kernels = _ops.Binary(op);
        int n = Broadcast.Count(cShape);
        if (n == 0) return;
        var walk = BroadcastWalk8.Create(aShape, bShape, cShape);
        if (da != null) BinaryGradient(kernels.GradientTerm, a, b, dc, cShape, walk, da, aShape, wantB: 0);
        if (db != null) BinaryGradient(kernels.GradientTerm, a, b, dc, cShape, walk, db, bShape, wantB: 1);
    }

    /// <summary>grad += the gradient of one input of a op b, summed over the dimensions it was broadcast along.</summary>
    private void BinaryGradient(Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, BroadcastWalk8> gradientTerm, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dc, ReadOnlySpan<int> cShape,
        BroadcastWalk8 walk, DeviceBuffer grad, ReadOnlySpan<int> shape, int wantB)
    {
        int n = Broadcast.Count(cShape);
        if (Broadcast.Count(shape) == n)
        {
            // not broadcast: the term goes straight into the gradient
            gradientTerm(n, V(a), V(b), V(dc), V(grad), wantB, 1, walk);
            return;
        }
        // the term at every element of c, then summed over the dimensions this input was broadcast along
        var term = Rent(n);
        gradientTerm(n, V(a), V(b), V(dc), term.View, wantB, 0, walk);
        Reduce(term.View, V(grad), ReductionPlan.ToBroadcastSource(cShape, shape), 1f, accumulate: true);
        Return(term, n);
    }

    // ---- reductions ---------------------------------------------------------------------------

    /// <inheritdoc />
    public void ReduceSum(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool accumulate)
    {
        if (outer * inner == 0) return;
        Reduce(V(x), V(y), ReductionPlan.MiddleAxis(outer, length, inner), 1f, accumulate);
    }

    /// <summary>dst (+)= scale * the sums the plan describes: a group per output when each output sums many
    /// elements and there are few outputs, otherwise a thread per output.</summary>
    private void Reduce(ArrayView<float> src, ArrayView<float> dst, ReductionPlan plan, float scale, bool accumulate)
    {
        if (plan.Outputs == 0) return;
        int acc = accumulate ? 1 : 0;
        if (plan.Length >= 64 && plan.Outputs < 8192)
            _reducePerGroup(new KernelConfig(plan.Outputs, GroupSize), src, dst, plan, scale, acc);
        else
            _reducePerThread(plan.Outputs, src, dst, plan, scale, acc);
    }

    /// <inheritdoc />
    public void Loss(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer result, int n)
    {
        var partialSums = _ops.Loss(kind).Partials;
        var r = V(result);
        if (n == 0) { _fill(1, r, 0f); return; }
        int groups = Math.Min(MaxPartials, (n + GroupSize - 1) / GroupSize);
        if (groups == 1)
        {
            partialSums(new KernelConfig(1, GroupSize), V(a), V(b), r, n);
            return;
        }
        var partials = Rent(groups);
        partialSums(new KernelConfig(groups, GroupSize), V(a), V(b), partials.View, n);
        Reduce(partials.View, r, ReductionPlan.MiddleAxis(1, groups, 1), 1f, accumulate: false);
        Return(partials, groups);
    }

    /// <inheritdoc />
    public void LossBackward(LossKind kind, DeviceBuffer a, DeviceBuffer b, DeviceBuffer dLoss, float scale,
        DeviceBuffer? da, DeviceBuffer? db, int n)
    {
        var backward = _ops.Loss(kind).Backward;
        if (n == 0 || (da == null && db == null)) return;
        var av = V(a);
        var args = new LossBackwardArgs { WantA = da != null ? 1 : 0, WantB = db != null ? 1 : 0, Scale = scale };
        // an unwanted gradient gets a placeholder view that the kernel never touches
        backward(n, av, V(b), V(dLoss), da != null ? V(da) : av, db != null ? V(db) : av, args);
    }

    // ---- matrix and layout --------------------------------------------------------------------

    /// <inheritdoc />
    public void MatMul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha = 1)
        => Gemm(V(a), V(b), V(c), m, n, k, transposeA, transposeB, accumulate, alpha);

    /// <summary>Test hook: <see cref="MatMul"/> on views that start <paramref name="offset"/> floats into each buffer.</summary>
    internal void MatMulAtOffset(int offset, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha)
        => Gemm(V(a).SubView(offset, m * k), V(b).SubView(offset, k * n), V(c).SubView(offset, m * n), m, n, k,
            transposeA, transposeB, accumulate, alpha);

    private void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, float alpha)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate) _fill(m * n, c.SubView(0, m * n), 0f);
            return;
        }
        int sms = Math.Max(1, _accelerator.NumMultiprocessors);
        bool large = _forcedGemm switch
        {
            Tiled64 => false,
            Tiled128 or Vector128 => true,
            _ => Tiles(m, LargeTile) * Tiles(n, LargeTile) >= sms,
        };
        bool vector = large && _forcedGemm != Tiled128 && VectorReady(m, n, k, Offset(a), Offset(b), Offset(c));
        int tile = large ? LargeTile : SmallTile;
        int gx = Tiles(n, tile), gy = Tiles(m, tile);
        // split-K when the output has too few tiles to occupy the device and k is long (e.g. weight gradients)
        int splits = ForceSplitK > 0 ? ForceSplitK : Math.Clamp(Math.Min(2 * sms / (gx * gy), k / 512), 1, 64);
        int kSlice = splits == 1 ? k : RoundUp((k + splits - 1) / splits, 16);
        splits = (k + kSlice - 1) / kSlice;
        var kernel = vector ? _gemm128Vector : large ? _gemm128 : _gemm64;
        var config = new KernelConfig(new Index3D(gx, gy, splits), new Index3D(Threads, Threads, 1));
        var args = new GemmArgs
        {
            M = m, N = n, K = k, TransposeA = transposeA ? 1 : 0, TransposeB = transposeB ? 1 : 0,
            KSlice = kSlice, SliceStride = m * n,
        };
        if (splits == 1)
        {
            args.Accumulate = accumulate ? 1 : 0;
            args.Alpha = alpha;
            kernel(config, a, b, c, args);
            return;
        }
        var partials = Rent(splits * m * n);
        args.Accumulate = 0;
        args.Alpha = 1f;
        kernel(config, a, b, partials.View, args);
        Reduce(partials.View, c, ReductionPlan.MiddleAxis(1, splits, m * n), alpha, accumulate);
        Return(partials, splits * m * n);
    }

    /// <summary>A view's first element within its buffer (a constrained call: no boxing of the view).</summary>
    private static long Offset<TView>(TView view) where TView : IContiguousArrayView => view.Index;

    private static int Tiles(int size, int tile) => (size + tile - 1) / tile;

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <inheritdoc />
    public void Transpose(DeviceBuffer x, DeviceBuffer y, int batch, int rows, int columns, bool accumulate)
    {
        int n = batch * rows * columns;
        if (n > 0) _transpose(n, V(x), V(y), rows, columns, accumulate ? 1 : 0);
    }

    /// <inheritdoc />
    public void Permute(DeviceBuffer x, ReadOnlySpan<int> xShape, ReadOnlySpan<int> axes, DeviceBuffer y, bool accumulate)
    {
        Span<int> shape = stackalloc int[Broadcast.MaxRank], strides = stackalloc int[Broadcast.MaxRank];
        Indexing.PermutationWalk(xShape, axes, shape, strides);
        int n = Broadcast.Count(xShape), rank = xShape.Length;
        if (n == 0) return;
        var args = new PermuteArgs { Rank = rank, Accumulate = accumulate ? 1 : 0, Shape = Dims8.From(shape[..rank]), Strides = Dims8.From(strides[..rank]) };
        _permute(n, V(x), V(y), args);
    }

    // ---- indexing -----------------------------------------------------------------------------

    /// <inheritdoc />
    public void GatherRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int rows, int width)
    {
        if (n > 0 && width > 0) _gatherRows(n * width, V(table), V(indices), V(y), rows, width);
    }

    /// <inheritdoc />
    public void ScatterAddRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int rows, int width) =>
        ScatterAddSumRows(dy, indices, dTable, n, 1, rows, width);

    /// <inheritdoc />
    public void GatherSumRows(DeviceBuffer table, DeviceBuffer indices, DeviceBuffer y, int n, int taps, int rows, int width)
    {
        if (n > 0 && width > 0) _gatherSumRows(n * width, V(table), V(indices), V(y), taps, rows, width);
    }

    /// <inheritdoc />
    public void ScatterAddSumRows(DeviceBuffer dy, DeviceBuffer indices, DeviceBuffer dTable, int n, int taps, int rows, int width)
    {
        if (taps <= 0) return;
        n *= taps;   // the kernel walks the n·taps indices, each adding row i / taps of dy
        if (n <= 0 || rows <= 0 || width <= 0) return;
        // A table element's thread walks the indices; a codebook has few elements (64 x 16) and a batch many indices
        // (128 x 49), so the indices are cut into slices of ScatterSlice, one thread per (slice, element), and the
        // slices' partial sums added in slice order.
        int elements = rows * width, slices = Math.Clamp(n / ScatterSlice, 1, MaxScatterSlices);
        int sliceLength = (n + slices - 1) / slices;
        var args = new ScatterArgs { N = n, Taps = taps, Rows = rows, Width = width, SliceLength = sliceLength, Accumulate = 1 };
        if (slices == 1)
        {
            _scatterAddRows(elements, V(dy), V(indices), V(dTable), args);
            return;
        }
        var partials = Rent(slices * elements);
        _scatterAddRows(slices * elements, V(dy), V(indices), partials.View, args with { Accumulate = 0 });
        Reduce(partials.View, V(dTable), ReductionPlan.MiddleAxis(1, slices, elements), 1f, accumulate: true);
        Return(partials, slices * elements);
    }

    /// <summary>Indices per thread of the scatter-add (see <see cref="ScatterAddRows"/>), and the most slices.</summary>
    private const int ScatterSlice = 256, MaxScatterSlices = 256;

    /// <inheritdoc />
    public void OneHot(DeviceBuffer indices, DeviceBuffer y, int n, int classes)
    {
        if (n > 0 && classes > 0) _oneHot(n * classes, V(indices), V(y), classes);
    }

    /// <inheritdoc />
    public void ArgReduce(DeviceBuffer x, DeviceBuffer y, int outer, int length, int inner, bool max)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "argmin/argmax needs at least one element along the axis");
        if (outer * inner > 0) _argReduce(outer * inner, V(x), V(y), length, inner, max ? 1 : 0);
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer losses, int outer, int classes, int inner)
    {
        var lv = V(losses);
        if (outer * inner > 0) _crossEntropy(outer * inner, V(logits), V(targets), lv, lv, classes, inner, 0);
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropyBackward(DeviceBuffer logits, DeviceBuffer targets, DeviceBuffer dLosses, DeviceBuffer dLogits,
        int outer, int classes, int inner)
    {
        if (outer * inner > 0) _crossEntropy(outer * inner, V(logits), V(targets), V(dLosses), V(dLogits), classes, inner, 1);
    }

    // ---- convolution (im2col + GEMM, in chunks of images) ---------------------------------------

    private static ConvArgs Args(in ConvGeometry g, int images) => new()
    {
        C = g.InChannels, H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth,
        StrideH = g.StrideH, StrideW = g.StrideW, PadH = g.PadH, PadW = g.PadW,
        OutH = g.OutHeight, OutW = g.OutWidth, Images = images,
    };

    /// <summary>The sizes every convolution pass works with; images go through in chunks whose column matrix
    /// (<see cref="Crs"/> x chunk*<see cref="Pixels"/>) stays under <see cref="MaxColumnFloats"/>.</summary>
    private readonly record struct ConvSizes(int Crs, int Pixels, int InPerImage, int OutPerImage, int Chunk)
    {
        public static ConvSizes Of(in ConvGeometry g)
        {
            int crs = g.InChannels * g.KernelHeight * g.KernelWidth, pixels = g.OutHeight * g.OutWidth;
            return new(crs, pixels, g.InChannels * g.InHeight * g.InWidth, g.OutChannels * pixels,
                Math.Clamp(MaxColumnFloats / Math.Max(1, crs * pixels), 1, g.Batch));
        }

        public int ColumnFloats => Crs * Chunk * Pixels;
        public int OutputFloats => OutPerImage * Chunk;
    }

    /// <summary>
    /// dy of images [n0, n0 + nb) in the GEMM's [K, nb*P] layout: the chunk itself for one image, otherwise its
    /// [nb, K, P] swapped into <paramref name="scratch"/>.
    /// </summary>
    private ArrayView<float> GradientByChannel(ArrayView<float> dyv, int n0, int nb, in ConvGeometry g, in ConvSizes s,
        MemoryBuffer1D<float, Stride1D.Dense>? scratch)
    {
        var dyChunk = dyv.SubView(n0 * s.OutPerImage, nb * s.OutPerImage);
        if (nb == 1) return dyChunk;
        var byChannel = scratch!.View.SubView(0, nb * s.OutPerImage);
        _swapOuterAxes(nb * s.OutPerImage, dyChunk, byChannel, nb, g.OutChannels, s.Pixels, 0);   // [nb, K, P] -> [K, nb, P]
        return byChannel;
    }

    /// <inheritdoc />
    public void Conv2dForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, in ConvGeometry g)
    {
        g.Validate();
        ArrayView<float> xv = V(x), wv = V(w), yv = V(y);
        var s = ConvSizes.Of(g);
        var col = Rent(s.ColumnFloats);
        var product = s.Chunk > 1 ? Rent(s.OutputFloats) : null;
        for (int n0 = 0; n0 < g.Batch; n0 += s.Chunk)
        {
            int nb = Math.Min(s.Chunk, g.Batch - n0), columns = nb * s.Pixels;
            var colView = col.View.SubView(0, s.Crs * columns);
            _im2col(s.Crs * columns, xv.SubView(n0 * s.InPerImage, nb * s.InPerImage), colView, Args(g, nb));
            var yChunk = yv.SubView(n0 * s.OutPerImage, nb * s.OutPerImage);
            if (nb == 1)
            {
                // y[n] = W [K, CRS] x col [CRS, P], already in [K, P] order
                Gemm(wv, colView, yChunk, g.OutChannels, columns, s.Crs, false, false, false, 1f);
                continue;
            }
            var prod = product!.View.SubView(0, nb * s.OutPerImage);
            Gemm(wv, colView, prod, g.OutChannels, columns, s.Crs, false, false, false, 1f);
            _swapOuterAxes(nb * s.OutPerImage, prod, yChunk, g.OutChannels, nb, s.Pixels, 0);   // [K, nb, P] -> [nb, K, P]
        }
        Return(col, s.ColumnFloats);
        if (product != null) Return(product, s.OutputFloats);
    }

    /// <inheritdoc />
    public void Conv2dBackwardData(DeviceBuffer dy, DeviceBuffer w, DeviceBuffer dx, in ConvGeometry g)
    {
        var geometry = g;
        ArrayView<float> wv = V(w), dxv = V(dx);
        BackwardByChunk(dy, g, (n0, nb, s, colView, dyKnp) =>
        {
            // dcol [CRS, nb P] = W^T [CRS, K] x dy [K, nb P]; then gathered back onto the input
            Gemm(wv, dyKnp, colView, s.Crs, nb * s.Pixels, geometry.OutChannels, true, false, false, 1f);
            _col2im(nb * s.InPerImage, colView, dxv.SubView(n0 * s.InPerImage, nb * s.InPerImage), Args(geometry, nb));
        });
    }

    /// <inheritdoc />
    public void Conv2dBackwardWeight(DeviceBuffer x, DeviceBuffer dy, DeviceBuffer dw, in ConvGeometry g)
    {
        var geometry = g;
        ArrayView<float> xv = V(x), dwv = V(dw);
        BackwardByChunk(dy, g, (n0, nb, s, colView, dyKnp) =>
        {
            // dW [K, CRS] += dy [K, nb P] x col^T (col stored [CRS, nb P])
            _im2col((int)colView.Length, xv.SubView(n0 * s.InPerImage, nb * s.InPerImage), colView, Args(geometry, nb));
            Gemm(dyKnp, colView, dwv, geometry.OutChannels, s.Crs, nb * s.Pixels, false, true, true, 1f);
        });
    }

    /// <summary>
    /// The frame of both backward passes: for each chunk of images (first image, count), the column buffer for it and
    /// dy of those images as [K, nb P], with the scratch rented once for all chunks.
    /// </summary>
    private void BackwardByChunk(DeviceBuffer dy, in ConvGeometry g,
        Action<int, int, ConvSizes, ArrayView<float>, ArrayView<float>> step)
    {
        g.Validate();
        var dyv = V(dy);
        var s = ConvSizes.Of(g);
        var col = Rent(s.ColumnFloats);
        var scratch = s.Chunk > 1 ? Rent(s.OutputFloats) : null;
        for (int n0 = 0; n0 < g.Batch; n0 += s.Chunk)
        {
            int nb = Math.Min(s.Chunk, g.Batch - n0);
            step(n0, nb, s, col.View.SubView(0, s.Crs * nb * s.Pixels), GradientByChannel(dyv, n0, nb, g, s, scratch));
        }
        Return(col, s.ColumnFloats);
        if (scratch != null) Return(scratch, s.OutputFloats);
    }

    // ---- optimisers ---------------------------------------------------------------------------

    /// <inheritdoc />
    public void AdamStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, in AdamParameters h)
    {
        if (n <= 0) return;
        bool decoupled = h.DecoupledWeightDecay;
        var args = new AdamArgs
        {
            LearningRate = h.LearningRate, Beta1 = h.Beta1, Beta2 = h.Beta2, Epsilon = h.Epsilon,
            Correction1 = 1f / (1f - MathF.Pow(h.Beta1, h.Step)),
            Correction2 = 1f / (1f - MathF.Pow(h.Beta2, h.Step)),
            Decay = decoupled ? 1f - h.LearningRate * h.WeightDecay : 1f,   // AdamW shrinks p first
            L2 = decoupled ? 0f : h.WeightDecay,                             // Adam adds wd p to the gradient
        };
        _adam(n, V(p), V(g), V(m), V(v), args);
    }

    /// <inheritdoc />
    public void SgdStep(DeviceBuffer p, DeviceBuffer g, DeviceBuffer velocity, int n, float learningRate, float momentum, float weightDecay)
    {
        if (n > 0) _sgd(n, V(p), V(g), V(velocity), learningRate, momentum, weightDecay);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try { _accelerator.Synchronize(); } catch (Exception e) when (e is not OutOfMemoryException) { /* device lost: still free */ }
        _pool.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static void CheckRange(GpuBuffer buffer, int offset, int length, string name)
    {
        if (offset < 0 || length < 0 || (long)offset + length > buffer.Length)
            throw new ArgumentOutOfRangeException(name, $"range [{offset}, {offset + length}) is outside a buffer of {buffer.Length} floats");
    }

    private GpuBuffer G(DeviceBuffer buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer is GpuBuffer g && ReferenceEquals(buffer.Backend, this))
        {
            ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
            return g;
        }
        throw new ArgumentException($"buffer belongs to backend '{buffer.Backend.Name}', not '{Name}'; move the tensor first");
    }

    /// <summary>The whole storage of a buffer: ops index it with their own sizes (like the CPU backends' arrays).</summary>
    private ArrayView<float> V(DeviceBuffer buffer) => G(buffer).Memory.View;
}
