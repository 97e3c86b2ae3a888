using NeuralCore.Kernels;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>The loss of one batch: the total that is optimised (summed over the batch) and its parts.</summary>
/// <param name="Total">Scalar tensor to call Backward on: reconstruction + beta * KL, summed over the batch.</param>
/// <param name="Reconstruction">Summed reconstruction loss (BCE or squared error).</param>
/// <param name="Kl">Summed KL divergence (VAE only).</param>
public sealed record LossParts(Tensor Total, Tensor Reconstruction, Tensor? Kl)
{
    /// <summary>Summed quantiser terms of a VQ-VAE (codebook and commitment losses); null for the other kinds.</summary>
    public Tensor? Quantization { get; init; }
}

/// <summary>
/// An autoencoder: encoder -> embedding -> decoder, all inputs and outputs as rows [batch, features].
/// Covers the plain AE and the denoising AE (which corrupts its input during training and reconstructs the
/// clean input), in MLP and convolutional forms. Build one from a <see cref="ModelSpec"/> with
/// <see cref="ModelFactory.Create"/>.
/// </summary>
public class Autoencoder : Module
{
    /// <summary>An autoencoder from its encoder and decoder; <paramref name="spec"/> describes them.</summary>
    public Autoencoder(ModelSpec spec, Module encoder, Module decoder)
    {
        spec.Validate();
        Spec = spec;
        Encoder = RegisterModule("encoder", encoder);
        Decoder = RegisterModule("decoder", decoder);
    }

    /// <summary>The architecture description (saved as model.json).</summary>
    public ModelSpec Spec { get; }
    /// <summary>Maps inputs [batch, features] to embeddings [batch, latent].</summary>
    public Module Encoder { get; }
    /// <summary>Maps embeddings [batch, latent] back to reconstructions (logits for a BCE loss).</summary>
    public Module Decoder { get; }

    /// <summary>The embedding of each row: [batch, features] -> [batch, latent] (for a VAE, the mean mu).</summary>
    public virtual Tensor Encode(Tensor input) => Encoder.Call(CheckInput(input), "encoder");

    /// <summary>Rows rebuilt from embeddings: [batch, latent] -> [batch, features].</summary>
    public Tensor Decode(Tensor embedding)
    {
        if (embedding.Shape.Rank != 2 || embedding.Shape[1] != Spec.Latent)
            throw new ArgumentException($"decode: expected embeddings [batch, {Spec.Latent}], got {embedding.Shape}");
        return Decoder.Call(embedding, "decoder");
    }

    /// <summary>Deterministic reconstruction (decoder of the embedding; no noise, no sampling).</summary>
    public override Tensor Forward(Tensor input) => Decode(Encode(input));

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="rows"/> ([count, width]) <paramref name="batchSize"/> rows at a time,
    /// in eval mode with gradients off, each batch in its own <see cref="TensorScope"/>; the mode is restored after.
    /// <paramref name="body"/> gets the batch [n, width] and the index of its first row. Evaluation, feature
    /// extraction and the denoising measurement all read a data set this way.
    /// </summary>
    public void ForEachBatch(float[] rows, int count, int width, int batchSize, Action<Tensor, int> body)
    {
        var backend = Parameters()[0].Backend;
        Inferring(() =>
        {
            for (int start = 0; start < count; start += batchSize)
            {
                int n = Math.Min(batchSize, count - start);
                using var scope = TensorScope.Begin();
                body(Tensor.FromArray(backend, rows.AsSpan(start * width, n * width), new Shape(n, width)), start);
            }
        });
    }

    /// <summary>
    /// The training loss of a batch of clean rows. A denoising model corrupts them first (in training mode);
    /// a VAE samples its latent with <paramref name="random"/>. Summed over the batch, as PyTorch's reduction='sum'.
    /// </summary>
    public virtual LossParts ComputeLoss(Tensor clean, SeededRandom random)
    {
        var input = Spec.IsDenoising && IsTraining ? Corrupt(clean, random) : clean;
        var reconstruction = ReconstructionLoss(Decode(Encode(input)), clean);
        return new LossParts(reconstruction, reconstruction, null);
    }

    /// <summary>
    /// How many random values the training loss of one row draws: a denoising model's corruption (one per input
    /// value, in training mode), a VAE's eps (one per latent unit); 0 for a plain autoencoder.
    /// </summary>
    public virtual int TrainingNoisePerRow => Spec.IsDenoising && IsTraining ? Spec.InputFeatures : 0;

