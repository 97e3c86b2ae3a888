using System.Text.Json;
using NeuralCore.Models.Data;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// Everything needed to rebuild a model with no code: its kind, sizes, loss and noise, plus the data's
/// scaling. Stored as model.json next to model.safetensors.
/// </summary>
public sealed class ModelSpec
{
    /// <summary>The model kinds the command line accepts.</summary>
    public static readonly string[] Kinds = ["ae", "dae", "vae", "conv-ae", "conv-dae", "conv-vae", "vqvae"];

    /// <summary>"ae", "dae", "vae", "conv-ae", "conv-dae", "conv-vae" or "vqvae" (vector-quantised, see <see cref="VqVae"/>).</summary>
    public required string Kind { get; init; }

    /// <summary>Features per input row, e.g. 784 for MNIST or 13 for the wine table.</summary>
    public required int InputFeatures { get; init; }

    /// <summary>Image geometry [channels, height, width] for convolutional models (input rows are flattened images).</summary>
    public int[]? ImageShape { get; init; }

    /// <summary>Size of the embedding (latent space).</summary>
    public required int Latent { get; init; }

    /// <summary>Hidden layer sizes of the MLP encoder (mirrored by the decoder), e.g. [400].</summary>
    public int[] Hidden { get; init; } = [400];

    /// <summary>Reconstruction loss: "bce" (inputs in [0, 1], summed) or "mse" (summed squared error).</summary>
    public string Loss { get; init; } = "bce";

    /// <summary>Weight initialisation: "pytorch" (PyTorch's default, the peer's), "kaiming" (He normal) or "xavier".</summary>
    public string Init { get; init; } = "pytorch";

    /// <summary>Weight of the KL term of a VAE (beta-VAE when not 1).</summary>
    public float Beta { get; init; } = 1f;

    /// <summary>Corruption of a denoising model: "gaussian" (sigma = <see cref="NoiseLevel"/>, clipped to [0,1]) or "masking" (probability).</summary>
    public string Noise { get; init; } = "gaussian";

    /// <summary>Gaussian sigma or masking probability.</summary>
    public float NoiseLevel { get; init; } = 0.3f;

    /// <summary>Where the training data came from: "mnist" (the bundled set) or the absolute path of a CSV file or IDX directory.</summary>
    public string? Data { get; init; }

    /// <summary>SHA-256 of the training data (<see cref="DataFingerprint.Sha256"/>), so that a later use of <see cref="Data"/>
    /// can tell whether the data is still the same; null when unknown.</summary>
    public string? DataSha256 { get; init; }

    /// <summary>Column names of a CSV model, in order (inputs must match them).</summary>
    public string[]? Columns { get; init; }

    /// <summary>Per-feature min-max scaling of a CSV model (applied before encoding).</summary>
    public FeatureScaler? Scaler { get; init; }

    /// <summary>Settings of a vector-quantised model (kind "vqvae"): codebook, code grid and quantiser losses; null for the other kinds.</summary>
    public VqSettings? Vq { get; init; }

    /// <summary>True for the VAE kinds (vae, conv-vae).</summary>
    public bool IsVariational => Kind is "vae" or "conv-vae";
    /// <summary>True for the vector-quantised kind (vqvae).</summary>
    public bool IsVectorQuantized => Kind == "vqvae";
    /// <summary>True for the denoising kinds (dae, conv-dae).</summary>
    public bool IsDenoising => Kind.EndsWith("dae", StringComparison.Ordinal);
    /// <summary>True for the convolutional kinds (conv-ae, conv-dae, conv-vae).</summary>
    public bool IsConvolutional => Kind.StartsWith("conv-", StringComparison.Ordinal);

