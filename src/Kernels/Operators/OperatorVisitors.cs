namespace NeuralCore.Kernels;

// Each visitor is called with the operator type of an op by that op family's Visit (UnaryOperators, BinaryOperators,
// LossOperators): the generic code that runs ops (the CPU loop, the GPU kernels) is written once per family.

/// <summary>Receives the operator type of a <see cref="UnaryOp"/> (see <see cref="UnaryOperators.Visit"/>).</summary>
internal interface IUnaryOperatorVisitor
{
    /// <summary>Called once, with the operator of the op being dispatched.</summary>
    void Visit<TOp>() where TOp : struct, IUnaryOperator;
}

/// <summary>Receives the operator type of a <see cref="BinaryOp"/> (see <see cref="BinaryOperators.Visit"/>).</summary>
internal interface IBinaryOperatorVisitor
{
    /// <summary>Called once, with the operator of the op being dispatched.</summary>
    void Visit<TOp>() where TOp : struct, IBinaryOperator;
}

/// <summary>Receives the operator type of a <see cref="LossKind"/> (see <see cref="LossOperators.Visit"/>).</summary>
internal interface ILossOperatorVisitor
{
    /// <summary>Called once, with the operator of the loss being dispatched.</summary>
    void Visit<TOp>() where TOp : struct, ILossOperator;
}
