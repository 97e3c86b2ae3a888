namespace NeuralCore.Cli.Imaging;

/// <summary>
/// Tiles many small greyscale images (e.g. MNIST digits or their reconstructions) into one grid image,
/// row by row, separated by grey lines, optionally scaled up by pixel replication.
/// </summary>
internal static class ImageGrid
{
    /// <summary>Grey level of the separator lines and of empty cells in an incomplete last row.</summary>
    public const byte SeparatorGray = 128;

    /// <summary>
    /// Renders the grid as greyscale bytes [GridHeight, GridWidth].
    /// </summary>
    /// <param name="images">Images [count, height * width], values in [0, 1] (clamped).</param>
    /// <param name="count">Number of images to draw.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="columns">Images per grid row; 0 picks ceil(sqrt(count)).</param>
    /// <param name="scale">Each pixel becomes a scale x scale block (1..16).</param>
    /// <param name="separator">Separator width in pixels (0..8), also drawn around the border.</param>
    /// <returns>The pixels and the grid size.</returns>
    public static (byte[] Pixels, int GridWidth, int GridHeight) Render(ReadOnlySpan<float> images, int count, int height, int width,
                                                                         int columns = 0, int scale = 1, int separator = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(scale, 16);
        ArgumentOutOfRangeException.ThrowIfNegative(separator);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(separator, 8);
        if (images.Length < (long)count * height * width)
            throw new ArgumentException($"images has {images.Length} values but [count={count}, {height}x{width}] needs {(long)count * height * width}", nameof(images));

        (columns, long gridWidth, long gridHeight) = Size(count, height, width, columns, scale, separator);
        if (gridWidth * gridHeight > SizeLimits.MaxPicturePixels)
            throw new ArgumentException($"a grid of {count} images of {height}x{width} at scale {scale} would be {gridWidth} x {gridHeight} pixels, above the limit of {SizeLimits.MaxPicturePixels}");
        int cellW = width * scale, cellH = height * scale;
        int gridW = (int)gridWidth, gridH = (int)gridHeight;
        var pixels = new byte[gridW * gridH];
        Array.Fill(pixels, SeparatorGray);

        for (int i = 0; i < count; i++)
        {
            int x0 = separator + (i % columns) * (cellW + separator);
            int y0 = separator + (i / columns) * (cellH + separator);
            ReadOnlySpan<float> image = images.Slice(i * height * width, height * width);
            for (int y = 0; y < cellH; y++)
            {
                int sourceRow = (y / scale) * width;
                Span<byte> target = pixels.AsSpan((y0 + y) * gridW + x0, cellW);
                for (int x = 0; x < cellW; x++) target[x] = PngWriter.ToByte(image[sourceRow + x / scale]);
            }
        }
        return (pixels, gridW, gridH);
    }

    /// <summary>The columns a grid of <paramref name="count"/> images has and its size in pixels, in 64 bits (see <see cref="Render"/>).</summary>
    public static (int Columns, long Width, long Height) Size(int count, int height, int width, int columns = 0, int scale = 1, int separator = 1)
    {
        if (columns == 0) columns = (int)Math.Ceiling(Math.Sqrt(count));
        columns = Math.Max(1, Math.Min(columns, count));
        long rows = ((long)count + columns - 1) / columns;
        long gridWidth = columns * ((long)width * scale + separator) + separator;
        long gridHeight = rows * ((long)height * scale + separator) + separator;
        return (columns, gridWidth, gridHeight);
    }

    /// <summary>Renders the grid (see <see cref="Render"/>) and writes it as a greyscale PNG, atomically.</summary>
    public static void Write(string path, ReadOnlySpan<float> images, int count, int height, int width, int columns = 0, int scale = 1, int separator = 1)
    {
        var (pixels, gridW, gridH) = Render(images, count, height, width, columns, scale, separator);
        PngWriter.WriteGray(path, gridW, gridH, pixels);
    }
}
