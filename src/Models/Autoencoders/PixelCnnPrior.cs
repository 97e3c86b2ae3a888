using System.Numerics.Tensors;
using System.Text.Json;
using NeuralCore.Kernels;
using NeuralCore.Models.Data;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>The architecture of a <see cref="PixelCnnPrior"/> (stored in the metadata of prior.safetensors).</summary>
public sealed class PriorSpec
{
    /// <summary>Number of codes K (the VQ-VAE's codebook size).</summary>
    public required int CodebookSize { get; init; }
    /// <summary>Rows of the code grid.</summary>
    public required int Height { get; init; }
    /// <summary>Columns of the code grid.</summary>
    public required int Width { get; init; }
    /// <summary>Channels of the residual stream (default 64).</summary>
    public int Channels { get; init; } = 64;
    /// <summary>Channels inside each residual block (default 32).</summary>
    public int Hidden { get; init; } = 32;
    /// <summary>Residual blocks (default 2).</summary>
    public int Blocks { get; init; } = 2;
    /// <summary>Kernel size of the first (mask A) convolution (default 7).</summary>
    public int FirstKernel { get; init; } = 7;

    /// <summary>Throws a one-line error naming the setting at fault.</summary>
    public void Validate()
    {
        if (CodebookSize is < 2 or > VqSettings.MaxCodebookSize) throw new ArgumentOutOfRangeException(nameof(CodebookSize), $"prior codebook size must be in [2, {VqSettings.MaxCodebookSize}], got {CodebookSize}");
        if (Height is < 1 or > 64 || Width is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(Height), $"prior grid must be between 1x1 and 64x64, got {Height}x{Width}");
        if (Channels is < 1 or > 1024 || Hidden is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(Channels), $"prior channels must be in [1, 1024], got {Channels} and {Hidden}");
        if (Blocks is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(Blocks), $"prior blocks must be in [0, 32], got {Blocks}");
        if (FirstKernel is < 1 or > 15 || FirstKernel % 2 == 0) throw new ArgumentOutOfRangeException(nameof(FirstKernel), $"the first kernel must be odd and in [1, 15], got {FirstKernel}");
    }

