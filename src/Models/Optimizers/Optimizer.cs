using NeuralCore.Kernels;

namespace NeuralCore.Models.Optimizers;

/// <summary>
/// Updates parameters from their gradients through the backend's fused step kernels. State (moments,
/// velocity) lives on the device next to the parameters and is exposed for checkpoints.
/// </summary>
public abstract class Optimizer
{
    /// <summary>An optimizer of <paramref name="parameters"/> with a positive <paramref name="learningRate"/>.</summary>
    protected Optimizer(IReadOnlyList<Tensor> parameters, float learningRate)
    {
        if (parameters.Count == 0) throw new ArgumentException("optimizer: no parameters to optimise");
        if (!(learningRate > 0) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), $"learning rate must be a positive number, got {learningRate}");
        Parameters = parameters;
        LearningRate = learningRate;
    }

    /// <summary>The parameters this optimiser updates.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>Step size; may be changed between steps (schedules).</summary>
    public float LearningRate { get; set; }

    /// <summary>Number of steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>Zeroes every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>
    /// Sets every parameter's gradient to zero without writing it (<see cref="TensorGradExtensions.ZeroGradDeferred"/>):
    /// backward then writes each gradient where <see cref="ZeroGrad"/> would have it add to zeros. <see cref="Step"/>
    /// clears those backward did not reach.
    /// </summary>
    public void ZeroGradDeferred()
    {
        foreach (var p in Parameters) p.ZeroGradDeferred();
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            p.SettleGrad();
            if (p.Grad != null) Update(i, p, p.Grad);
        }
    }

    /// <summary>Applies one step to parameter number <paramref name="index"/> from its <paramref name="gradient"/>.</summary>
    protected abstract void Update(int index, Tensor parameter, Tensor gradient);

    /// <summary>Named state tensors (for checkpoints), e.g. "3.exp_avg".</summary>
    public abstract IEnumerable<(string Name, Tensor State)> StateTensors();

    /// <summary>Restores the step counter (the tensors of <see cref="StateTensors"/> are restored in place by the caller).</summary>
    public void RestoreStepCount(int stepCount) => StepCount = stepCount;
}

/// <summary>Adam (Kingma &amp; Ba) with optional L2 weight decay, or AdamW (decoupled decay), as in PyTorch.</summary>
public class Adam : Optimizer
{
    private readonly Tensor[] _m, _v;

    /// <summary>Adam over <paramref name="parameters"/> with PyTorch's defaults; <paramref name="weightDecay"/> is L2 decay added to the gradient.</summary>
    public Adam(IReadOnlyList<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f) : this(parameters, learningRate, beta1, beta2, epsilon, weightDecay, false) { }

    /// <summary>Adam, or AdamW when <paramref name="decoupled"/> (the decay is applied to the weights, not the gradient).</summary>
    protected Adam(IReadOnlyList<Tensor> parameters, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool decoupled)
        : base(parameters, learningRate)
    {
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay; Decoupled = decoupled;
        _m = parameters.Select(p => Tensor.Persistent(p.Backend, p.Shape)).ToArray();
        _v = parameters.Select(p => Tensor.Persistent(p.Backend, p.Shape)).ToArray();
    }

    /// <summary>Decay of the first-moment estimate.</summary>
    public float Beta1 { get; }
    /// <summary>Decay of the second-moment estimate.</summary>
    public float Beta2 { get; }
    /// <summary>Added to the denominator for numerical stability.</summary>
    public float Epsilon { get; }
    /// <summary>Weight decay (L2, or decoupled for AdamW).</summary>
    public float WeightDecay { get; }
    /// <summary>True for AdamW: weight decay applied to the weights directly.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc />
    protected override void Update(int index, Tensor parameter, Tensor gradient) =>
        parameter.Backend.AdamStep(parameter.Buffer, gradient.Buffer, _m[index].Buffer, _v[index].Buffer, parameter.Count,
            new AdamParameters(LearningRate, Beta1, Beta2, Epsilon, WeightDecay, Decoupled, StepCount));

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor State)> StateTensors()
    {
        for (int i = 0; i < _m.Length; i++)
        {
            yield return ($"{i}.exp_avg", _m[i]);
            yield return ($"{i}.exp_avg_sq", _v[i]);
        }
    }
}

/// <summary>AdamW: Adam with decoupled weight decay (Loshchilov &amp; Hutter), PyTorch's default decay 0.01.</summary>
public sealed class AdamW(IReadOnlyList<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
    float epsilon = 1e-8f, float weightDecay = 0.01f)
    : Adam(parameters, learningRate, beta1, beta2, epsilon, weightDecay, true);

/// <summary>Stochastic gradient descent with momentum and L2 weight decay (PyTorch's formulation).</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _velocity;

    /// <summary>SGD over <paramref name="parameters"/>; momentum 0 is plain gradient descent.</summary>
    public Sgd(IReadOnlyList<Tensor> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f) : base(parameters, learningRate)
    {
        Momentum = momentum;
        WeightDecay = weightDecay;
        _velocity = parameters.Select(p => Tensor.Persistent(p.Backend, p.Shape)).ToArray();
    }

    /// <summary>Momentum factor.</summary>
    public float Momentum { get; }
    /// <summary>L2 weight decay, added to the gradient.</summary>
    public float WeightDecay { get; }

    /// <inheritdoc />
    protected override void Update(int index, Tensor parameter, Tensor gradient) =>
        parameter.Backend.SgdStep(parameter.Buffer, gradient.Buffer, _velocity[index].Buffer, parameter.Count, LearningRate, Momentum, WeightDecay);

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor State)> StateTensors()
    {
        for (int i = 0; i < _velocity.Length; i++) yield return ($"{i}.momentum_buffer", _velocity[i]);
    }
}
