using NeuralCore.Kernels;

namespace NeuralCore;

/// <summary>
/// A float32 tensor: a shape plus contiguous row-major storage on one backend (the device).
/// Differentiable math on tensors lives in NeuralCore.Autograd (<c>TensorOps</c>); this type holds data,
/// creation and the autograd bookkeeping (<see cref="Grad"/>, <see cref="GradFn"/>).
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly Storage _storage;
    private bool _disposed;
    private bool _requiresGrad;

    internal Tensor(Storage storage, Shape shape, bool register = true)
    {
        if (shape.Count > storage.Buffer.Length)
            throw new ArgumentException($"shape {shape} needs {shape.Count} elements but the buffer holds {storage.Buffer.Length}");
        _storage = storage;
        Shape = shape;
        if (register) TensorScope.Register(this);
    }

    /// <summary>The dimensions, e.g. [batch, features].</summary>
    public Shape Shape { get; }

    /// <summary>Number of elements.</summary>
    public int Count => Shape.Count;

    /// <summary>The device this tensor lives on.</summary>
    public IBackend Backend => _storage.Buffer.Backend;

    /// <summary>The raw storage, for kernels. Valid until the tensor is disposed.</summary>
    public DeviceBuffer Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _storage.Buffer;
        }
    }

    /// <summary>Optional name shown in graph exports and error messages.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// Whether gradients flow to this tensor. Set it on leaves (parameters, inputs you want gradients for);
    /// results of ops on such tensors require gradients automatically.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!value && GradFn != null) throw new InvalidOperationException("cannot turn off gradients of a non-leaf tensor; use Detach()");
            _requiresGrad = value;
        }
    }

    /// <summary>True for tensors created by the user rather than by a recorded op.</summary>
    public bool IsLeaf => GradFn == null;

    /// <summary>The accumulated gradient after <c>Backward()</c> (leaves, and non-leaves that called RetainGrad).</summary>
    public Tensor? Grad
    {
        get => _grad;
        set
        {
            _grad = value;
            GradZeroPending = false;
        }
    }
    private Tensor? _grad;

    /// <summary>
    /// Whether <see cref="Grad"/> counts as all zeros although its buffer was not cleared (a deferred ZeroGrad):
    /// backward's first contribution overwrites the buffer instead of adding to it, and anything else that uses the
    /// gradient fills it with zeros first. Assigning <see cref="Grad"/> clears it.
    /// </summary>
    public bool GradZeroPending { get; internal set; }

    /// <summary>The op that produced this tensor (null for leaves or once the graph was freed).</summary>
    public GradNode? GradFn { get; private set; }

    /// <summary>Whether a non-leaf keeps its gradient after backward (see RetainGrad).</summary>
    public bool RetainsGrad { get; internal set; }

    /// <summary>Gradient hooks, run in order on the incoming gradient during backward (see RegisterHook).</summary>
    internal List<Func<Tensor, Tensor?>>? Hooks { get; set; }

    internal void SetGradFn(GradNode? node)
    {
        GradFn = node;
        if (node != null) _requiresGrad = true;
    }

    // ---- creation -------------------------------------------------------------------------------

    /// <summary>A tensor of zeros of the given shape on <paramref name="backend"/>.</summary>
    public static Tensor Zeros(IBackend backend, params int[] shape)
    {
        var s = new Shape(shape);
        return new Tensor(new Storage(backend.Allocate(s.Count)), s);
    }

    /// <summary>
    /// A tensor of the given shape whose values are unspecified (PyTorch's <c>torch.empty</c>), for a result that the
    /// caller overwrites in full before reading it: it skips clearing memory (see <see cref="IBackend.AllocateUninitialized"/>).
    /// </summary>
    public static Tensor Empty(IBackend backend, params int[] shape)
    {
        var s = new Shape(shape);
        return new Tensor(new Storage(backend.AllocateUninitialized(s.Count)), s);
    }

    /// <summary>A tensor of zeros shaped like <paramref name="other"/>, on its backend.</summary>
    public static Tensor ZerosLike(Tensor other) => new(new Storage(other.Backend.Allocate(other.Count)), other.Shape);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(IBackend backend, float value, params int[] shape)
    {
        var t = Zeros(backend, shape);
        if (value != 0f) backend.Fill(t.Buffer, value, 0, t.Count);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(IBackend backend, params int[] shape) => Full(backend, 1f, shape);

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor FromArray(IBackend backend, ReadOnlySpan<float> data, params int[] shape)
    {
        if (shape.Length == 0) shape = [data.Length];
        var s = new Shape(shape);
        if (s.Count != data.Length)
            throw new ArgumentException($"shape {s} needs {s.Count} values but {data.Length} values were given");
        var t = new Tensor(new Storage(backend.AllocateUninitialized(s.Count)), s);   // the upload writes every value
        backend.Upload(data, t.Buffer);
        return t;
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/> with shape <paramref name="shape"/>.</summary>
    public static Tensor FromArray(IBackend backend, ReadOnlySpan<float> data, Shape shape)
    {
        if (shape.Count != data.Length)
            throw new ArgumentException($"shape {shape} needs {shape.Count} values but {data.Length} values were given");
        var t = new Tensor(new Storage(backend.AllocateUninitialized(shape.Count)), shape);   // the upload writes every value
        backend.Upload(data, t.Buffer);
        return t;
    }

    /// <summary>A one-element tensor of shape [] (a scalar).</summary>
    public static Tensor Scalar(IBackend backend, float value)
    {
        var t = new Tensor(new Storage(backend.Allocate(1)), Shape.Scalar);
        backend.Fill(t.Buffer, value, 0, 1);
        return t;
    }

    /// <summary>Uniform values in [low, high) drawn from <paramref name="random"/>.</summary>
    public static Tensor Uniform(IBackend backend, SeededRandom random, float low, float high, params int[] shape) =>
        Drawn(backend, random, new Shape(shape), normal: false, low, high);

    /// <summary>Normal values N(mean, std^2) drawn from <paramref name="random"/>.</summary>
    public static Tensor Normal(IBackend backend, SeededRandom random, float mean, float std, params int[] shape) =>
        Drawn(backend, random, new Shape(shape), normal: true, mean, std);

    /// <summary>Normal values N(mean, std^2) of an existing tensor's shape (e.g. the noise of a training step).</summary>
    public static Tensor Normal(IBackend backend, SeededRandom random, float mean, float std, Shape shape) =>
        Drawn(backend, random, shape, normal: true, mean, std);

    /// <summary>Draws on the host into a pooled array (a VAE draws noise every step) and uploads it.</summary>
    private static Tensor Drawn(IBackend backend, SeededRandom random, Shape shape, bool normal, float a, float b)
    {
        var host = System.Buffers.ArrayPool<float>.Shared.Rent(shape.Count);
        var values = host.AsSpan(0, shape.Count);
        if (normal) random.FillNormal(values, a, b);
        else random.FillUniform(values, a, b);
        var t = FromArray(backend, values, shape);
        System.Buffers.ArrayPool<float>.Shared.Return(host);
        return t;
    }

    // ---- reading --------------------------------------------------------------------------------

    /// <summary>Copies the values to a new host array.</summary>
    public float[] ToArray()
    {
        var result = new float[Count];
        Backend.Download(Buffer, result);
        return result;
    }

    /// <summary>Copies the values into <paramref name="destination"/> (length must equal Count).</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Count) throw new ArgumentException($"destination holds {destination.Length} values, tensor {Shape} has {Count}");
        Backend.Download(Buffer, destination);
    }

    /// <summary>Overwrites the values from <paramref name="source"/> (length must equal Count). Not recorded by autograd.</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Count) throw new ArgumentException($"source holds {source.Length} values, tensor {Shape} has {Count}");
        Backend.Upload(source, Buffer);
    }

    /// <summary>The value of a one-element tensor (one device read).</summary>
    public float Item()
    {
        if (Count != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, this one has shape {Shape}");
        Span<float> one = stackalloc float[1];
        Backend.Download(Buffer, one);
        return one[0];
    }

    // ---- views and copies -------------------------------------------------------------------------

    /// <summary>A tensor with a new shape sharing this storage (no copy, not recorded by autograd).</summary>
    internal Tensor ViewAs(Shape shape)
    {
        if (shape.Count != Count) throw new ArgumentException($"cannot view shape {Shape} ({Count} elements) as {shape} ({shape.Count} elements)");
        _storage.AddReference();
        return new Tensor(_storage, shape);
    }

    /// <summary>A new tensor with the same values and no graph history.</summary>
    public Tensor Detach()
    {
        _storage.AddReference();
        return new Tensor(_storage, Shape);
    }

    /// <summary>A copy on <paramref name="backend"/> (the same tensor when already there). Not recorded by autograd.</summary>
    public Tensor To(IBackend backend)
    {
        if (ReferenceEquals(backend, Backend)) return this;
        return FromArray(backend, ToArray(), Shape.ToArray());
    }

    /// <summary>Takes this tensor out of the current <see cref="TensorScope"/> so it is not disposed with it.</summary>
    public Tensor MoveToOuterScope()
    {
        TensorScope.MoveOut(this);
        return this;
    }

    /// <summary>
    /// A trainable parameter: a copy of <paramref name="data"/> that requires gradients and that no
    /// <see cref="TensorScope"/> will dispose (it lives as long as its model).
    /// </summary>
    public static Tensor Parameter(IBackend backend, ReadOnlySpan<float> data, Shape shape)
    {
        if (shape.Count != data.Length)
            throw new ArgumentException($"parameter shape {shape} needs {shape.Count} values but {data.Length} values were given");
        var t = Unscoped(backend, shape);
        backend.Upload(data, t.Buffer);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>A zero tensor that no <see cref="TensorScope"/> will dispose (optimiser state, persistent buffers).</summary>
    public static Tensor Persistent(IBackend backend, Shape shape) => Unscoped(backend, shape);

    /// <summary>Creates a tensor that no scope will dispose (parameters, gradients, optimiser state).</summary>
    internal static Tensor Unscoped(IBackend backend, Shape shape) => new(new Storage(backend.Allocate(shape.Count)), shape, register: false);

    /// <summary>Wraps a result buffer the autograd layer allocated (registers it with the current scope).</summary>
    internal static Tensor Wrap(DeviceBuffer buffer, Shape shape) => new(new Storage(buffer), shape);

    /// <summary>Releases the storage (returned to the backend's pool when no view uses it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _storage.Release();
        GradFn = null;
    }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <inheritdoc />
    public override string ToString()
    {
        string name = Name != null ? $"'{Name}' " : "";
        string op = GradFn != null ? $", op={GradFn.OpName}" : "";
        return $"Tensor {name}{Shape} on {Backend.Name}{op}";
    }
}
