using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Inspection;

/// <summary>
/// Finite-difference checks of every layer (gradients with respect to its input and all its parameters) and
/// of the AE, denoising AE and VAE losses (parameters; the VAE's eps and the DAE's noise fixed by a seed).
/// Together with <see cref="GradCheckCatalog.Ops"/> this is what <c>neuralcore gradcheck</c> runs.
/// </summary>
public static class LayerGradChecks
{
    /// <summary>Every op case followed by every layer and model case.</summary>
    public static IReadOnlyList<GradCheckCase> All() => [.. GradCheckCatalog.Ops(), .. Layers()];

    /// <summary>Linear, Conv2d, ConvTranspose2d, activations, Flatten, Reshape, Sequential, and the model losses.</summary>
    public static IReadOnlyList<GradCheckCase> Layers()
    {
        var cases = new List<GradCheckCase>();
        void Layer(string op, string name, Func<IBackend, SeededRandom, Module> create, int[] inputShape, bool awayFromZero = false) =>
            cases.Add(new GradCheckCase(op, name, b =>
            {
                var random = new SeededRandom(40);
                var module = create(b, random);
                var x = Input(b, random, inputShape, awayFromZero);
                return new GradCheckProblem(() => module.Call(x), [x, .. module.Parameters()]);
            }));

        Layer("Linear", "Linear(3 -> 4)", (b, r) => new Linear(b, r, 3, 4), [5, 3]);
        Layer("Conv2d", "Conv2d(2 -> 3, k3 s2 p1)", (b, r) => new Conv2d(b, r, 2, 3, 3, 2, 1), [2, 2, 5, 5]);
        Layer("ConvTranspose2d", "ConvTranspose2d(3 -> 2, k3 s2 p1 op1)", (b, r) => new ConvTranspose2d(b, r, 3, 2, 3, 2, 1, 1), [2, 3, 3, 3]);
        Layer("ReLU", "ReLU", (_, _) => new ReLU(), [3, 5], awayFromZero: true);
        Layer("LeakyReLU", "LeakyReLU(0.2)", (_, _) => new LeakyReLU(0.2f), [3, 5], awayFromZero: true);
        Layer("Sigmoid", "Sigmoid", (_, _) => new Layers.Sigmoid(), [3, 5]);
        Layer("Tanh", "Tanh", (_, _) => new Tanh(), [3, 5]);
        // shape layers: the check's random projection weighs every output position differently, so a permuted gradient shows up
        Layer("Flatten", "Flatten [2,3,2,2]", (_, _) => new Flatten(), [2, 3, 2, 2]);
        Layer("Reshape", "Reshape [2,12] -> [2,3,4]", (_, _) => new Layers.Reshape(3, 4), [2, 12]);
        Layer("Sequential", "Sequential(Linear-Tanh-Linear-Sigmoid)", (b, r) => new Sequential(
            new Linear(b, r, 4, 6), new Tanh(), new Linear(b, r, 6, 3), new Layers.Sigmoid()), [5, 4]);

        Model("ae-loss", "ae loss (mse)", new ModelSpec { Kind = "ae", InputFeatures = 6, Hidden = [5], Latent = 3, Loss = "mse" }, cases);
        Model("dae-loss", "dae loss (masking noise)", new ModelSpec { Kind = "dae", InputFeatures = 6, Hidden = [5], Latent = 3, Loss = "bce", Noise = "masking" }, cases);
        Model("vae-loss", "vae loss (bce + kl, fixed eps)", new ModelSpec { Kind = "vae", InputFeatures = 6, Hidden = [5], Latent = 2, Loss = "bce" }, cases);
        Model("vae-loss", "beta-vae loss (mse + 4 kl, fixed eps)", new ModelSpec { Kind = "vae", InputFeatures = 6, Hidden = [5], Latent = 2, Loss = "mse", Beta = 4f }, cases);
        return cases;
    }

    /// <summary>The summed training loss of a tiny model with respect to all its parameters.</summary>
    private static void Model(string op, string name, ModelSpec spec, List<GradCheckCase> cases) =>
        cases.Add(new GradCheckCase(op, name, b =>
        {
            var model = ModelFactory.Create(spec, b, new SeededRandom(41));
            var batch = Tensor.Uniform(b, new SeededRandom(42), 0.05f, 0.95f, 4, spec.InputFeatures);
            // a fresh generator per evaluation: the same eps / noise on every finite-difference step
            // eps 1e-3: a step of 1e-2 in a bias moves some hidden pre-activation across the ReLU kink at 0
            return new GradCheckProblem(() => model.ComputeLoss(batch, new SeededRandom(43)).Total, model.Parameters()) { Epsilon = 1e-3 };
        }));

    private static Tensor Input(IBackend b, SeededRandom random, int[] shape, bool awayFromZero)
    {
        var values = new float[shape.Aggregate(1, (a, d) => a * d)];
        random.FillUniform(values, -1f, 1f);
        if (awayFromZero)   // |x| in [0.2, 1]: finite differences never cross a kink at 0
            for (int i = 0; i < values.Length; i++) values[i] = MathF.CopySign(0.2f + 0.8f * MathF.Abs(values[i]), values[i]);
        var x = Tensor.FromArray(b, values, shape);
        x.RequiresGrad = true;
        return x;
    }
}
