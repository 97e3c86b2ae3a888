namespace NeuralCore;

/// <summary>Autograd entry points as tensor methods: Backward, RetainGrad, hooks, ZeroGrad.</summary>
public static class TensorGradExtensions
{
    /// <summary>Backpropagates from this tensor (usually a scalar loss). See <see cref="Autograd.Backward"/>.</summary>
    public static void Backward(this Tensor root, Tensor? gradient = null, bool retainGraph = false) =>
        Autograd.Backward(root, gradient, retainGraph);

    /// <summary>Keeps this intermediate tensor's gradient in <see cref="Tensor.Grad"/> after backward.</summary>
    public static Tensor RetainGrad(this Tensor tensor)
    {
        if (!tensor.RequiresGrad) throw new InvalidOperationException($"RetainGrad() on {tensor}, which does not require gradients");
        tensor.RetainsGrad = true;
        return tensor;
    }

    /// <summary>
    /// Registers a hook called with this tensor's gradient during backward. Return null to only observe,
    /// or a tensor of the same shape to replace the gradient. Dispose the result to remove the hook.
    /// </summary>
    public static IDisposable RegisterHook(this Tensor tensor, Func<Tensor, Tensor?> hook)
    {
        if (!tensor.RequiresGrad) throw new InvalidOperationException($"RegisterHook() on {tensor}, which does not require gradients");
        (tensor.Hooks ??= new List<Func<Tensor, Tensor?>>()).Add(hook);
        return new HookHandle(tensor, hook);
    }

    private sealed class HookHandle(Tensor tensor, Func<Tensor, Tensor?> hook) : IDisposable
    {
        public void Dispose()
        {
            tensor.Hooks?.Remove(hook);
            if (tensor.Hooks is { Count: 0 }) tensor.Hooks = null;
        }
    }

    /// <summary>Sets the accumulated gradient to zero (keeps the buffer).</summary>
    public static void ZeroGrad(this Tensor tensor)
    {
        tensor.GradZeroPending = false;
        if (tensor.Grad != null) tensor.Backend.Fill(tensor.Grad.Buffer, 0f, 0, tensor.Count);
    }

    /// <summary>
    /// Sets the accumulated gradient to zero without writing its buffer (<see cref="Tensor.GradZeroPending"/>): the
    /// next backward's first contribution overwrites the buffer instead of being added to zeros, which saves a pass
    /// over the gradient and the clearing. Until backward reaches the tensor, <see cref="Tensor.Grad"/>'s buffer still
    /// holds the old values: call <see cref="SettleGrad"/> before reading it (optimizers do).
    /// </summary>
    public static void ZeroGradDeferred(this Tensor tensor)
    {
        if (tensor.Grad != null) tensor.GradZeroPending = true;
    }

    /// <summary>Writes a pending zero (<see cref="ZeroGradDeferred"/>) into the gradient's buffer, so that it can be read.</summary>
    public static void SettleGrad(this Tensor tensor)
    {
        if (!tensor.GradZeroPending) return;
        tensor.GradZeroPending = false;
        tensor.Backend.Fill(tensor.Grad!.Buffer, 0f, 0, tensor.Count);
    }
}
