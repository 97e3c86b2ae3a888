namespace NeuralCore.Models.Layers;

/// <summary>
/// A building block of a network, as in PyTorch: <see cref="Forward"/> maps a tensor to a tensor;
/// parameters and sub-modules are registered explicitly (no reflection) and named by path, e.g.
/// "encoder.0.weight". Call a module through <see cref="Call"/> so hooks run and ops are tagged with its name.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = new();
    private readonly List<(string Name, Module Module)> _children = new();
    private readonly List<Action<Module, Tensor, Tensor>> _forwardHooks = new();

    /// <summary>True in training mode (the default); some modules (noise) behave differently in eval mode.</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>The computation. Implementations call children through <see cref="Call"/>.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Runs <see cref="Forward"/> inside a name scope (for graph exports and anomaly errors) and runs forward hooks.</summary>
    public Tensor Call(Tensor input, string? name = null)
    {
        using var _ = Autograd.NameScope(name ?? GetType().Name);
        var output = Forward(input);
        foreach (var hook in _forwardHooks) hook(this, input, output);
        return output;
    }

    /// <summary>Registers a hook called after every forward with (module, input, output). Dispose the result to remove it.</summary>
    public IDisposable RegisterForwardHook(Action<Module, Tensor, Tensor> hook)
    {
        _forwardHooks.Add(hook);
        return new Removal(() => _forwardHooks.Remove(hook));
    }

    /// <summary>
    /// Registers a hook called during backward with (module, gradient of the output). Dispose to remove it.
    /// It observes the gradient flowing out of this module's output on every later forward pass.
    /// </summary>
    public IDisposable RegisterBackwardHook(Action<Module, Tensor> hook)
    {
        void OnForward(Module m, Tensor input, Tensor output)
        {
            if (output.RequiresGrad) output.RegisterHook(g => { hook(m, g); return null; });
        }
        _forwardHooks.Add(OnForward);
        return new Removal(() => _forwardHooks.Remove(OnForward));
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() { _remove?.Invoke(); _remove = null; }
    }

    /// <summary>Adds a parameter under <paramref name="name"/>; returns it.</summary>
    protected Tensor RegisterParameter(string name, Tensor parameter)
    {
        if (!parameter.RequiresGrad) parameter.RequiresGrad = true;
        parameter.Name ??= name;
        _parameters.Add((name, parameter));
        return parameter;
    }

    /// <summary>
    /// Adds state that is saved and restored with the parameters (in <see cref="NamedParameters"/>, so model files and
    /// checkpoints carry it) but is not trained by gradients: it keeps <see cref="Tensor.RequiresGrad"/> false, so
    /// optimizers leave it alone and <see cref="ParameterCount"/> does not count it (like a PyTorch buffer).
    /// </summary>
    protected Tensor RegisterBuffer(string name, Tensor buffer)
    {
        buffer.Name ??= name;
        _parameters.Add((name, buffer));
        return buffer;
    }

    /// <summary>Adds a child module under <paramref name="name"/>; returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>Direct children with their names.</summary>
    public IEnumerable<(string Name, Module Module)> Children() => _children;

    /// <summary>All parameters of this module and its descendants, named by path ("encoder.0.weight").</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (prefix + name, p);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedParameters(prefix + name + "."))
                yield return item;
    }

    /// <summary>All parameters (see <see cref="NamedParameters"/>), buffers included.</summary>
    public IReadOnlyList<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter).ToList();

    /// <summary>The parameters that gradients train (buffers left out): what an optimizer updates.</summary>
    public IReadOnlyList<Tensor> TrainableParameters() => NamedParameters().Select(p => p.Parameter).Where(p => p.RequiresGrad).ToList();

    /// <summary>Total number of trainable values.</summary>
    public long ParameterCount() => TrainableParameters().Sum(p => (long)p.Count);

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Training mode for this module and its descendants.</summary>
    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach (var (_, child) in _children) child.Train(training);
        return this;
    }

    /// <summary>Evaluation mode (no noise injection).</summary>
    public Module Eval() => Train(false);

    /// <summary>Runs <paramref name="body"/> in evaluation mode with gradients off, then restores the mode.</summary>
    protected void Inferring(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        bool wasTraining = IsTraining;
        Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            body();
        }
        finally { Train(wasTraining); }
    }

    /// <inheritdoc />
    public override string ToString() => GetType().Name;
}