    /// <summary>The spec as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, int>
    {
        ["codebook_size"] = CodebookSize, ["height"] = Height, ["width"] = Width, ["channels"] = Channels,
        ["hidden"] = Hidden, ["blocks"] = Blocks, ["first_kernel"] = FirstKernel,
    }, PriorJson.Default.DictionaryStringInt32);

    /// <summary>Parses <see cref="ToJson"/>'s text; errors name <paramref name="source"/>.</summary>
    /// <exception cref="DataFormatException">Not a valid prior description.</exception>
    public static PriorSpec FromJson(string json, string source)
    {
        try
        {
            var d = JsonSerializer.Deserialize(json, PriorJson.Default.DictionaryStringInt32) ?? throw new FormatException("null");
            var spec = new PriorSpec
            {
                CodebookSize = d["codebook_size"], Height = d["height"], Width = d["width"],
                Channels = d.GetValueOrDefault("channels", 64), Hidden = d.GetValueOrDefault("hidden", 32),
                Blocks = d.GetValueOrDefault("blocks", 2), FirstKernel = d.GetValueOrDefault("first_kernel", 7),
            };
            spec.Validate();
            return spec;
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or ArgumentException)
        {
            throw new DataFormatException($"{source}: invalid prior description: {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}

/// <summary>
/// An autoregressive prior over a VQ-VAE's code grids (a small PixelCNN without gating, as in the reference):
/// one-hot codes -> masked conv A -> residual blocks [ReLU, 1x1, ReLU, masked B 3x3, ReLU, 1x1] -> ReLU, masked B 1x1,
/// ReLU -> 1x1 to K logits per cell. The logits of a cell depend only on the cells before it in raster order, so
/// p(grid) = prod p(c_i | c_&lt;i) is learned in one pass and sampled cell by cell.
/// </summary>
public sealed class PixelCnnPrior : Module
{
    private readonly MaskedConv2d _first, _last;
    private readonly (Conv2d In, MaskedConv2d Mid, Conv2d Out)[] _blocks;
    private readonly Conv2d _output;

    /// <summary>A prior with weights drawn from <paramref name="random"/> (PyTorch's default initialisation, the reference's layer order).</summary>
    public PixelCnnPrior(PriorSpec spec, IBackend backend, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Spec = spec;
        int k = spec.CodebookSize, c = spec.Channels, h = spec.Hidden;
        _first = RegisterModule("a", new MaskedConv2d(backend, random, k, c, spec.FirstKernel, PixelCnnMaskType.A));
        _blocks = new (Conv2d, MaskedConv2d, Conv2d)[spec.Blocks];
        for (int i = 0; i < spec.Blocks; i++)
        {
            _blocks[i] = (RegisterModule($"res.{i}.0", new Conv2d(backend, random, c, h, 1)),
                          RegisterModule($"res.{i}.1", new MaskedConv2d(backend, random, h, h, 3, PixelCnnMaskType.B)),
                          RegisterModule($"res.{i}.2", new Conv2d(backend, random, h, c, 1)));
        }
        _last = RegisterModule("b", new MaskedConv2d(backend, random, c, c, 1, PixelCnnMaskType.B));
        _output = RegisterModule("out", new Conv2d(backend, random, c, k, 1));
        _firstTaps = UnmaskedTaps(spec.FirstKernel, includeCentre: false);
        _blockTaps = UnmaskedTaps(3, includeCentre: true);
    }

    // For every cell of one grid and every unmasked tap of a kernel, the cell under the tap (or -1 off the grid): the
    // same for every batch, so the per-step index building is a table lookup.
    private readonly int[] _firstTaps, _blockTaps;
    private readonly Dictionary<int, Tensor> _neighbours = [];
    private float[] _firstIndices = [];

    /// <summary>[cells, taps]: the cell under each unmasked tap of a <paramref name="size"/> kernel in raster order, -1 off the grid.</summary>
    private int[] UnmaskedTaps(int size, bool includeCentre)
    {
        int h = Spec.Height, w = Spec.Width, centre = size / 2, taps = centre * size + centre + (includeCentre ? 1 : 0);
        var cells = new int[h * w * taps];
        int at = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int t = 0; t < taps; t++)
                {
                    int yy = y + t / size - centre, xx = x + t % size - centre;
                    cells[at++] = yy >= 0 && xx >= 0 && xx < w ? yy * w + xx : -1;
                }
        return cells;
    }

    /// <summary>The architecture.</summary>
    public PriorSpec Spec { get; }
    private int Cells => Spec.Height * Spec.Width;
    private IBackend Backend => _output.Weight.Backend;

    /// <summary>One-hot code grids [batch, K, h, w] -> logits [batch, K, h, w].</summary>
    public override Tensor Forward(Tensor input) => Body(_first.Call(input, "a"));

    /// <summary>The layers after the first: its output [batch, C, h, w] -> logits [batch, K, h, w].</summary>
    private Tensor Body(Tensor x)
    {
        for (int i = 0; i < _blocks.Length; i++)
        {
            var (a, b, c) = _blocks[i];
            x = x.Add(c.Call(b.Call(a.Call(x.Relu()).Relu()).Relu()));
        }
        return _output.Call(_last.Call(x.Relu()).Relu(), "out");
    }

    /// <summary>Logits [count, K, h, w] for code grids [count·cells]; the same numbers as <see cref="Forward"/> of their one-hot grids.</summary>
    public Tensor Logits(ReadOnlySpan<int> codes)
    {
        int count = CheckCodes(codes);
        return LogitRows(codes).Reshape(count, Spec.Height, Spec.Width, Spec.CodebookSize).Permute(0, 3, 1, 2);
    }

    // Training runs channels-last: one row [C] per cell of every grid, [count·cells, C]. A 1x1 convolution is then one
    // GEMM over all cells (Linear with the [out, in, 1, 1] weight viewed as [out, in]), and a masked convolution is a
    // gather of each cell's neighbours under the unmasked taps - the first taps in raster order - followed by one GEMM
    // with those taps' weights. The masked taps are never read, so they get no gradient, exactly as with the mask.
    // Forward (one-hot NCHW through the convolution layers) computes the same logits; a test holds them equal.

    /// <summary>Logits [count·cells, K], one row per cell in image order.</summary>
    private Tensor LogitRows(ReadOnlySpan<int> codes)
    {
        int count = CheckCodes(codes);
        var x = FirstLayer(codes, count);
        var neighbours = NeighbourIndices(count);
        foreach (var (a, b, c) in _blocks)
        {
            var h = PriorOps.LinearRows(x.Relu(), a.Weight, a.Bias!, relu: true, zeroRow: true);   // the gather's table
            x = x.Add(Pointwise(c, MaskedRows(b, h, neighbours)));
        }
        return Pointwise(_output, Pointwise(_last, x.Relu(), relu: true));
    }

    /// <summary>A 1x1 convolution of cell rows [n, in] -> [n, out].</summary>
    private static Tensor Pointwise(ConvolutionLayer layer, Tensor rows, bool relu = false) => PriorOps.LinearRows(rows, layer.Weight, layer.Bias!, relu);

    /// <summary>A masked convolution of cell rows and the ReLU after it: gather the rows under the unmasked taps from
    /// <paramref name="table"/> (the n cell rows, then a zero row for taps off the grid), one GEMM.</summary>
    private static Tensor MaskedRows(MaskedConv2d layer, Tensor table, Tensor neighbours)
    {
        int cin = layer.InChannels, taps = neighbours.Shape[1];
        var patches = table.Gather(neighbours);   // [n, taps, cin], read as [n, taps·cin]
        int k = layer.KernelSize;
        var weight = layer.Weight.Permute(0, 2, 3, 1).Reshape(layer.OutChannels, k * k * cin).Slice(1, 0, taps * cin);
        return PriorOps.LinearRows(patches, weight, layer.Bias!, relu: true);
    }

    /// <summary>
    /// For every cell of <paramref name="count"/> grids, the row of each cell under the unmasked taps of a 3x3 mask-B
    /// kernel (raster order: the row above, the cell to the left, the cell itself); the index count·cells (a zero row)
    /// where the tap falls off the grid. [count·cells, taps] as floats, built once per batch size.
    /// </summary>
    private Tensor NeighbourIndices(int count)
    {
        if (_neighbours.TryGetValue(count, out var cached)) return cached;
        int cells = Cells, taps = _blockTaps.Length / cells;
        var indices = new float[count * cells * taps];
        for (int n = 0, at = 0; n < count; n++)
            foreach (int cell in _blockTaps) indices[at++] = cell < 0 ? count * cells : n * cells + cell;
        if (_neighbours.Count >= 4)
        {
            foreach (var t in _neighbours.Values) t.Dispose();
            _neighbours.Clear();
        }
        var tensor = Tensor.Persistent(Backend, new Shape(count * cells, taps));
        tensor.CopyFrom(indices);
        return _neighbours[count] = tensor;
    }

    /// <summary>
    /// The mask-A convolution of one-hot grids without the one-hot, as cell rows [count·cells, C]: the input has a
    /// single 1 per cell, so each output cell is the bias plus, for every unmasked tap, the weight column of the code
    /// under that tap - a sum of gathered rows of the weight viewed as a table [(code, r, s), C] (one gather-sum op,
    /// without a [cells, taps, C] intermediate), about K times less arithmetic than convolving the one-hot tensor, with
    /// the same result and gradient.
    /// </summary>
    private Tensor FirstLayer(ReadOnlySpan<int> codes, int count)
    {
        int k = Spec.CodebookSize, size = Spec.FirstKernel, channels = Spec.Channels, cells = Cells;
        int taps = _firstTaps.Length / cells;   // the rows above the centre and the cells left of it
        // the table: the weight's rows, a zero row for taps off the grid, and the bias as one more tap of every cell
        int kernelTaps = size * size, zeroRow = kernelTaps * k, biasRow = zeroRow + 1, width = taps + 1;
        if (_firstIndices.Length < count * cells * width) _firstIndices = new float[count * cells * width];
        var indices = _firstIndices.AsSpan(0, count * cells * width);   // uploaded (copied) below, so reused from step to step
        for (int n = 0, at = 0; n < count; n++)
        {
            var grid = codes.Slice(n * cells, cells);
            for (int cell = 0, j = 0; cell < cells; cell++)
            {
                for (int t = 0; t < taps; t++, j++)
                {
                    int source = _firstTaps[j];
                    indices[at++] = source < 0 ? zeroRow : grid[source] * kernelTaps + t;
                }
                indices[at++] = biasRow;
            }
        }
        var table = PriorOps.GatherTable(_first.Weight, _first.Bias!);   // row code·s·s + tap, then the zero and bias rows
        return table.GatherSum(Tensor.FromArray(Backend, indices, new Shape(count * cells, width)));
    }

    /// <summary>The codes as a float index tensor [count, h, w].</summary>
    private Tensor Targets(ReadOnlySpan<int> codes)
    {
        int count = CheckCodes(codes);
        var values = new float[codes.Length];
        for (int i = 0; i < values.Length; i++) values[i] = codes[i];
        return Tensor.FromArray(Backend, values, new Shape(count, Spec.Height, Spec.Width));
    }

    /// <summary>Mean negative log-likelihood per code (nats) of code grids [count·cells]: the training loss (a scalar).</summary>
    public Tensor Loss(ReadOnlySpan<int> codes)
    {
        return LogitRows(codes).CrossEntropy(Targets(codes).Reshape(codes.Length));
    }

    /// <summary>Mean NLL per code (nats) of code grids [count·cells], <paramref name="batchSize"/> grids at a time, no gradient.</summary>
    public double Nll(int[] codes, int batchSize = 500)
    {
        int count = CheckCodes(codes);
        double total = 0;
        Inferring(() =>
        {
            for (int start = 0; start < count; start += batchSize)
            {
                int n = Math.Min(batchSize, count - start);
                using var scope = TensorScope.Begin();
                total += Loss(codes.AsSpan(start * Cells, n * Cells)).Item() * n;
            }
        });
        return total / count;
    }

    /// <summary>
    /// Draws <paramref name="count"/> code grids by ancestral sampling: cell by cell in raster order, each from the
    /// softmax of its logits given the cells drawn before it. Returns [count·cells].
    /// </summary>
    /// <param name="count">Number of code grids.</param>
    /// <param name="random">The draws' generator.</param>
    /// <param name="temperature">Divides the logits before the softmax: 1 samples the prior as learned; below 1 favours
    /// each cell's likelier codes (cleaner images, less variety).</param>
    public int[] Sample(int count, SeededRandom random, float temperature = 1f)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), $"sample count must be positive, got {count}");
        if (!(temperature > 0f) || float.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"sampling temperature must be a positive finite number, got {temperature}");
        double inverseTemperature = 1.0 / temperature;
        int cells = Cells, k = Spec.CodebookSize;
        var codes = new int[count * cells];
        var p = new double[k];
        Inferring(() =>
        {
            for (int i = 0; i < cells; i++)
            {
                using var scope = TensorScope.Begin();
                var logits = LogitRows(codes).ToArray();
                for (int n = 0; n < count; n++)
                {
                    var row = logits.AsSpan((n * cells + i) * k, k);
                    float m = TensorPrimitives.Max(row);
                    double sum = 0;
                    for (int c = 0; c < k; c++) sum += p[c] = Math.Exp((row[c] - m) * inverseTemperature);
                    double u = random.NextFloat() * sum;
                    int chosen = k - 1;
                    for (int c = 0; c < k; c++)
                    {
                        u -= p[c];
                        if (u < 0) { chosen = c; break; }
                    }
                    codes[n * cells + i] = chosen;
                }
            }
        });
        return codes;
    }

    private int CheckCodes(ReadOnlySpan<int> codes)
    {
        int cells = Cells, k = Spec.CodebookSize;
        if (codes.Length == 0 || codes.Length % cells != 0)
            throw new ArgumentException($"prior: expected whole {Spec.Height}x{Spec.Width} code grids, got {codes.Length} codes", nameof(codes));
        for (int i = 0; i < codes.Length; i++)
            if ((uint)codes[i] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(codes), $"prior: code {codes[i]} at {i} is outside [0, {k})");
        return codes.Length / cells;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class PriorJson : System.Text.Json.Serialization.JsonSerializerContext;