    /// <summary>Throws a one-line error for an invalid spec; the exception's <see cref="ArgumentException.ParamName"/> is the property at fault.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of its range.</exception>
    /// <exception cref="ArgumentException">An unknown name, or image data that does not fit a convolutional model.</exception>
    public void Validate()
    {
        if (!Kinds.Contains(Kind)) throw new ArgumentException($"unknown model '{Kind}'; choose one of {string.Join(", ", Kinds)}", nameof(Kind));
        if (InputFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(InputFeatures), $"input features must be positive, got {InputFeatures}");
        if (Latent <= 0) throw new ArgumentOutOfRangeException(nameof(Latent), $"latent size must be positive, got {Latent}");
        if (Hidden.Any(h => h <= 0)) throw new ArgumentOutOfRangeException(nameof(Hidden), $"hidden sizes must be positive, got [{string.Join(", ", Hidden)}]");
        if (Loss is not ("bce" or "mse")) throw new ArgumentException($"unknown loss '{Loss}'; choose bce or mse", nameof(Loss));
        if (Init is not ("pytorch" or "kaiming" or "xavier")) throw new ArgumentException($"unknown init '{Init}'; choose pytorch, kaiming or xavier", nameof(Init));
        if (Noise is not ("gaussian" or "masking")) throw new ArgumentException($"unknown noise '{Noise}'; choose gaussian or masking", nameof(Noise));
        if (IsVectorQuantized) ValidateVq();
        else if (Vq != null) throw new ArgumentException($"codebook settings belong to a vqvae model, not to '{Kind}'", nameof(Vq));
        if (IsConvolutional)
        {
            if (ImageShape is not { Length: 3 } || ImageShape.Any(d => d <= 0) || (long)ImageShape[0] * ImageShape[1] * ImageShape[2] != InputFeatures)
                throw new ArgumentException($"convolutional model '{Kind}' needs image data [channels, height, width] matching {InputFeatures} features", nameof(ImageShape));
            if (ImageShape[1] % 4 != 0 || ImageShape[2] % 4 != 0)
                throw new ArgumentException($"convolutional models need image sides divisible by 4, got {ImageShape[1]}x{ImageShape[2]}; use an MLP model (ae, dae, vae)", nameof(ImageShape));
        }
        if (Hidden.Length > MaxHiddenLayers) throw new ArgumentOutOfRangeException(nameof(Hidden), $"{Hidden.Length} hidden layers is more than the limit of {MaxHiddenLayers}");
        long parameters = EstimatedParameters();
        if (parameters > MaxParameters)
            throw new ArgumentOutOfRangeException(nameof(Hidden),
                $"the model would have about {parameters:N0} parameters, above the limit of {MaxParameters:N0}; use smaller ModelSpec.Hidden / ModelSpec.Latent sizes");
        // evaluation runs MemoryLimit.EvaluationRows rows at once whatever the training batch, so even loading a model to
        // score it needs this much; checked here so that a model.json of very wide layers is refused before anything is built
        long minimum = EstimatedTrainingBytes(1);
        if (minimum > MemoryLimit.MaxTrainingBytes)
            throw new ArgumentOutOfRangeException(nameof(Hidden),
                $"the model would need about {MemoryLimit.Describe(minimum)} to train or evaluate even with small batches (its widest layers times {MemoryLimit.EvaluationRows} rows), " +
                $"above the limit of {MemoryLimit.Describe(MemoryLimit.MaxTrainingBytes)}; use smaller ModelSpec.Hidden / ModelSpec.Latent sizes");
    }

    private void ValidateVq()
    {
        if (ImageShape is not { Length: 3 } || ImageShape.Any(d => d <= 0) || (long)ImageShape[0] * ImageShape[1] * ImageShape[2] != InputFeatures)
            throw new ArgumentException($"model 'vqvae' needs image data [channels, height, width] matching {InputFeatures} features", nameof(ImageShape));
        if (ImageShape[1] % 4 != 0 || ImageShape[2] % 4 != 0)
            throw new ArgumentException($"vqvae needs image sides divisible by 4, got {ImageShape[1]}x{ImageShape[2]}", nameof(ImageShape));
        if (Loss != "mse") throw new ArgumentException($"vqvae trains with the mse loss (a linear decoder output), got '{Loss}'", nameof(Loss));
        var vq = Vq ?? throw new ArgumentException("a vqvae model needs its codebook settings (ModelSpec.Vq)", nameof(Vq));
        vq.Validate();
        if (Latent != vq.CodeDim * GridCells)
            throw new ArgumentException($"the latent size of a vqvae is the code dimension times the code grid ({vq.CodeDim} x {GridCells} = {vq.CodeDim * GridCells}), got {Latent}", nameof(Latent));
    }

