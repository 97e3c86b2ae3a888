using NeuralCore.Kernels;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>What <see cref="VectorQuantizer.Quantize"/> gives for a batch of encoder outputs.</summary>
/// <param name="Quantized">The chosen code vectors [n, D] with the straight-through gradient: its values are e_k, its
/// gradient flows unchanged to the encoder outputs z_e (z_e + sg[e_k - z_e]).</param>
/// <param name="Indices">The chosen code of each row, [n].</param>
/// <param name="Commitment">beta * mean((z_e - sg[e])^2): pulls the encoder towards its codes.</param>
/// <param name="CodebookLoss">mean((sg[z_e] - e)^2), which moves the codes; null with EMA updates (the codes then
/// follow moving averages instead of a gradient).</param>
public sealed record QuantizerOutput(Tensor Quantized, int[] Indices, Tensor Commitment, Tensor? CodebookLoss);

/// <summary>
/// The vector-quantised bottleneck of a VQ-VAE (van den Oord et al. 2017): each encoder output row z is replaced by
/// its nearest code e_k of a codebook [K, D], nearest by ||z||^2 - 2 z.e + ||e||^2 (one GEMM for the batch), with the
/// straight-through gradient. The codebook learns either from the codebook loss or from exponential moving averages
/// of the rows assigned to each code (Laplace-smoothed counts); codes no row chose for
/// <see cref="VqSettings.DeadCodeSteps"/> training steps are re-seeded from random rows of the batch.
/// EMA state and the steps since each code was last used are buffers (saved with the weights and in checkpoints, so a
/// resumed run continues exactly).
/// </summary>
public sealed class VectorQuantizer : Module
{
    /// <summary>Laplace smoothing of the EMA counts.</summary>
    public const float Epsilon = 1e-5f;

    private readonly float[] _codebook, _emaCount, _emaSum, _idle;
    private readonly long[] _usage;

    /// <summary>A codebook [K, D] drawn U(-1/K, 1/K) from <paramref name="random"/> (the reference's initialisation).</summary>
    public VectorQuantizer(IBackend backend, SeededRandom random, VqSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        int k = settings.CodebookSize, d = settings.CodeDim;
        var init = new float[k * d];
        random.FillUniform(init, -1f / k, 1f / k);
        var shape = new Shape(k, d);
        bool ema = settings.Update == "ema";
        Codebook = ema ? RegisterBuffer("codebook", Persistent(backend, init, shape)) : RegisterParameter("codebook", Tensor.Parameter(backend, init, shape));
        // The EMA starts from one pseudo-observation of each initial code, so a code nobody chooses stays where it is
        // (instead of its sum decaying while its smoothed count stays near epsilon, which blows it up).
        EmaCount = RegisterBuffer("ema_count", Persistent(backend, Enumerable.Repeat(1f, k).ToArray(), new Shape(k)));
        EmaSum = RegisterBuffer("ema_sum", Persistent(backend, init, shape));
        IdleSteps = RegisterBuffer("idle_steps", Persistent(backend, new float[k], new Shape(k)));
        _codebook = new float[k * d];
        _emaCount = new float[k];
        _emaSum = new float[k * d];
        _idle = new float[k];
        _usage = new long[k];
    }

    private static Tensor Persistent(IBackend backend, float[] values, Shape shape)
    {
        var t = Tensor.Persistent(backend, shape);
        t.CopyFrom(values);
        return t;
    }

    /// <summary>The codebook's settings.</summary>
    public VqSettings Settings { get; }
    /// <summary>The code vectors [K, D] (a parameter with codebook-loss updates, a buffer with EMA updates).</summary>
    public Tensor Codebook { get; }
    /// <summary>EMA of how many rows chose each code per step [K].</summary>
    public Tensor EmaCount { get; }
    /// <summary>EMA of the sum of the rows that chose each code [K, D].</summary>
    public Tensor EmaSum { get; }
    /// <summary>Training steps since each code was last chosen [K] (whole numbers stored as floats).</summary>
    public Tensor IdleSteps { get; }

