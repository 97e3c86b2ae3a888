using NeuralCore.Kernels;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Autoencoders;

/// <summary>Builds an autoencoder from its <see cref="ModelSpec"/> (the same layers PyTorch's reference uses).</summary>
public static class ModelFactory
{
    /// <summary>
    /// MLP: features -> hidden... -> latent (ReLU between), decoder mirrored, sigmoid output for BCE.
    /// Conv (images [C, H, W]): Conv(C->16, 3, s2, p1)-ReLU-Conv(16->32, 3, s2, p1)-ReLU-Flatten-Linear(32·H/4·W/4 -> latent)
    /// and Linear(latent -> 32·H/4·W/4)-ReLU-Reshape-ConvT(32->16, 3, s2, p1, op1)-ReLU-ConvT(16->C, 3, s2, p1, op1)-Sigmoid.
    /// </summary>
    public static Autoencoder Create(ModelSpec spec, IBackend backend, SeededRandom random)
    {
        spec.Validate();
        if (spec.IsVectorQuantized) return VqVae.Create(spec, backend, random);
        var init = spec.Init switch { "kaiming" => InitScheme.KaimingNormal, "xavier" => InitScheme.XavierUniform, _ => InitScheme.PyTorchDefault };
        // Layers are created in the order PyTorch's reference creates them - encoder, a VAE's mu (fc21) and logvar (fc22)
        // heads, decoder - so with SeededRandom.PyTorch the initial weights are the ones PyTorch draws.
        var (body, width) = spec.IsConvolutional ? ConvEncoder(spec, backend, random, init) : MlpEncoder(spec, backend, random, init);
        if (!spec.IsVariational)
        {
            body.Add(new Linear(backend, random, width, spec.Latent, init: init));
            return new Autoencoder(spec, body, Decoder(spec, backend, random, init));
        }
        var mu = new Linear(backend, random, width, spec.Latent, init: init);
        var logVar = new Linear(backend, random, width, spec.Latent, init: init);
        return new VariationalAutoencoder(spec, body, mu, logVar, Decoder(spec, backend, random, init));
    }

    /// <summary>The encoder up to the layer that makes the code, and the width it ends with.</summary>
    private static (Sequential Body, int Width) ConvEncoder(ModelSpec spec, IBackend backend, SeededRandom random, InitScheme init)
    {
        int c = spec.ImageShape![0], h = spec.ImageShape[1], w = spec.ImageShape[2];
        var body = new Sequential(
            new Layers.Reshape(c, h, w),
            new Conv2d(backend, random, c, 16, 3, 2, 1, init: init), new ReLU(),
            new Conv2d(backend, random, 16, 32, 3, 2, 1, init: init), new ReLU(),
            new Flatten());
        return (body, 32 * (h / 4) * (w / 4));
    }

    /// <inheritdoc cref="ConvEncoder"/>
    private static (Sequential Body, int Width) MlpEncoder(ModelSpec spec, IBackend backend, SeededRandom random, InitScheme init)
    {
        var body = new Sequential();
        int width = spec.InputFeatures;
        foreach (int hidden in spec.Hidden)
        {
            body.Add(new Linear(backend, random, width, hidden, init: init)).Add(new ReLU());
            width = hidden;
        }
        return (body, width);
    }

    /// <summary>The decoder, from the code back to the input's shape, with a sigmoid output for BCE.</summary>
    private static Sequential Decoder(ModelSpec spec, IBackend backend, SeededRandom random, InitScheme init)
    {
        Sequential decoder;
        if (spec.IsConvolutional)
        {
            int c = spec.ImageShape![0], h = spec.ImageShape[1], w = spec.ImageShape[2];
            decoder = new Sequential(
                new Linear(backend, random, spec.Latent, 32 * (h / 4) * (w / 4), init: init), new ReLU(),
                new Layers.Reshape(32, h / 4, w / 4),
                new ConvTranspose2d(backend, random, 32, 16, 3, 2, 1, 1, init: init), new ReLU(),
                new ConvTranspose2d(backend, random, 16, c, 3, 2, 1, 1, init: init),
                new Flatten());
        }
        else
        {
            decoder = new Sequential();
            int width = spec.Latent;
            foreach (int hidden in spec.Hidden.Reverse())
            {
                decoder.Add(new Linear(backend, random, width, hidden, init: init)).Add(new ReLU());
                width = hidden;
            }
            decoder.Add(new Linear(backend, random, width, spec.InputFeatures, init: init));
        }
        if (spec.Loss == "bce") decoder.Add(new Layers.Sigmoid());
        return decoder;
    }
}
