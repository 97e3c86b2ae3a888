using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore sample</c>: generates new data from a VAE by decoding z ~ N(0, I).</summary>
internal static class SampleCommand
{
    public const string Help = """
        neuralcore sample - generate new images (or table rows) from a variational autoencoder

        usage: neuralcore sample --model DIR [--count 64] [--out samples.png] [--seed N] [--columns N]

          --model DIR         a directory written by `neuralcore train --model vae` (or conv-vae)
          --count N           how many samples (default 64)
          --out FILE          image models: a PNG grid (default samples.png); table models: a CSV in the
                              original units (default samples.csv)
          --seed N            seed of the latent draws z ~ N(0, I) (default 0)
          --columns N         images per row of the grid (default: square)
          --scale N           pixel magnification of the grid (default 2)
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)
        """;

    public static int Run(CommandLine cl)
    {
        string dir = cl.Required("model");
        var backend = Devices.Open(cl);
        int count = cl.Int("count", 64);
        ulong seed = (ulong)cl.Int("seed", 0, 0);
        int columns = cl.Int("columns", 0, 0);
        int scale = cl.Int("scale", 2, 1, 16);
        var spec = ModelStore.LoadSpec(dir);
        bool isImage = spec.ImageShape != null && spec.Columns == null;
        string outPath = cl.String("out", isImage ? "samples.png" : "samples.csv")!;
        cl.RejectUnknown();
        if (count <= 0) throw new CliException($"sample: --count must be at least 1, got {count}", 2);
        if (!spec.IsVariational)
            throw new CliException($"sample: {dir} holds a {spec.Kind} model, which cannot generate; sampling needs a VAE (train with --model vae or conv-vae)");
        if (isImage != outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new CliException(isImage
                ? $"sample: --out {outPath}: an image model writes a .png grid"
                : $"sample: --out {outPath}: a table model writes rows to a .csv file");

        var vae = (VariationalAutoencoder)ModelStore.Load(dir, backend);
        vae.Eval();
        float[] samples;
        using (Autograd.NoGrad())
        using (TensorScope.Begin())
            samples = vae.Generate(count, new SeededRandom(seed)).ToArray();

        if (isImage)
        {
            int h = spec.ImageShape![1], w = spec.ImageShape[2];
            if (spec.ImageShape[0] != 1) throw new CliException($"sample: {dir}: only single-channel images can be drawn, the model has {spec.ImageShape[0]} channels");
            ImageGrid.Write(outPath, samples, count, h, w, columns, scale);
        }
        else
        {
            spec.Scaler?.InverseTransform(samples);
            CsvTable.Write(outPath, spec.Columns ?? Enumerable.Range(0, spec.InputFeatures).Select(i => $"x{i}").ToArray(), samples);
        }
        Console.WriteLine($"decoded {count} samples z ~ N(0, I) (latent {spec.Latent}, seed {seed}) with {spec.Kind}: wrote {outPath}");
        return 0;
    }
}
