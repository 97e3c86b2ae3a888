using NeuralCore.Kernels;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>
/// A vector-quantised autoencoder (VQ-VAE, van den Oord et al. 2017): a convolutional encoder maps an image to a grid of
/// D-dimensional vectors (7x7 for 28x28 images), the <see cref="VectorQuantizer"/> replaces each by its nearest code,
/// and a convolutional decoder rebuilds the image from the codes. Its discrete codes are what a
/// <see cref="PixelCnnPrior"/> learns to generate. <see cref="Autoencoder.Encode"/> gives the quantised grid flattened
/// channel-first [batch, D·cells]; <see cref="Codes"/> the code indices [batch, cells].
/// </summary>
public sealed class VqVae : Autoencoder
{
    /// <summary>A VQ-VAE from its parts (<see cref="ModelFactory.Create"/> builds the reference architecture).</summary>
    /// <param name="spec">A "vqvae" spec.</param>
    /// <param name="encoder">Rows [batch, features] -> z_e [batch, D, h, w].</param>
    /// <param name="quantizer">The codebook.</param>
    /// <param name="decoder">Rows [batch, D·h·w] (channel-first) -> reconstructions [batch, features] (linear output).</param>
    public VqVae(ModelSpec spec, Module encoder, VectorQuantizer quantizer, Module decoder) : base(spec, encoder, decoder)
    {
        if (!spec.IsVectorQuantized) throw new ArgumentException($"VqVae needs a vqvae spec, got '{spec.Kind}'", nameof(spec));
        Quantizer = RegisterModule("quantizer", quantizer);
        GridHeight = spec.ImageShape![1] / 4;
        GridWidth = spec.ImageShape[2] / 4;
    }

    /// <summary>The codebook and its updates.</summary>
    public VectorQuantizer Quantizer { get; }
    /// <summary>Rows of the code grid (image height / 4).</summary>
    public int GridHeight { get; }
    /// <summary>Columns of the code grid (image width / 4).</summary>
    public int GridWidth { get; }
    /// <summary>Codes per image: <see cref="GridHeight"/> x <see cref="GridWidth"/>.</summary>
    public int Cells => GridHeight * GridWidth;
    /// <summary>Number of codes K.</summary>
    public int CodebookSize => Quantizer.Settings.CodebookSize;
    private int CodeDim => Quantizer.Settings.CodeDim;

    /// <summary>The encoder's outputs as rows [batch·cells, D], cell by cell in row-major order within each image.</summary>
    public Tensor EncodeRows(Tensor input)
    {
        var z = Encoder.Call(CheckInput(input), "encoder");   // [B, D, h, w]
        return z.Permute(0, 2, 3, 1).Reshape(z.Shape[0] * Cells, CodeDim);
    }

    /// <summary>Rows [batch·cells, D] back to the decoder's input [batch, D·cells] (channel-first).</summary>
    private Tensor RowsToGrid(Tensor rows)
    {
        int b = rows.Shape[0] / Cells;
        return rows.Reshape(b, GridHeight, GridWidth, CodeDim).Permute(0, 3, 1, 2).Reshape(b, CodeDim * Cells);
    }

    /// <summary>The quantised grid [batch, D·cells] (channel-first), the decoder's input.</summary>
    public override Tensor Encode(Tensor input) => RowsToGrid(Quantizer.Quantize(EncodeRows(input)).Quantized);

    /// <summary>The code index of every cell: [batch·cells] in image order, each image's cells row-major.</summary>
    public int[] Codes(Tensor input)
    {
        using var _ = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        return Quantizer.Nearest(EncodeRows(input));
    }