    /// <summary>
    /// Draws the training noise of <c>noise.Length / TrainingNoisePerRow</c> rows, row after row, in one call: the same
    /// values, in the same order, that <see cref="ComputeLoss(Tensor, SeededRandom)"/> draws for a batch of those rows.
    /// A batch split into parts draws its noise once this way and gives each part its rows
    /// (<see cref="ComputeLoss(Tensor, ReadOnlySpan{float})"/>), so splitting a batch does not change its noise.
    /// </summary>
    public virtual void DrawTrainingNoise(SeededRandom random, Span<float> noise)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (TrainingNoisePerRow == 0) return;
        if (Spec.Noise == "gaussian") random.FillNormal(noise, 0f, Spec.NoiseLevel);
        else random.FillUniform(noise, 0f, 1f);   // one call for the batch, like torch.rand_like
    }

    /// <summary>
    /// The training loss of a batch with its noise given (<see cref="TrainingNoisePerRow"/> values per row, drawn by
    /// <see cref="DrawTrainingNoise"/>) instead of drawn: equal to <see cref="ComputeLoss(Tensor, SeededRandom)"/> with a
    /// generator that would have drawn those values.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="noise"/> does not hold <see cref="TrainingNoisePerRow"/> values per row.</exception>
    public virtual LossParts ComputeLoss(Tensor clean, ReadOnlySpan<float> noise)
    {
        RequireNoise(clean, noise);
        var input = Spec.IsDenoising && IsTraining ? Corrupt(clean, noise) : clean;
        var reconstruction = ReconstructionLoss(Decode(Encode(input)), clean);
        return new LossParts(reconstruction, reconstruction, null);
    }

    /// <summary>Throws when <paramref name="noise"/> is not <see cref="TrainingNoisePerRow"/> values per row of <paramref name="clean"/>.</summary>
    protected void RequireNoise(Tensor clean, ReadOnlySpan<float> noise)
    {
        ArgumentNullException.ThrowIfNull(clean);
        long expected = (long)clean.Shape[0] * TrainingNoisePerRow;
        if (noise.Length != expected)
            throw new ArgumentException($"{Spec.Kind}: the noise of {clean.Shape[0]} rows is {expected} values ({TrainingNoisePerRow} per row), got {noise.Length}", nameof(noise));
    }

    /// <summary>Summed BCE or squared error between a reconstruction and its target.</summary>
    protected Tensor ReconstructionLoss(Tensor reconstruction, Tensor target) => Spec.Loss == "mse"
        ? reconstruction.MseLoss(target, Reduction.Sum)
        : reconstruction.BinaryCrossEntropy(target, Reduction.Sum);

    /// <summary>
    /// The denoising corruption (not recorded by autograd): Gaussian noise clipped to [0, 1], or masking noise
    /// that zeroes each value with probability <see cref="ModelSpec.NoiseLevel"/>.
    /// </summary>
    public Tensor Corrupt(Tensor clean, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(random);
        // drawn into a pooled host array: no per-step garbage (a batch of noise is as large as the batch)
        var noise = System.Buffers.ArrayPool<float>.Shared.Rent(clean.Count);
        try
        {
            if (Spec.Noise == "gaussian") random.FillNormal(noise.AsSpan(0, clean.Count), 0f, Spec.NoiseLevel);
            else random.FillUniform(noise.AsSpan(0, clean.Count), 0f, 1f);   // one call for the batch, like torch.rand_like
            return Corrupt(clean, noise.AsSpan(0, clean.Count));
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(noise); }
    }

    /// <summary>
    /// The denoising corruption with its noise given: Gaussian values of standard deviation
    /// <see cref="ModelSpec.NoiseLevel"/> added and clipped to [0, 1], or uniform values in [0, 1) below the level masking.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="noise"/> is not one value per value of <paramref name="clean"/>.</exception>
    public Tensor Corrupt(Tensor clean, ReadOnlySpan<float> noise)
    {
        ArgumentNullException.ThrowIfNull(clean);
        if (noise.Length != clean.Count)
            throw new ArgumentException($"{Spec.Kind}: the corruption of {clean.Shape} needs {clean.Count} noise values, got {noise.Length}", nameof(noise));
        using var _ = Autograd.NoGrad();
        if (Spec.Noise == "gaussian")
        {
            var noisy = clean.Add(Tensor.FromArray(clean.Backend, noise, clean.Shape));
            return noisy.Relu().Sub(noisy.Sub(1f).Relu());   // clip to [0, 1] = relu(v) - relu(v - 1)
        }
        var mask = System.Buffers.ArrayPool<float>.Shared.Rent(clean.Count);
        for (int i = 0; i < clean.Count; i++) mask[i] = noise[i] < Spec.NoiseLevel ? 0f : 1f;
        var keep = Tensor.FromArray(clean.Backend, mask.AsSpan(0, clean.Count), clean.Shape);
        System.Buffers.ArrayPool<float>.Shared.Return(mask);
        return clean.Mul(keep);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the expected shape when <paramref name="input"/> is not [batch, InputFeatures]; returns it otherwise.</summary>
    protected Tensor CheckInput(Tensor input)
    {
        if (input.Shape.Rank != 2 || input.Shape[1] != Spec.InputFeatures)
            throw new ArgumentException($"{Spec.Kind}: expected input [batch, {Spec.InputFeatures}], got {input.Shape}");
        return input;
    }
}

