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
        var init = spec.Init switch { "kaiming" => InitScheme.KaimingNormal, "xavier" => InitScheme.XavierUniform, _ => InitScheme.PyTorchDefault };
        Module encoderBody, decoder;
        Linear? mu = null, logVar = null;
        // A VAE's heads come right after the encoder body: PyTorch's reference creates fc1, fc21 (mu), fc22 (logvar),
        // fc3, fc4 in that order, so with SeededRandom.PyTorch the weights are the ones PyTorch draws.
        void Heads(int width)
        {
            if (!spec.IsVariational) return;
            mu = new Linear(backend, random, width, spec.Latent, init: init);
            logVar = new Linear(backend, random, width, spec.Latent, init: init);
        }
        if (spec.IsConvolutional)
        {
            int c = spec.ImageShape![0], h = spec.ImageShape[1], w = spec.ImageShape[2];
            int flat = 32 * (h / 4) * (w / 4);
            var body = new Sequential(
                new Layers.Reshape(c, h, w),
                new Conv2d(backend, random, c, 16, 3, 2, 1, init: init), new ReLU(),
                new Conv2d(backend, random, 16, 32, 3, 2, 1, init: init), new ReLU(),
                new Flatten());
            if (!spec.IsVariational) body.Add(new Linear(backend, random, flat, spec.Latent, init: init));
            encoderBody = body;
            Heads(flat);
            decoder = new Sequential(
                new Linear(backend, random, spec.Latent, flat, init: init), new ReLU(),
                new Layers.Reshape(32, h / 4, w / 4),
                new ConvTranspose2d(backend, random, 32, 16, 3, 2, 1, 1, init: init), new ReLU(),
                new ConvTranspose2d(backend, random, 16, c, 3, 2, 1, 1, init: init),
                new Flatten());
        }
        else
        {
            var body = new Sequential();
            int width = spec.InputFeatures;
            foreach (int hidden in spec.Hidden)
            {
                body.Add(new Linear(backend, random, width, hidden, init: init)).Add(new ReLU());
                width = hidden;
            }
            if (!spec.IsVariational) body.Add(new Linear(backend, random, width, spec.Latent, init: init));
            encoderBody = body;
            Heads(width);
            var dec = new Sequential();
            width = spec.Latent;
            foreach (int hidden in spec.Hidden.Reverse())
            {
                dec.Add(new Linear(backend, random, width, hidden, init: init)).Add(new ReLU());
                width = hidden;
            }
            dec.Add(new Linear(backend, random, width, spec.InputFeatures, init: init));
            decoder = dec;
        }
        if (spec.Loss == "bce") ((Sequential)decoder).Add(new Layers.Sigmoid());

        return spec.IsVariational ? new VariationalAutoencoder(spec, encoderBody, mu!, logVar!, decoder) : new Autoencoder(spec, encoderBody, decoder);
    }
}
