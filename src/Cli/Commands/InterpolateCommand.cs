using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore interpolate</c>: decodes the straight line between the embeddings of two test images.</summary>
internal static class InterpolateCommand
{
    public const string Help = """
        neuralcore interpolate - walk the latent space between two test images

        usage: neuralcore interpolate --model DIR [--from 3 --to 7 | --from-index I --to-index J] [--steps 10] [--out FILE.png]

          --model DIR         a directory written by `neuralcore train` on images (any kind)
          --from D, --to D    digits: the first test image of each class (default 3 and 7)
          --from-index I, --to-index J
                              test image indices instead of digits
          --steps N           decoded images along the line, both ends included (default 10, at least 2)
          --out FILE.png      one strip: the original start image, the N decoded steps, the original end image
                              (default interpolation.png)
          --scale N           pixel magnification (default 3)
          --data SOURCE       mnist (default) or a directory of IDX files
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)
        """;

    public static int Run(CommandLine cl)
    {
        string dir = cl.Required("model");
        var backend = Devices.Open(cl);
        var spec = ModelStore.LoadSpec(dir);
        if (spec.ImageShape is not { } image || spec.Columns != null)
            throw new CliException($"interpolate: {dir} holds a model of table rows; interpolation draws images, train a model on image data");
        var data = DataSource.Load(cl, spec);
        int steps = cl.Int("steps", 10, 2, 1000);
        int scale = cl.Int("scale", 3, 1, 16);
        string outPath = cl.String("out", "interpolation.png")!;
        int from = PickImage(cl, data, "from", 3);
        int to = PickImage(cl, data, "to", 7);
        cl.RejectUnknown();
        if (!outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new CliException($"interpolate: --out {outPath} must be a .png file", 2);
        if (image[0] != 1) throw new CliException($"interpolate: only single-channel images can be drawn, the model has {image[0]} channels");

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
        Console.WriteLine($"interpolated {Describe(from)} -> {Describe(to)} in {steps} steps with {spec.Kind} (latent distance {Math.Sqrt(distance):F3}): wrote {outPath}");
        return 0;
    }

    /// <summary>The test index chosen by --NAME-index, or the first test image of the digit --NAME (default <paramref name="fallbackDigit"/>).</summary>
    private static int PickImage(CommandLine cl, Dataset data, string name, int fallbackDigit)
    {
        if (cl.Has(name + "-index"))
        {
            if (cl.Has(name)) throw new CliException($"interpolate: give --{name} or --{name}-index, not both", 2);
            int index = cl.Int(name + "-index", 0, 0);
            if (index >= data.TestCount) throw new CliException($"interpolate: --{name}-index {index} is past the last test image ({data.TestCount - 1})", 2);
            return index;
        }
        if (data.TestLabels == null) throw new CliException($"interpolate: the data has no labels; use --{name}-index I", 2);
        int digit = cl.Int(name, fallbackDigit, 0);
        int found = Array.IndexOf(data.TestLabels, digit);
        if (found < 0)
            throw new CliException($"interpolate: no test image has label {digit}; labels are {string.Join(", ", data.TestLabels.Distinct().Order())}", 2);
        return found;
    }
}