/// <summary>
/// A variational autoencoder: the encoder body feeds two heads, mu and log-variance; training samples
/// z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) (the reparameterisation trick) and minimises
/// reconstruction + beta * KL(N(mu, sigma²) || N(0, I)).
/// </summary>
public sealed class VariationalAutoencoder : Autoencoder
{
    /// <summary>A VAE from its parts: the encoder body, the heads for the mean and the log-variance of q(z|x), and the decoder.</summary>
    public VariationalAutoencoder(ModelSpec spec, Module encoderBody, Linear muHead, Linear logVarHead, Module decoder)
        : base(spec, encoderBody, decoder)
    {
        MuHead = RegisterModule("mu", muHead);
        LogVarHead = RegisterModule("logvar", logVarHead);
    }

    /// <summary>The layer that maps the encoder's output to the mean of q(z|x).</summary>
    public Linear MuHead { get; }
    /// <summary>The layer that maps the encoder's output to the log-variance of q(z|x).</summary>
    public Linear LogVarHead { get; }

    /// <summary>Mean and log-variance of q(z | x), each [batch, latent].</summary>
    public (Tensor Mu, Tensor LogVar) EncodeDistribution(Tensor input)
    {
        var h = Encoder.Call(CheckInput(input), "encoder");
        return (MuHead.Call(h, "mu"), LogVarHead.Call(h, "logvar"));
    }

    /// <summary>The embedding is the mean mu.</summary>
    public override Tensor Encode(Tensor input) => EncodeDistribution(input).Mu;

    /// <summary>z = mu + exp(logvar / 2) * eps, eps drawn from <paramref name="random"/>.</summary>
    public Tensor Sample(Tensor mu, Tensor logVar, SeededRandom random)
    {
        var eps = Tensor.Normal(mu.Backend, random, 0f, 1f, mu.Shape);
        using var _ = Autograd.NameScope("reparameterize");
        return mu.Add(logVar.Mul(0.5f).Exp().Mul(eps));
    }

    /// <summary>One eps value per latent unit, in training and in evaluation.</summary>
    public override int TrainingNoisePerRow => Spec.Latent;

    /// <inheritdoc />
    public override void DrawTrainingNoise(SeededRandom random, Span<float> noise)
    {
        ArgumentNullException.ThrowIfNull(random);
        random.FillNormal(noise, 0f, 1f);
    }

    /// <inheritdoc />
    public override LossParts ComputeLoss(Tensor clean, SeededRandom random)
    {
        var (mu, logVar) = EncodeDistribution(clean);
        var z = Sample(mu, logVar, random);
        return VariationalLoss(clean, mu, logVar, z);
    }

    /// <inheritdoc />
    public override LossParts ComputeLoss(Tensor clean, ReadOnlySpan<float> noise)
    {
        RequireNoise(clean, noise);
        var (mu, logVar) = EncodeDistribution(clean);
        var eps = Tensor.FromArray(mu.Backend, noise, mu.Shape);
        Tensor z;
        using (Autograd.NameScope("reparameterize")) z = mu.Add(logVar.Mul(0.5f).Exp().Mul(eps));
        return VariationalLoss(clean, mu, logVar, z);
    }

    private LossParts VariationalLoss(Tensor clean, Tensor mu, Tensor logVar, Tensor z)
    {
        var reconstruction = ReconstructionLoss(Decode(z), clean);
        var kl = TensorOps.GaussianKlDivergence(mu, logVar, Reduction.Sum);
        var total = Spec.Beta == 1f ? reconstruction.Add(kl) : reconstruction.Add(kl.Mul(Spec.Beta));
        return new LossParts(total, reconstruction, kl);
    }

    /// <summary>Decodes <paramref name="count"/> samples z ~ N(0, I): [count, features].</summary>
    public Tensor Generate(int count, SeededRandom random)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), $"sample count must be positive, got {count}");
        var backend = MuHead.Weight.Backend;
        return Decode(Tensor.Normal(backend, random, 0f, 1f, count, Spec.Latent));
    }
}
