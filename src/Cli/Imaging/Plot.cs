using System.Globalization;

namespace NeuralCore.Cli.Imaging;

/// <summary>One line of a line plot: Y values at X positions (X defaults to 1, 2, 3, ... e.g. epochs).</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Y">Values; non-finite values break the line.</param>
/// <param name="X">Positions, same length as Y, or null for 1..Y.Count.</param>
internal sealed record PlotSeries(string Name, IReadOnlyList<float> Y, IReadOnlyList<float>? X = null);

/// <summary>
/// Minimal charts rendered to RGB PNG with the built-in 5x7 font: a line plot (e.g. train/test loss per
/// epoch) and a scatter plot coloured by class (e.g. a 2-D latent space coloured by digit).
/// </summary>
internal static class Plot
{
    private const int Left = 64, Top = 28, Bottom = 40;

    /// <summary>Renders a line plot with axes, ticks, grid and a legend of coloured swatches.</summary>
    public static RgbCanvas RenderLines(IReadOnlyList<PlotSeries> series, string? title = null, string? xLabel = null, string? yLabel = null,
                                        int width = 640, int height = 400)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("a line plot needs at least one series", nameof(series));
        foreach (var s in series)
            if (s.X is not null && s.X.Count != s.Y.Count) throw new ArgumentException($"series '{s.Name}' has {s.X.Count} X values but {s.Y.Count} Y values", nameof(series));
        var canvas = new RgbCanvas(width, height, Rgb.White);
        var frame = new Frame(Left, Top, width - 20, height - Bottom,
            Axis(series.SelectMany(s => Enumerable.Range(0, s.Y.Count).Select(i => XAt(s, i)))),
            Axis(series.SelectMany(s => s.Y)));
        DrawFrame(canvas, frame, title, xLabel, yLabel);
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            Rgb color = Rgb.Palette10[k % 10];
            (int X, int Y)? previous = null;
            for (int i = 0; i < s.Y.Count; i++)
            {
                if (!float.IsFinite(s.Y[i]) || !float.IsFinite(XAt(s, i))) { previous = null; continue; }
                var p = (frame.Px(XAt(s, i)), frame.Py(s.Y[i]));
                if (previous is { } q) canvas.DrawLine(q.X, q.Y, p.Item1, p.Item2, color, thickness: 2);
                if (s.Y.Count <= 60) canvas.FillRect(p.Item1 - 2, p.Item2 - 2, 5, 5, color);
                previous = p;
            }
        }
        DrawLegend(canvas, frame.X1 - 8, frame.Y0 + 8, series.Select((s, k) => (s.Name, Rgb.Palette10[k % 10])).ToList());
        return canvas;
    }

    /// <summary>Writes a line plot PNG (see <see cref="RenderLines"/>), atomically.</summary>
    public static void WriteLines(string path, IReadOnlyList<PlotSeries> series, string? title = null, string? xLabel = null, string? yLabel = null,
                                  int width = 640, int height = 400) =>
        RenderLines(series, title, xLabel, yLabel, width, height).Save(path);

    /// <summary>
    /// Renders a bar chart: one bar per value at x = 0, 1, ... (e.g. how often each code of a codebook is used), on
    /// the axes of the line plots.
    /// </summary>
    public static RgbCanvas RenderBars(IReadOnlyList<float> values, string? title = null, string? xLabel = null, string? yLabel = null,
                                       int width = 640, int height = 400)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("a bar chart needs at least one value", nameof(values));
        var canvas = new RgbCanvas(width, height, Rgb.White);
        var frame = new Frame(Left, Top, width - 20, height - Bottom,
            Axis([-0.5f, values.Count - 0.5f]), Axis(values.Append(0f)));
        DrawFrame(canvas, frame, title, xLabel, yLabel);
        int baseline = frame.Py(0);
        for (int i = 0; i < values.Count; i++)
        {
            if (!float.IsFinite(values[i])) continue;
            int x0 = frame.Px(i - 0.4), x1 = frame.Px(i + 0.4), top = frame.Py(values[i]);
            canvas.FillRect(x0, Math.Min(top, baseline), Math.Max(1, x1 - x0), Math.Max(1, Math.Abs(baseline - top)), Rgb.Palette10[0]);
        }
        return canvas;
    }

    /// <summary>Writes a bar chart PNG (see <see cref="RenderBars"/>), atomically.</summary>
    public static void WriteBars(string path, IReadOnlyList<float> values, string? title = null, string? xLabel = null, string? yLabel = null) =>
        RenderBars(values, title, xLabel, yLabel).Save(path);

    /// <summary>Renders a scatter plot of <paramref name="points"/> [count, 2] (x, y pairs), each point coloured by
    /// its label (palette index label % 10), with a legend of the labels present. Each of <paramref name="marks"/> rings the
    /// point at its index and writes its text beside it (e.g. a few named places on a map).</summary>
    public static RgbCanvas RenderScatter(ReadOnlySpan<float> points, ReadOnlySpan<int> labels, string? title = null, int width = 600, int height = 560,
                                          IReadOnlyList<(string Text, int Index)>? marks = null)
    {
        if (points.Length % 2 != 0 || points.Length / 2 != labels.Length)
            throw new ArgumentException($"points has {points.Length} values and labels {labels.Length}; expected points [count, 2] and labels [count]");
        if (labels.Length == 0) throw new ArgumentException("a scatter plot needs at least one point", nameof(points));
        var xs = new float[labels.Length];
        var ys = new float[labels.Length];
        for (int i = 0; i < labels.Length; i++) { xs[i] = points[2 * i]; ys[i] = points[2 * i + 1]; }
        var canvas = new RgbCanvas(width, height, Rgb.White);
        var frame = new Frame(Left, Top, width - 70, height - Bottom, Axis(xs), Axis(ys));
        DrawFrame(canvas, frame, title, null, null);
        for (int i = 0; i < labels.Length; i++)
        {
            if (!float.IsFinite(xs[i]) || !float.IsFinite(ys[i])) continue;
            canvas.FillRect(frame.Px(xs[i]) - 1, frame.Py(ys[i]) - 1, 3, 3, Rgb.Palette10[((labels[i] % 10) + 10) % 10]);
        }
        foreach (var (text, index) in marks ?? [])
        {
            if ((uint)index >= (uint)labels.Length) throw new ArgumentOutOfRangeException(nameof(marks), $"mark '{text}' points at row {index} of {labels.Length}");
            int px = frame.Px(xs[index]), py = frame.Py(ys[index]);
            canvas.DrawRect(px - 4, py - 4, 9, 9, Rgb.Black);
            canvas.DrawRect(px - 5, py - 5, 11, 11, Rgb.White);
            // text right of the point, or left of it near the right edge; on a white box so it reads over the points
            int textWidth = RgbCanvas.MeasureText(text, 2);
            int tx = px + 9 + textWidth + 2 < frame.X1 ? px + 9 : px - 9 - textWidth;
            canvas.FillRect(tx - 2, py - 9, textWidth + 4, 18, Rgb.White);
            canvas.DrawRect(tx - 2, py - 9, textWidth + 4, 18, Rgb.Black);
            canvas.DrawText(tx, py - 6, text, Rgb.Black, scale: 2);
        }
        var legend = labels.ToArray().Distinct().Order().Select(l => (l.ToString(CultureInfo.InvariantCulture), Rgb.Palette10[((l % 10) + 10) % 10])).ToList();
        DrawLegend(canvas, width - 8, Top, legend);
        return canvas;
    }

    /// <summary>Writes a scatter plot PNG (see <see cref="RenderScatter(ReadOnlySpan{float}, ReadOnlySpan{int}, string?, int, int, IReadOnlyList{ValueTuple{string, int}}?)"/>), atomically.</summary>
    public static void WriteScatter(string path, ReadOnlySpan<float> points, ReadOnlySpan<int> labels, string? title = null, int width = 600, int height = 560) =>
        RenderScatter(points, labels, title, width, height).Save(path);

    /// <summary>Scatter plot with byte labels (e.g. MNIST digits); see the int overload.</summary>
    public static void WriteScatter(string path, ReadOnlySpan<float> points, ReadOnlySpan<byte> labels, string? title = null, int width = 600, int height = 560)
    {
        var ints = new int[labels.Length];
        for (int i = 0; i < ints.Length; i++) ints[i] = labels[i];
        WriteScatter(path, points, ints, title, width, height);
    }

    /// <summary>The plotting rectangle [X0, X1] x [Y0, Y1] in pixels and the data ranges mapped onto it.</summary>
    private readonly record struct Frame(int X0, int Y0, int X1, int Y1, AxisRange XAxis, AxisRange YAxis)
    {
        public int Px(double x) => X0 + (int)Math.Round((x - XAxis.Min) / (XAxis.Max - XAxis.Min) * (X1 - X0));
        public int Py(double y) => Y1 - (int)Math.Round((y - YAxis.Min) / (YAxis.Max - YAxis.Min) * (Y1 - Y0));
    }

    /// <summary>A data range widened to whole multiples of a "nice" tick step (1, 2 or 5 times a power of ten).</summary>
    private readonly record struct AxisRange(double Min, double Max, double Step);

    private static float XAt(PlotSeries s, int i) => s.X is null ? i + 1 : s.X[i];

    private static AxisRange Axis(IEnumerable<float> values)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (float v in values)
            if (float.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
        if (min > max) { min = 0; max = 1; }
        if (max - min < 1e-12 * Math.Max(1, Math.Abs(max))) { min -= 1; max += 1; }
        double raw = (max - min) / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw))), f = raw / magnitude;
        double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
        return new AxisRange(Math.Floor(min / step) * step, Math.Ceiling(max / step) * step, step);
    }

    private static void DrawFrame(RgbCanvas canvas, Frame frame, string? title, string? xLabel, string? yLabel)
    {
        var (x, y) = (frame.XAxis, frame.YAxis);
        for (int k = 0; x.Min + k * x.Step <= x.Max + x.Step * 1e-6; k++)
        {
            double v = x.Min + k * x.Step;
            int px = frame.Px(v);
            canvas.DrawLine(px, frame.Y0, px, frame.Y1, Rgb.LightGray);
            canvas.DrawLine(px, frame.Y1, px, frame.Y1 + 4, Rgb.Black);
            string text = Format(v);
            canvas.DrawText(px - RgbCanvas.MeasureText(text) / 2, frame.Y1 + 8, text, Rgb.Black);
        }
        for (int k = 0; y.Min + k * y.Step <= y.Max + y.Step * 1e-6; k++)
        {
            double v = y.Min + k * y.Step;
            int py = frame.Py(v);
            canvas.DrawLine(frame.X0, py, frame.X1, py, Rgb.LightGray);
            canvas.DrawLine(frame.X0 - 4, py, frame.X0, py, Rgb.Black);
            string text = Format(v);
            canvas.DrawText(frame.X0 - 7 - RgbCanvas.MeasureText(text), py - 3, text, Rgb.Black);
        }
        canvas.DrawRect(frame.X0, frame.Y0, frame.X1 - frame.X0 + 1, frame.Y1 - frame.Y0 + 1, Rgb.Black);
        if (title is not null) canvas.DrawText((canvas.Width - RgbCanvas.MeasureText(title, 2)) / 2, 6, title, Rgb.Black, scale: 2);
        if (xLabel is not null) canvas.DrawText((frame.X0 + frame.X1 - RgbCanvas.MeasureText(xLabel)) / 2, frame.Y1 + 24, xLabel, Rgb.Black);
        if (yLabel is not null) canvas.DrawText(4, frame.Y0 - 12, yLabel, Rgb.Black);
    }

    /// <summary>Draws a boxed legend whose top-right corner is (right, top): a swatch and a name per entry.</summary>
    private static void DrawLegend(RgbCanvas canvas, int right, int top, IReadOnlyList<(string Name, Rgb Color)> entries)
    {
        int textWidth = entries.Max(e => RgbCanvas.MeasureText(e.Name));
        int boxW = textWidth + 26, boxH = entries.Count * 14 + 6, left = right - boxW;
        canvas.FillRect(left, top, boxW, boxH, Rgb.White);
        canvas.DrawRect(left, top, boxW, boxH, Rgb.Black);
        for (int i = 0; i < entries.Count; i++)
        {
            int y = top + 5 + i * 14;
            canvas.FillRect(left + 5, y, 10, 10, entries[i].Color);
            canvas.DrawText(left + 20, y + 2, entries[i].Name, Rgb.Black);
        }
    }

    private static string Format(double v) => (Math.Abs(v) < 1e-9 ? 0 : v).ToString("G4", CultureInfo.InvariantCulture);
}