    /// <summary>Decodes code grids [count·cells] (values in [0, K)) to images [count, features].</summary>
    public Tensor DecodeCodes(ReadOnlySpan<int> codes)
    {
        if (codes.Length == 0 || codes.Length % Cells != 0)
            throw new ArgumentException($"decode codes: expected a whole number of {Cells}-code grids, got {codes.Length} codes", nameof(codes));
        int n = codes.Length, k = CodebookSize;
        var indices = new float[n];
        for (int i = 0; i < n; i++)
        {
            if ((uint)codes[i] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(codes), $"code {codes[i]} at {i} is outside the codebook [0, {k})");
            indices[i] = codes[i];
        }
        var rows = Quantizer.Codebook.Gather(Tensor.FromArray(Quantizer.Codebook.Backend, indices, new Shape(n)));
        return Decode(RowsToGrid(rows));
    }

    /// <summary>
    /// The reference recipe's loss, times the batch size (the trainer's losses are sums over the batch):
    /// rows · (mean((x̂ - x)^2) / var + [codebook loss] + beta · commitment). <see cref="LossParts.Reconstruction"/> is the
    /// summed squared error; <see cref="LossParts.Quantization"/> the summed quantiser terms.
    /// </summary>
    public override LossParts ComputeLoss(Tensor clean, SeededRandom random)
    {
        int rows = clean.Shape[0];
        var q = Quantizer.Quantize(EncodeRows(clean), random);
        var reconstruction = Decode(RowsToGrid(q.Quantized)).MseLoss(clean, Reduction.Sum);
        var vq = q.CodebookLoss == null ? q.Commitment : q.Commitment.Add(q.CodebookLoss);
        var total = reconstruction.Mul(1f / (Spec.Vq!.DataVariance * Spec.InputFeatures)).Add(vq.Mul(rows));
        return new LossParts(total, reconstruction, null) { Quantization = vq.Mul(rows) };
    }

    /// <summary>The population variance of <paramref name="values"/> (the training pixels), for <see cref="VqSettings.DataVariance"/>.</summary>
    public static float Variance(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return 1f;
        double sum = 0, squares = 0;
        foreach (float v in values) { sum += v; squares += (double)v * v; }
        double mean = sum / values.Length;
        return (float)Math.Max(squares / values.Length - mean * mean, 1e-12);
    }

    /// <summary>
    /// The code grids of <paramref name="rows"/> [count, features], <paramref name="batchSize"/> images at a time in
    /// eval mode: [count·cells].
    /// </summary>
    public int[] CodesOf(float[] rows, int count, int batchSize = 500)
    {
        var codes = new int[count * Cells];
        ForEachBatch(rows, count, Spec.InputFeatures, batchSize, (x, start) => Codes(x).CopyTo(codes, start * Cells));
        return codes;
    }

    /// <summary>Builds the reference architecture for <paramref name="spec"/>; see <see cref="ModelFactory.Create"/>.</summary>
    internal static VqVae Create(ModelSpec spec, IBackend backend, SeededRandom random)
    {
        int c = spec.ImageShape![0], h = spec.ImageShape[1], w = spec.ImageShape[2];
        var vq = spec.Vq!;
        int d = vq.CodeDim;
        // created in the reference's order (encoder, codebook, decoder) so that PyTorch's generator draws the same weights
        var encoder = new Sequential(
            new Layers.Reshape(c, h, w),
            new Conv2d(backend, random, c, 32, 3, 2, 1), new ReLU(),
            new Conv2d(backend, random, 32, 64, 3, 2, 1), new ReLU(),
            new Conv2d(backend, random, 64, d, 1));
        var quantizer = new VectorQuantizer(backend, random, vq);
        var decoder = new Sequential(
            new Layers.Reshape(d, h / 4, w / 4),
            new ConvTranspose2d(backend, random, d, 64, 3, 2, 1, 1), new ReLU(),
            new ConvTranspose2d(backend, random, 64, 32, 3, 2, 1, 1), new ReLU(),
            new Conv2d(backend, random, 32, c, 3, 1, 1),
            new Flatten());
        return new VqVae(spec, encoder, quantizer, decoder);
    }
}
