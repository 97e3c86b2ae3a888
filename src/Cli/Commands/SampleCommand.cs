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

    public static CliCommand Create() => new CliCommand("sample", "generate images from a VAE: decode z ~ N(0, I)", Run)
    {
        Title = "generate new images (or table rows) from a variational autoencoder",
        Usage = ["--model DIR [--count 64] [--out samples.png] [--seed N] [--columns N]"],
        Notes = "--model: written by `neuralcore train --model vae` (or conv-vae); --seed: the seed of the latent draws z ~ N(0, I).",
    }.With([CommonOptions.ModelDirectory, Count, Out, CommonOptions.Seed, Columns, Scale, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string dir = args.Get(CommonOptions.ModelDirectory);
        var backend = Devices.Open(args);
        int count = args.Get(Count);
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        int columns = args.Get(Columns);
        int scale = args.Get(Scale);
        var spec = ModelStore.LoadSpec(dir);
        bool isImage = spec.ImageShape != null && spec.Columns == null;
        string outPath = args.Get(Out) ?? (isImage ? "samples.png" : "samples.csv");
        if (!spec.IsVariational)
            throw new CliException($"sample: {dir} holds a {spec.Kind} model, which cannot generate; sampling needs a VAE (train with --model vae or conv-vae)");
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
}
