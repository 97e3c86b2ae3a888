using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Applications;

/// <summary>
/// Feature extraction: the embeddings of a whole data set, computed in batches without recording a graph.
/// A VAE's embedding is its mean mu.
/// </summary>
/// <example>
/// <code>
/// var model = ModelStore.Load("runs/conv-ae", new CpuBackend());
/// float[] z = Features.Encode(model, mnist.TestImages.Pixels, mnist.TestImages.Count);   // [2000, latent]
/// </code>
/// </example>
public static class Features
{
    /// <summary>Embeds rows [count, features] into [count, latent], in eval mode, <paramref name="batchSize"/> rows at a time.</summary>
    /// <param name="model">A trained autoencoder.</param>
    /// <param name="rows">Inputs, row-major [count, model.Spec.InputFeatures] (scaled like the training data).</param>
    /// <param name="count">Number of rows to embed (a prefix of <paramref name="rows"/>).</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    public static float[] Encode(Autoencoder model, float[] rows, int count, int batchSize = 500) =>
        MapBatches(model, rows, count, model.Spec.InputFeatures, model.Spec.Latent, batchSize, model.Encode);

    /// <summary>Deterministic reconstructions (decoder of the embedding) of rows [count, features] -> [count, features].</summary>
    public static float[] Reconstruct(Autoencoder model, float[] rows, int count, int batchSize = 500) =>
        MapBatches(model, rows, count, model.Spec.InputFeatures, model.Spec.InputFeatures, batchSize, model.Forward);

    /// <summary>Rows rebuilt from embeddings [count, latent] -> [count, features], in batches.</summary>
    public static float[] Decode(Autoencoder model, float[] embeddings, int count, int batchSize = 500) =>
        MapBatches(model, embeddings, count, model.Spec.Latent, model.Spec.InputFeatures, batchSize, model.Decode);

    private static float[] MapBatches(Autoencoder model, float[] rows, int count, int features, int outWidth, int batchSize, Func<Tensor, Tensor> map)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (rows.Length < (long)count * features)
            throw new ArgumentException($"rows holds {rows.Length} values but [{count}, {features}] needs {(long)count * features}; the data does not match the model's {features} values per row");
        var result = new float[(long)count * outWidth];
        model.ForEachBatch(rows, count, features, batchSize, (x, start) => map(x).ToArray().CopyTo(result, (long)start * outWidth));
        return result;
    }
}
