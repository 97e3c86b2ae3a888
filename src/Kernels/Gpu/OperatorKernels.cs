using ILGPU;
using ILGPU.Runtime;
using NeuralCore.Kernels.Gpu.Kernels;

namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// The generic op kernels of <see cref="ElementwiseKernels"/> and <see cref="ReductionKernels"/>, compiled for each op
/// on its first use (the enum-to-operator mapping is src/Kernels/Operators' visitors) and kept for the accelerator's life.
/// </summary>
internal sealed class OperatorKernels(Accelerator accelerator)
{
    public sealed record UnaryKernels(
        Action<Index1D, ArrayView<float>, ArrayView<float>, float> Forward,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float> Backward);

    public sealed record BinaryKernels(
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BroadcastWalk8> Forward,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, BroadcastWalk8> GradientTerm);

    public sealed record LossKernels(
        Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> Partials,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ReductionKernels.LossBackwardArgs> Backward);

    private enum Family { Unary, Binary, Loss }

    private readonly Dictionary<(Family, int), Loader> _loaded = [];

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="op"/> is not a defined <see cref="UnaryOp"/>.</exception>
    public UnaryKernels Unary(UnaryOp op) => Load(Family.Unary, (int)op).Unary!;

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="op"/> is not a defined <see cref="BinaryOp"/>.</exception>
    public BinaryKernels Binary(BinaryOp op) => Load(Family.Binary, (int)op).Binary!;

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined <see cref="LossKind"/>.</exception>
    public LossKernels Loss(LossKind kind) => Load(Family.Loss, (int)kind).Loss!;

    private Loader Load(Family family, int op)
    {
        lock (_loaded)
        {
            if (_loaded.TryGetValue((family, op), out var loaded)) return loaded;
            var loader = new Loader(accelerator);
            switch (family)
            {
                case Family.Unary: UnaryOperators.Visit((UnaryOp)op, ref loader); break;
                case Family.Binary: BinaryOperators.Visit((BinaryOp)op, ref loader); break;
                default: LossOperators.Visit((LossKind)op, ref loader); break;
            }
            return _loaded[(family, op)] = loader;
        }
    }

    /// <summary>Compiles the kernels of the operator it is visited with.</summary>
    private struct Loader(Accelerator acc) : IUnaryOperatorVisitor, IBinaryOperatorVisitor, ILossOperatorVisitor
    {
        public UnaryKernels? Unary;
        public BinaryKernels? Binary;
        public LossKernels? Loss;

        void IUnaryOperatorVisitor.Visit<TOp>() => Unary = new(
            acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(ElementwiseKernels.Unary<TOp>),
            acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(
                ElementwiseKernels.UnaryBackward<TOp>));

        void IBinaryOperatorVisitor.Visit<TOp>() => Binary = new(
            acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BroadcastWalk8>(ElementwiseKernels.Binary<TOp>),
            acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, BroadcastWalk8>(
                ElementwiseKernels.BinaryGradTerm<TOp>));

        void ILossOperatorVisitor.Visit<TOp>() => Loss = new(
            acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReductionKernels.LossPartials<TOp>),
            acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ReductionKernels.LossBackwardArgs>(ReductionKernels.LossBackward<TOp>));
    }
}