    /// <summary>Codes re-seeded by dead-code restarts since this object was built.</summary>
    public int Restarts { get; private set; }

    /// <summary>How often each code was chosen since the last <see cref="ResetUsage"/> (training and evaluation alike).</summary>
    public IReadOnlyList<long> Usage => _usage;

    /// <summary>Starts a new count of <see cref="Usage"/>.</summary>
    public void ResetUsage() => Array.Clear(_usage);

    /// <summary>exp of the entropy of the code frequencies in <paramref name="usage"/>: K when all codes are equally
    /// frequent, 1 when one code takes everything (0 for no counts).</summary>
    public static double Perplexity(IReadOnlyList<long> usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        double total = usage.Sum(), entropy = 0;
        if (total == 0) return 0;
        foreach (long c in usage)
            if (c > 0) entropy -= c / total * Math.Log(c / total);
        return Math.Exp(entropy);
    }

    /// <summary>Rows [n, D] of encoder outputs -> the straight-through quantised rows [n, D] (see <see cref="Quantize"/>).</summary>
    public override Tensor Forward(Tensor input) => Quantize(input).Quantized;

    /// <summary>The index of the nearest code of each row of <paramref name="rows"/> [n, D] (no gradient).</summary>
    public int[] Nearest(Tensor rows)
    {
        using var _ = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        var indices = NearestCodes(rows).ToArray();
        var result = new int[indices.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (int)indices[i];
        return result;
    }

    /// <summary>
    /// The nearest code of each row as a float index tensor [n] (no gradient): argmin over k of
    /// ||z||^2 - 2 z.e_k + ||e_k||^2, whose cross term is one GEMM [n, D] x [D, K] for the batch.
    /// </summary>
    public Tensor NearestCodes(Tensor rows)
    {
        CheckRows(rows);
        using var _ = Autograd.NoGrad();
        var cross = rows.MatMul(Codebook, transposeB: true);
        var distances = rows.Mul(rows).Sum(1, keepDim: true).Add(Codebook.Mul(Codebook).Sum(1)).Sub(cross.Mul(2f));
        return distances.ArgMin(1);
    }

    /// <summary>
    /// Quantises encoder output rows [n, D]. In training mode also updates the codebook's EMA (with
    /// <see cref="VqSettings.Update"/> "ema") and restarts dead codes from random rows drawn with <paramref name="random"/>.
    /// </summary>
    public QuantizerOutput Quantize(Tensor rows, SeededRandom? random = null)
    {
        var chosen = NearestCodes(rows);
        var values = chosen.ToArray();   // the host needs them anyway: usage counts, EMA sums, restarts
        var indices = new int[values.Length];
        for (int i = 0; i < indices.Length; i++) _usage[indices[i] = (int)values[i]]++;
        bool ema = Settings.Update == "ema";
        // the gather's backward adds each row's gradient into the code it chose (the codebook loss's only path)
        var codes = (ema ? Codebook.Detach() : Codebook).Gather(chosen);
        var commitment = rows.MseLoss(codes.Detach()).Mul(Settings.Commitment);
        var codebookLoss = ema ? null : codes.MseLoss(rows.Detach());
        var quantized = rows.Add(codes.Detach().Sub(rows.Detach()));
        if (IsTraining && Autograd.IsGradEnabled) UpdateCodebook(rows, indices, random);
        return new QuantizerOutput(quantized, indices, commitment, codebookLoss);
    }

    /// <summary>One training step's EMA update and dead-code restarts (host arithmetic; K x D is small).</summary>
    private void UpdateCodebook(Tensor rows, int[] indices, SeededRandom? random)
    {
        bool ema = Settings.Update == "ema";
        int restartAfter = Settings.DeadCodeSteps;
        if (!ema && restartAfter == 0) return;
        int n = indices.Length, k = Settings.CodebookSize, d = Settings.CodeDim;
        float[] z = rows.ToArray();
        Codebook.CopyTo(_codebook);
        IdleSteps.CopyTo(_idle);
        var counts = new int[k];
        foreach (int i in indices) counts[i]++;
        if (ema)
        {
            EmaCount.CopyTo(_emaCount);
            EmaSum.CopyTo(_emaSum);
            float decay = Settings.Decay;
            var sums = new float[k * d];
            for (int i = 0; i < n; i++)
            {
                var target = sums.AsSpan(indices[i] * d, d);
                var row = z.AsSpan(i * d, d);
                for (int j = 0; j < d; j++) target[j] += row[j];
            }
            double total = 0;
            for (int c = 0; c < k; c++)
            {
                _emaCount[c] = decay * _emaCount[c] + (1 - decay) * counts[c];
                total += _emaCount[c];
                for (int j = 0; j < d; j++) _emaSum[c * d + j] = decay * _emaSum[c * d + j] + (1 - decay) * sums[c * d + j];
            }
            for (int c = 0; c < k; c++)
            {
                // Laplace smoothing keeps a rare code's count away from zero
                float smoothed = (float)((_emaCount[c] + Epsilon) / (total + k * Epsilon) * total);
                for (int j = 0; j < d; j++) _codebook[c * d + j] = _emaSum[c * d + j] / smoothed;
            }
        }
        // A dead code restarts at a random row of the batch, so revived codes land where the data is dense and split the
        // busiest codes' regions between them (which evens out the usage; seeding at the worst-served rows instead, as
        // k-means++ would, put codes on rare outliers and halved the perplexity on MNIST). Rows that sit exactly on
        // their code are skipped (identical inputs such as the blank background: a copy of that code never wins), and
        // no two codes restart on one row.
        double[]? weights = null;
        double weightSum = 0;
        double rarelyUsed = Math.Max(0.0, Settings.DeadCodeUsage * n - 1e-9);   // a count at or below this is idle
        for (int c = 0; c < k; c++)
        {
            _idle[c] = counts[c] > rarelyUsed ? 0 : _idle[c] + 1;
            if (restartAfter == 0 || _idle[c] < restartAfter) continue;
            if (weights == null)
            {
                weights = new double[n];
                for (int i = 0; i < n; i++)
                {
                    double d2 = 0;
                    for (int j = 0; j < d; j++)
                    {
                        double diff = z[i * d + j] - _codebook[indices[i] * d + j];
                        d2 += diff * diff;
                    }
                    weightSum += weights[i] = d2 > 1e-12 ? 1 : 0;
                }
            }
            int source = DrawRow(weights, ref weightSum, random, c);
            z.AsSpan(source * d, d).CopyTo(_codebook.AsSpan(c * d, d));
            if (ema)
            {
                _emaCount[c] = 1f;
                z.AsSpan(source * d, d).CopyTo(_emaSum.AsSpan(c * d, d));
            }
            _idle[c] = 0;
            Restarts++;
        }
        Codebook.CopyFrom(_codebook);
        IdleSteps.CopyFrom(_idle);
        if (ema)
        {
            EmaCount.CopyFrom(_emaCount);
            EmaSum.CopyFrom(_emaSum);
        }
    }

    /// <summary>A row index drawn with probability proportional to <paramref name="weights"/> (0 or 1), whose weight is then zeroed.</summary>
    private int DrawRow(double[] weights, ref double sum, SeededRandom? random, int code)
    {
        int n = weights.Length, chosen = (code * 7919 + Restarts) % n;   // without a generator: a fixed spread of rows
        if (sum > 0)
        {
            double u = (random?.NextFloat() ?? (chosen + 0.5) / n) * sum;
            for (int i = 0; i < n; i++)
            {
                u -= weights[i];
                if (u < 0 && weights[i] > 0) { chosen = i; break; }
            }
        }
        sum = Math.Max(0, sum - weights[chosen]);
        weights[chosen] = 0;
        return chosen;
    }

    private void CheckRows(Tensor rows)
    {
        if (rows.Shape.Rank != 2 || rows.Shape[1] != Settings.CodeDim)
            throw new ArgumentException($"vector quantizer: expected rows [n, {Settings.CodeDim}], got {rows.Shape}");
    }
}
