using System.CommandLine;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore interpolate</c>: decodes the straight line between the embeddings of two test images.</summary>
internal static class InterpolateCommand
{
    private static readonly Option<int?> From = CliOption.OptionalInt("--from", "the digit to start from: the first test image of that class", "3", 0, helpName: "D");
    private static readonly Option<int?> To = CliOption.OptionalInt("--to", "the digit to end at", "7", 0, helpName: "D");
    private static readonly Option<int?> FromIndex = CliOption.OptionalInt("--from-index", "a test image index instead of --from", null, 0, helpName: "I");
    private static readonly Option<int?> ToIndex = CliOption.OptionalInt("--to-index", "a test image index instead of --to", null, 0, helpName: "J");
    private static readonly Option<int> Steps = CliOption.Int("--steps", "decoded images along the line, both ends included", 10, 2, 1000);
    private static readonly Option<string> Out = CliOption.String("--out",
        "one strip: the original start image, the decoded steps, the original end image; - for standard output", "FILE.png", "interpolation.png");
    private static readonly Option<int> Scale = CliOption.Int("--scale", "pixel magnification", 3, 1, 16);

    public static CliCommand Create() => new CliCommand("interpolate", "decode the straight line between the embeddings of two test images", Run)
    {
        Title = "walk the latent space between two test images",
        Usage = ["--model DIR [--from 3 --to 7 | --from-index I --to-index J] [--steps 10] [--out FILE.png]"],
        Notes = "--model: trained on images (any kind); --data: mnist or a directory of IDX files.",
    }.With([CommonOptions.ModelDirectory, From, To, FromIndex, ToIndex, Steps, Out, Scale, CommonOptions.Data, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string dir = args.Get(CommonOptions.ModelDirectory);
        var backend = Devices.Open(args);
        var spec = ModelStore.LoadSpec(dir);
        if (spec.ImageShape is not { } image || spec.Columns != null)
            throw new CliException($"interpolate: {dir} holds a model of table rows; interpolation draws images, train a model on image data");
        var data = DataSource.Load(args, spec);
        int steps = args.Get(Steps);
        int scale = args.Get(Scale);
        string outPath = args.Get(Out);
        int from = PickImage(args, data, From, FromIndex, 3);
        int to = PickImage(args, data, To, ToIndex, 7);
        if (!outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Outputs.IsStream(outPath))
            throw new CliException($"interpolate: --out {outPath} must be a .png file", 2);
        Outputs.Check("interpolate", Outputs.ModelInputs(dir, args.Get(CommonOptions.Data) ?? spec.Data), new Outputs.Output("--out", outPath));
        if (image[0] != 1) throw new CliException($"interpolate: only single-channel images can be drawn, the model has {image[0]} channels");
        var (_, width, height) = ImageGrid.Size(steps + 2, image[1], image[2], steps + 2, scale);
        SizeLimits.Picture($"interpolate: --steps {steps} at --scale {scale}", width, height, "lower --steps or --scale");

        var model = ModelStore.Load(dir, backend);
        int f = spec.InputFeatures, latent = spec.Latent;
        var ends = new float[2 * f];
        Array.Copy(data.Test, from * f, ends, 0, f);
        Array.Copy(data.Test, to * f, ends, f, f);
        var z = Features.Encode(model, ends, 2);
        var line = new float[steps * latent];
        for (int s = 0; s < steps; s++)
        {
            float t = (float)s / (steps - 1);
            for (int k = 0; k < latent; k++) line[s * latent + k] = (1 - t) * z[k] + t * z[latent + k];
        }
        var decoded = Features.Decode(model, line, steps);
        var strip = new float[(steps + 2) * f];
        Array.Copy(ends, 0, strip, 0, f);
        Array.Copy(decoded, 0, strip, f, steps * f);
        Array.Copy(ends, f, strip, (steps + 1) * f, f);
        ImageGrid.Write(outPath, strip, steps + 2, image[1], image[2], columns: steps + 2, scale: scale);

        double distance = 0;
        for (int k = 0; k < latent; k++) distance += (z[k] - z[latent + k]) * (double)(z[k] - z[latent + k]);
        string Describe(int i) => data.TestLabels != null ? $"test image {i} (digit {data.TestLabels[i]})" : $"test image {i}";
        Console.WriteLine($"interpolated {Describe(from)} -> {Describe(to)} in {steps} steps with {spec.Kind} (latent distance {Math.Sqrt(distance):F3}): wrote {Outputs.Name(outPath)}");
        return 0;
    }

    /// <summary>The test index chosen by <paramref name="index"/>, or the first test image of the digit <paramref name="digit"/> (default <paramref name="fallbackDigit"/>).</summary>
    private static int PickImage(Args args, Dataset data, Option<int?> digit, Option<int?> index, int fallbackDigit)
    {
        if (args.Get(index) is { } i)
        {
            if (args.Has(digit)) throw new CliException($"interpolate: give {digit.Name} or {index.Name}, not both", 2);
            if (i >= data.TestCount) throw new CliException($"interpolate: {index.Name} {i} is past the last test image ({data.TestCount - 1})", 2);
            return i;
        }
        if (data.TestLabels == null) throw new CliException($"interpolate: the data has no labels; use {index.Name} I", 2);
        int label = args.Get(digit) ?? fallbackDigit;
        int found = Array.IndexOf(data.TestLabels, label);
        if (found < 0)
            throw new CliException($"interpolate: no test image has label {label}; labels are {string.Join(", ", data.TestLabels.Distinct().Order())}", 2);
        return found;
    }
}
