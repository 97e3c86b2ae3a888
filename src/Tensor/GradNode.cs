namespace NeuralCore;

/// <summary>
/// The backward half of an op: given the gradient of its output, accumulate (+=) into the gradient of each
/// input. <paramref name="gradientOf"/> returns the buffer to accumulate into for an input, or null when that
/// input needs no gradient.
/// </summary>
public delegate void BackwardFunction(Tensor outputGradient, Func<Tensor, Tensor?> gradientOf);

/// <summary>
/// One recorded operation in the autograd graph: the op that produced a tensor, the inputs it read, and the
/// function that turns the output's gradient into its inputs' gradients. Created by NeuralCore.Autograd.
/// </summary>
public sealed class GradNode
{
    internal GradNode(string opName, Tensor[] inputs, BackwardFunction backward, string? createdAt)
    {
        OpName = opName;
        Inputs = inputs;
        Backward = backward;
        CreatedAt = createdAt;
    }

    /// <summary>Name of the op, e.g. "matmul".</summary>
    public string OpName { get; }

    /// <summary>The tensors this op read (the graph's edges).</summary>
    public IReadOnlyList<Tensor> Inputs { get; private set; }

    /// <summary>Where the op was created (module path or call site) when anomaly mode records it.</summary>
    public string? CreatedAt { get; }

    /// <summary>Accumulates into the inputs' gradients given the output's gradient.</summary>
    internal BackwardFunction? Backward { get; private set; }

    /// <summary>Drops the closure and edges so the graph's memory can be reclaimed.</summary>
    internal void Free()
    {
        Backward = null;
        Inputs = [];
    }

    /// <inheritdoc />
    public override string ToString() => OpName;
}
