namespace NeuralCore.Models.Data;

/// <summary>
/// Images read from an IDX3 file: <see cref="Pixels"/> is [Count, Rows * Cols], row-major, grey levels
/// scaled from 0..255 to [0, 1].
/// </summary>
/// <param name="Pixels">Pixel values, [Count, Rows * Cols].</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Image height in pixels.</param>
/// <param name="Cols">Image width in pixels.</param>
public sealed record IdxImages(float[] Pixels, int Count, int Rows, int Cols)
{
    /// <summary>Features per image: Rows * Cols (784 for MNIST).</summary>
    public int PixelsPerImage => Rows * Cols;

    /// <summary>The pixels of image <paramref name="index"/>, [Rows * Cols].</summary>
    public ReadOnlySpan<float> Image(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"image index {index} is outside [0, {Count})");
        return Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }
}
