using System.CommandLine;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore sample</c>: generates new data from a VAE by decoding z ~ N(0, I).</summary>
internal static class SampleCommand
{
    private static readonly Option<int> Count = CliOption.Int("--count", "how many samples", 64, 1, SizeLimits.MaxCount);
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "image models: a PNG grid; table models: a CSV in the original units; - for standard output", "FILE", "samples.png or samples.csv");
    private static readonly Option<int> Columns = CliOption.Int("--columns", "images per row of the grid", 0, 0, SizeLimits.MaxCount, defaultLabel: "square");
    private static readonly Option<int> Scale = CliOption.Int("--scale", "pixel magnification of the grid", 2, 1, 16);
    private static readonly Option<float> Temperature = CliOption.Float("--temperature",
        "VQ-VAE: divides the prior's logits before each draw (1 = the prior as learned; below 1 = likelier codes, cleaner digits, less variety)", 1f, 0.05f, 10f);

    public static CliCommand Create() => new CliCommand("sample", "generate images from a VAE (decode z ~ N(0, I)) or a VQ-VAE with its prior", Run)
    {
        Title = "generate new images (or table rows) from a variational autoencoder or a VQ-VAE's prior",
        Usage = ["--model DIR [--count 64] [--out samples.png] [--seed N] [--columns N] [--temperature 1]"],
        Notes = """
            --model: written by `neuralcore train --model vae` (or conv-vae), or by `neuralcore train --model vqvae`
            followed by `neuralcore train-prior` (ancestral sampling from the prior, code by code in raster order, then
            decoding of the code grids); --seed: the seed of the random draws.
            """,
    }.With([CommonOptions.ModelDirectory, Count, Out, CommonOptions.Seed, Columns, Scale, Temperature, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string dir = args.Get(CommonOptions.ModelDirectory);
        var backend = Devices.Open(args);
        int count = args.Get(Count);
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        int columns = args.Get(Columns);
        int scale = args.Get(Scale);
        float temperature = args.Get(Temperature);
        var spec = ModelStore.LoadSpec(dir);
        bool isImage = spec.ImageShape != null && spec.Columns == null;
        string outPath = args.Get(Out) ?? (isImage ? "samples.png" : "samples.csv");
        if (!spec.IsVariational && !spec.IsVectorQuantized)
            throw new CliException($"sample: {dir} holds a {spec.Kind} model, which cannot generate; sampling needs a VAE (train with --model vae or conv-vae) or a VQ-VAE with a prior");
        if (!spec.IsVectorQuantized && args.Has(Temperature))
            throw new CliException($"sample: --temperature applies to a VQ-VAE's prior; {dir} holds a {spec.Kind} model, whose samples are z ~ N(0, I) (drop --temperature)", 2);
        if (spec.IsVectorQuantized && !File.Exists(Path.Combine(dir, PriorTraining.WeightsFile)))
            throw new CliException($"sample: {dir} holds a VQ-VAE without a prior ({PriorTraining.WeightsFile}); train one first with `neuralcore train-prior --model {dir}`");
        if (isImage != outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Outputs.IsStream(outPath))
            throw new CliException(isImage
                ? $"sample: --out {outPath}: an image model writes a .png grid"
                : $"sample: --out {outPath}: a table model writes rows to a .csv file");

        Outputs.Check("sample", Outputs.ModelInputs(dir, spec.Data), new Outputs.Output("--out", outPath));
        SizeLimits.Elements($"sample: --count {count} rows of {spec.InputFeatures} values", count, spec.InputFeatures, "lower --count");
        if (isImage && spec.ImageShape![0] == 1)
        {
            var (_, width, height) = ImageGrid.Size(count, spec.ImageShape[1], spec.ImageShape[2], columns, scale);
            SizeLimits.Picture($"sample: --count {count} at --scale {scale}" + (columns > 0 ? $" in --columns {columns}" : ""), width, height,
                "lower --count, --scale or --columns");
        }
        if (spec.IsVectorQuantized)
        {
            var vq = (VqVae)ModelStore.Load(dir, backend);
            var prior = PriorTraining.Load(dir, backend);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            WriteSamples(outPath, vq, prior, count, seed, columns, scale, temperature);
            Console.WriteLine($"sampled {count} code grids from the prior ({vq.GridHeight}x{vq.GridWidth} codes of {vq.CodebookSize}, seed {seed}, temperature {temperature.ToString(System.Globalization.CultureInfo.InvariantCulture)}) and decoded them " +
                              $"in {clock.Elapsed.TotalSeconds:F2} s: wrote {Outputs.Name(outPath)}");
            return 0;
        }
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
        Console.WriteLine($"decoded {count} samples z ~ N(0, I) (latent {spec.Latent}, seed {seed}) with {spec.Kind}: wrote {Outputs.Name(outPath)}");
        return 0;
    }

    /// <summary>Draws <paramref name="count"/> code grids from <paramref name="prior"/>, decodes them and writes the image grid.</summary>
    public static void WriteSamples(string path, VqVae model, PixelCnnPrior prior, int count, ulong seed, int columns, int scale, float temperature = 1f)
    {
        var codes = prior.Sample(count, new SeededRandom(seed), temperature);
        float[] images;
        model.Eval();
        using (Autograd.NoGrad())
        using (TensorScope.Begin())
            images = model.DecodeCodes(codes).ToArray();
        ImageGrid.Write(path, images, count, model.Spec.ImageShape![1], model.Spec.ImageShape[2], columns, scale);
    }
}