    /// <summary>Cells of a vqvae's code grid: (height / 4) x (width / 4), e.g. 49 for 28x28 images.</summary>
    public int GridCells => ImageShape is { Length: 3 } s ? (s[1] / 4) * (s[2] / 4) : 0;

    /// <summary>Most hidden layers a spec may list.</summary>
    public const int MaxHiddenLayers = 64;

    /// <summary>Largest accepted parameter count (2^25 floats, 128 MiB; training holds four times that with the gradients and
    /// Adam's moments, and a checkpoint copies three of them), so that a corrupt model.json or a typo cannot start a huge allocation.</summary>
    public const long MaxParameters = 1L << 25;

    /// <summary>
    /// Estimated memory to train this model with mini-batches of <paramref name="batchSize"/> rows: weights, gradients and
    /// two optimiser moments, plus a batch's activations and their gradients (the evaluation batch when larger), in
    /// 64-bit arithmetic that saturates instead of overflowing. Compared with <see cref="MemoryLimit.MaxTrainingBytes"/>
    /// before a trainer builds the model.
    /// </summary>
    public long EstimatedTrainingBytes(int batchSize)
    {
        long rows = Math.Max(batchSize, MemoryLimit.EvaluationRows / 2);
        long perRow;
        if (IsVectorQuantized)
        {
            // the widest activations: 32 channels at full size and 64 at half size, each with its im2col and gradient
            long pixels = (long)ImageShape![1] * ImageShape[2];
            perRow = pixels * (10L * ImageShape[0] + 32 * 4 + 64) + 8L * Latent;
        }
        else if (IsConvolutional)
        {
            // input, both convolutions and their im2col buffers, mirrored by the decoder
            long pixels = (long)ImageShape![1] * ImageShape[2];
            perRow = pixels * (10L * ImageShape[0] + 60) + 4L * 32 * (pixels / 16) + 3L * Latent;
        }
        else
        {
            perRow = 2L * InputFeatures + 2 * Hidden.Sum(h => (long)h) + (IsVariational ? 3L : 1L) * Latent;
        }
        long floats = MemoryLimit.SaturatingAdd(MemoryLimit.SaturatingMultiply(4, EstimatedParameters()), MemoryLimit.SaturatingMultiply(4 * rows, perRow));
        return MemoryLimit.SaturatingMultiply(sizeof(float), floats);
    }

    /// <summary>
    /// Throws when training this model with <paramref name="batchSize"/> rows per batch would need more than
    /// <see cref="MemoryLimit.MaxTrainingBytes"/>; the message names the sizes to lower.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The estimate is above the limit.</exception>
    public void ValidateTrainingMemory(int batchSize)
    {
        Validate();
        long bytes = EstimatedTrainingBytes(batchSize);
        if (bytes > MemoryLimit.MaxTrainingBytes)
            throw new ArgumentOutOfRangeException(nameof(Hidden),
                $"training {Kind} with batches of {batchSize} rows would need about {MemoryLimit.Describe(bytes)} (weights, gradients, optimiser state and activations), " +
                $"above the limit of {MemoryLimit.Describe(MemoryLimit.MaxTrainingBytes)}; use smaller ModelSpec.Hidden / ModelSpec.Latent sizes or a smaller TrainingOptions.BatchSize");
    }

