namespace NeuralCore.Cli.Imaging;

/// <summary>An 8-bit RGB colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);
    /// <summary>White.</summary>
    public static Rgb White => new(255, 255, 255);
    /// <summary>Light grey, for grid lines.</summary>
    public static Rgb LightGray => new(225, 225, 225);

    /// <summary>A 10-colour categorical palette (matplotlib's tab10), one colour per digit class.</summary>
    public static IReadOnlyList<Rgb> Palette10 { get; } =
    [
        new(0x1f, 0x77, 0xb4), new(0xff, 0x7f, 0x0e), new(0x2c, 0xa0, 0x2c), new(0xd6, 0x27, 0x28), new(0x94, 0x67, 0xbd),
        new(0x8c, 0x56, 0x4b), new(0xe3, 0x77, 0xc2), new(0x7f, 0x7f, 0x7f), new(0xbc, 0xbd, 0x22), new(0x17, 0xbe, 0xcf),
    ];
}

/// <summary>
/// A simple RGB raster [Height, Width, 3] with clipped drawing primitives (pixels, rectangles, lines,
/// 5x7 bitmap text) and PNG output. Coordinates are pixels, origin top-left.
/// </summary>
internal sealed class RgbCanvas
{
    /// <summary>Creates a canvas filled with <paramref name="background"/>.</summary>
    public RgbCanvas(int width, int height, Rgb background)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
        FillRect(0, 0, width, height, background);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Pixel bytes, [Height, Width, 3] (R, G, B).</summary>
    public byte[] Pixels { get; }

    /// <summary>Sets one pixel; ignored outside the canvas.</summary>
    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = color.R; Pixels[i + 1] = color.G; Pixels[i + 2] = color.B;
    }

    /// <summary>Fills the rectangle with top-left (x, y) and the given size (clipped).</summary>
    public void FillRect(int x, int y, int width, int height, Rgb color)
    {
        for (int yy = Math.Max(0, y); yy < Math.Min(Height, y + height); yy++)
            for (int xx = Math.Max(0, x); xx < Math.Min(Width, x + width); xx++)
                SetPixel(xx, yy, color);
    }

    /// <summary>Draws the outline of a rectangle.</summary>
    public void DrawRect(int x, int y, int width, int height, Rgb color)
    {
        DrawLine(x, y, x + width - 1, y, color);
        DrawLine(x, y + height - 1, x + width - 1, y + height - 1, color);
        DrawLine(x, y, x, y + height - 1, color);
        DrawLine(x + width - 1, y, x + width - 1, y + height - 1, color);
    }

    /// <summary>Draws a line (Bresenham) of the given thickness in pixels.</summary>
    public void DrawLine(int x0, int y0, int x1, int y1, Rgb color, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, error = dx + dy;
        int offset = (thickness - 1) / 2;
        while (true)
        {
            if (thickness <= 1) SetPixel(x0, y0, color);
            else FillRect(x0 - offset, y0 - offset, thickness, thickness, color);
            if (x0 == x1 && y0 == y1) return;
            int e2 = 2 * error;
            if (e2 >= dy) { error += dy; x0 += sx; }
            if (e2 <= dx) { error += dx; y0 += sy; }
        }
    }

    /// <summary>Draws <paramref name="text"/> with the built-in 5x7 font, top-left at (x, y), each font pixel
    /// a <paramref name="scale"/> x <paramref name="scale"/> block. Lower case is drawn as upper case.</summary>
    public void DrawText(int x, int y, string text, Rgb color, int scale = 1)
    {
        foreach (char c in text)
        {
            if (BitmapFont.Glyph(c) is byte[] rows)
            {
                for (int r = 0; r < BitmapFont.GlyphHeight; r++)
                    for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                        if ((rows[r] >> (BitmapFont.GlyphWidth - 1 - col) & 1) != 0)
                            FillRect(x + col * scale, y + r * scale, scale, scale, color);
            }
            x += BitmapFont.Advance * scale;
        }
    }

    /// <summary>Width in pixels of <paramref name="text"/> drawn by <see cref="DrawText"/>.</summary>
    public static int MeasureText(string text, int scale = 1) => BitmapFont.Measure(text, scale);

    /// <summary>A new canvas with <paramref name="left"/> and <paramref name="right"/> next to each other, top-aligned.</summary>
    public static RgbCanvas SideBySide(RgbCanvas left, RgbCanvas right)
    {
        var canvas = new RgbCanvas(left.Width + right.Width, Math.Max(left.Height, right.Height), Rgb.White);
        for (int y = 0; y < left.Height; y++) Array.Copy(left.Pixels, y * left.Width * 3, canvas.Pixels, y * canvas.Width * 3, left.Width * 3);
        for (int y = 0; y < right.Height; y++) Array.Copy(right.Pixels, y * right.Width * 3, canvas.Pixels, (y * canvas.Width + left.Width) * 3, right.Width * 3);
        return canvas;
    }

    /// <summary>Writes the canvas as an RGB PNG (atomically).</summary>
    public void Save(string path) => PngWriter.WriteRgb(path, Width, Height, Pixels);
}
