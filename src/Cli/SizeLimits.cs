using System.Globalization;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Cli;

/// <summary>
/// The largest sizes the command line accepts, in one place. Options are parsed against the first group
/// (<see cref="CliOption"/> states the range in its message); sizes that options multiply into (a batch of rows, a
/// picture) are computed in 64 bits and checked against the second, before anything is allocated.
/// </summary>
internal static class SizeLimits
{
    /// <summary>--epochs: passes over the data.</summary>
    public const int MaxEpochs = 1_000_000;

    /// <summary>--batch: rows per mini-batch or forward pass (a batch larger than the data is the whole data).</summary>
    public const int MaxBatch = 1 << 20;

    /// <summary>--hidden (each layer), --latent, --sizes: units in one layer; the model as a whole is limited by <see cref="MaxParameters"/>.</summary>
    public const int MaxLayerWidth = 1 << 20;

    /// <summary>sample --count, --columns: rows or images generated at once.</summary>
    public const int MaxCount = 1 << 20;

    /// <summary>Values in one tensor or array of rows: 2^28 float32 values, 1 GiB.</summary>
    public const long MaxTensorElements = 1L << 28;

    /// <summary>Parameters of one model (the library's own limit).</summary>
    public const long MaxParameters = ModelSpec.MaxParameters;

    /// <summary>Pixels of one picture: 2^26, a square of 8192 x 8192.</summary>
    public const long MaxPicturePixels = 1L << 26;

    /// <summary>
    /// <paramref name="rows"/> x <paramref name="width"/> values, computed in 64 bits; fails with <paramref name="what"/>
    /// and <paramref name="fix"/> in the message when it passes <see cref="MaxTensorElements"/>.
    /// </summary>
    public static int Elements(string what, long rows, long width, string fix)
    {
        long total = rows * width;
        if (total > MaxTensorElements)
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {rows:N0} x {width:N0} = {total:N0} values, above the limit of {MaxTensorElements:N0} per tensor; {fix}"), 2);
        return (int)total;
    }

    /// <summary>Fails when a picture of <paramref name="width"/> x <paramref name="height"/> pixels passes <see cref="MaxPicturePixels"/>.</summary>
    public static void Picture(string what, long width, long height, string fix)
    {
        if (width * height > MaxPicturePixels)
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"{what}: the picture would be {width:N0} x {height:N0} pixels, above the limit of {MaxPicturePixels:N0} (8192 x 8192); {fix}"), 2);
    }
}