    /// <summary>Approximate parameter count (weights of the dense layers and of the convolutions), computed without overflow.</summary>
    private long EstimatedParameters()
    {
        if (IsVectorQuantized)
        {
            long c = ImageShape![0], d = Vq!.CodeDim, k = Vq.CodebookSize;
            return 9 * c * 32 + 9 * 32 * 64 + 64 * d + 9 * d * 64 + 9 * 64 * 32 + 9 * 32 * c + 2 * k * d + k + 300;
        }
        if (IsConvolutional)
        {
            long flat = 32L * (ImageShape![1] / 4) * (ImageShape[2] / 4);
            return 2 * 9 * (16L * ImageShape[0] + 16 * 32) + 3 * (flat + 1) * Latent;
        }
        long total = 0, width = InputFeatures;
        foreach (int h in Hidden.Append(Latent))
        {
            total += 2 * (width + 1) * h;   // encoder layer and its mirror in the decoder
            width = h;
        }
        return total + (IsVariational ? (width + 1) * Latent : 0);
    }

    /// <summary>The spec as indented JSON.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", "neuralcore-model");
            w.WriteNumber("version", 1);
            w.WriteString("kind", Kind);
            w.WriteNumber("input_features", InputFeatures);
            if (ImageShape != null) WriteInts(w, "image_shape", ImageShape);
            w.WriteNumber("latent", Latent);
            WriteInts(w, "hidden", Hidden);
            w.WriteString("loss", Loss);
            w.WriteNumber("beta", Beta);
            w.WriteString("init", Init);
            w.WriteString("noise", Noise);
            w.WriteNumber("noise_level", NoiseLevel);
            if (Data != null) w.WriteString("data", Data);
            if (DataSha256 != null) w.WriteString("data_sha256", DataSha256);
            if (Vq != null)
            {
                w.WritePropertyName("vq");
                Vq.WriteJson(w);
            }
            if (Columns != null)
            {
                w.WriteStartArray("columns");
                foreach (var c in Columns) w.WriteStringValue(c);
                w.WriteEndArray();
            }
            if (Scaler != null)
            {
                w.WritePropertyName("scaler");
                Scaler.WriteJson(w);
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteInts(Utf8JsonWriter w, string name, int[] values)
    {
        w.WriteStartArray(name);
        foreach (int v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    /// <summary>Parses model.json; errors name <paramref name="source"/> and the problem.</summary>
    public static ModelSpec FromJson(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var f) || f.GetString() != "neuralcore-model")
                throw new FormatException("not a NeuralCore model description (missing \"format\": \"neuralcore-model\")");
            int[]? Ints(string name) => root.TryGetProperty(name, out var e) ? e.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
            string? Str(string name) => root.TryGetProperty(name, out var e) ? e.GetString() : null;
            var spec = new ModelSpec
            {
                Kind = Str("kind") ?? throw new FormatException("missing \"kind\""),
                InputFeatures = root.GetProperty("input_features").GetInt32(),
                ImageShape = Ints("image_shape"),
                Latent = root.GetProperty("latent").GetInt32(),
                Hidden = Ints("hidden") ?? [400],
                Loss = Str("loss") ?? "bce",
                Beta = root.TryGetProperty("beta", out var b) ? b.GetSingle() : 1f,
                Init = Str("init") ?? "pytorch",
                Noise = Str("noise") ?? "gaussian",
                NoiseLevel = root.TryGetProperty("noise_level", out var n) ? n.GetSingle() : 0.3f,
                Data = Str("data"),
                DataSha256 = Str("data_sha256"),
                Columns = root.TryGetProperty("columns", out var c) ? c.EnumerateArray().Select(x => x.GetString() ?? "").ToArray() : null,
                Scaler = root.TryGetProperty("scaler", out var s) ? FeatureScaler.FromJson(s) : null,
                Vq = root.TryGetProperty("vq", out var vq) ? VqSettings.FromJson(vq) : null,
            };
            spec.Validate();
            return spec;
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or ArgumentException or DataFormatException)
        {
            throw new DataFormatException($"{source}: invalid model description: {e.Message.ReplaceLineEndings(" ")}");
        }
    }
}
