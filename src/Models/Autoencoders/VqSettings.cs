using System.Text.Json;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// The codebook of a vector-quantised autoencoder and how it learns (<see cref="ModelSpec.Vq"/>; model.json's "vq").
/// The defaults are the ones that keep the codebook in use on MNIST (see README: EMA updates with dead-code restarts).
/// </summary>
public sealed class VqSettings
{
    /// <summary>Number of codes K (default 64).</summary>
    public int CodebookSize { get; init; } = 64;

    /// <summary>Dimension D of each code vector, the encoder's output channels (default 16).</summary>
    public int CodeDim { get; init; } = 16;

    /// <summary>
    /// How the codebook learns: "ema" (exponential moving averages of the encoder outputs assigned to each code, with
    /// Laplace smoothing of the counts; no codebook loss) or "loss" (the codebook loss mean((sg[z_e] - e)^2) by gradient).
    /// </summary>
    public string Update { get; init; } = "ema";

    /// <summary>Weight beta of the commitment loss mean((z_e - sg[e])^2) (default 0.25).</summary>
    public float Commitment { get; init; } = 0.25f;

    /// <summary>Decay of the EMA codebook updates (default 0.99).</summary>
    public float Decay { get; init; } = 0.99f;

    /// <summary>
    /// A code that no encoder output chose for this many training steps in a row is re-seeded from a random encoder
    /// output of the current batch; 0 turns restarts off (default 20 steps, a third of an epoch of MNIST-10k).
    /// </summary>
    public int DeadCodeSteps { get; init; } = 20;

    /// <summary>
    /// A step counts towards <see cref="DeadCodeSteps"/> when the code was chosen by fewer than this share of the
    /// batch's rows (0: only when it was not chosen at all; default 0.003, a fifth of a 64-code codebook's even share).
    /// Restarting rarely used codes as well spreads the usage over the codebook (a higher perplexity) instead of leaving
    /// codes that serve a handful of outliers.
    /// </summary>
    public float DeadCodeUsage { get; init; } = 0.003f;

    /// <summary>The reconstruction error is divided by this (the variance of the training pixels), as in the reference recipe.</summary>
    public float DataVariance { get; init; } = 1f;

    /// <summary>Throws a one-line error naming the setting at fault.</summary>
    /// <exception cref="ArgumentException">A setting is out of its range or an unknown name.</exception>
    public void Validate()
    {
        if (CodebookSize is < 2 or > MaxCodebookSize)
            throw new ArgumentOutOfRangeException(nameof(CodebookSize), $"codebook size must be in [2, {MaxCodebookSize}], got {CodebookSize}");
        if (CodeDim is < 1 or > MaxCodeDim)
            throw new ArgumentOutOfRangeException(nameof(CodeDim), $"code dimension must be in [1, {MaxCodeDim}], got {CodeDim}");
        if (Update is not ("ema" or "loss")) throw new ArgumentException($"unknown codebook update '{Update}'; choose ema or loss", nameof(Update));
        if (!(Commitment >= 0) || !float.IsFinite(Commitment))
            throw new ArgumentOutOfRangeException(nameof(Commitment), $"commitment weight must be 0 or a positive number, got {Commitment}");
        if (!(Decay > 0 && Decay < 1)) throw new ArgumentOutOfRangeException(nameof(Decay), $"EMA decay must be in (0, 1), got {Decay}");
        if (!(DeadCodeUsage >= 0 && DeadCodeUsage < 1)) throw new ArgumentOutOfRangeException(nameof(DeadCodeUsage), $"dead-code usage must be a share in [0, 1), got {DeadCodeUsage}");
        if (DeadCodeSteps < 0) throw new ArgumentOutOfRangeException(nameof(DeadCodeSteps), $"dead-code steps must be 0 (off) or more, got {DeadCodeSteps}");
        if (!(DataVariance > 0) || !float.IsFinite(DataVariance))
            throw new ArgumentOutOfRangeException(nameof(DataVariance), $"data variance must be a positive number, got {DataVariance}");
    }

    /// <summary>Largest accepted codebook.</summary>
    public const int MaxCodebookSize = 4096;
    /// <summary>Largest accepted code dimension.</summary>
    public const int MaxCodeDim = 512;

    internal void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("codebook_size", CodebookSize);
        w.WriteNumber("code_dim", CodeDim);
        w.WriteString("update", Update);
        w.WriteNumber("commitment", Commitment);
        w.WriteNumber("decay", Decay);
        w.WriteNumber("dead_code_steps", DeadCodeSteps);
        w.WriteNumber("dead_code_usage", DeadCodeUsage);
        w.WriteNumber("data_variance", DataVariance);
        w.WriteEndObject();
    }

    internal static VqSettings FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException("\"vq\" is not an object");
        var d = new VqSettings();
        return new VqSettings
        {
            CodebookSize = e.TryGetProperty("codebook_size", out var k) ? k.GetInt32() : d.CodebookSize,
            CodeDim = e.TryGetProperty("code_dim", out var c) ? c.GetInt32() : d.CodeDim,
            Update = e.TryGetProperty("update", out var u) ? u.GetString() ?? "" : d.Update,
            Commitment = e.TryGetProperty("commitment", out var b) ? b.GetSingle() : d.Commitment,
            Decay = e.TryGetProperty("decay", out var g) ? g.GetSingle() : d.Decay,
            DeadCodeSteps = e.TryGetProperty("dead_code_steps", out var s) ? s.GetInt32() : d.DeadCodeSteps,
            DeadCodeUsage = e.TryGetProperty("dead_code_usage", out var du) ? du.GetSingle() : d.DeadCodeUsage,
            DataVariance = e.TryGetProperty("data_variance", out var v) ? v.GetSingle() : d.DataVariance,
        };
    }
}
