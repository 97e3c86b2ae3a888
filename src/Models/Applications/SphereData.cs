namespace NeuralCore.Models.Applications;

/// <summary>
/// Points on the unit sphere in 3-D, a curved 2-D surface for showing what a non-linear autoencoder does that
/// PCA cannot: the best linear 2-D projection flattens the sphere and loses the third direction, while an
/// autoencoder with a 2-D bottleneck can bend a chart around it. A whole sphere cannot be mapped continuously
/// and one-to-one onto the plane (any continuous map to 2-D sends two opposite points to the same place, by
/// the Borsuk-Ulam theorem), so the sampler can leave out a polar cap: the sphere minus a cap is a deformed
/// disk, which does have a 2-D chart.
/// </summary>
/// <example><code>
/// float[] points = SphereData.Sample(4000, holeDegrees: 30, new SeededRandom(0));   // [4000, 3]
/// int[] latitudeBin = SphereData.LatitudeBins(points, holeDegrees: 30, bins: 10);   // [4000], 0 = south
/// </code></example>
public static class SphereData
{
    /// <summary>
    /// <paramref name="count"/> points uniformly distributed on the unit sphere without the cap of angular radius
    /// <paramref name="holeDegrees"/> around the north pole (0 = the whole sphere): [count, 3] as (x, y, z).
    /// Uniform because z is uniform on a sphere (Archimedes' hat-box theorem): z ~ U[-1, cos hole], longitude ~ U[0, 2π).
    /// </summary>
    public static float[] Sample(int count, double holeDegrees, SeededRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        CheckHole(holeDegrees);
        double zMax = Math.Cos(holeDegrees * Math.PI / 180);
        var points = new float[count * 3];
        for (int i = 0; i < count; i++)
        {
            double z = -1 + (zMax + 1) * random.NextFloat();
            double phi = 2 * Math.PI * random.NextFloat();
            double r = Math.Sqrt(Math.Max(0, 1 - z * z));
            points[3 * i] = (float)(r * Math.Cos(phi));
            points[3 * i + 1] = (float)(r * Math.Sin(phi));
            points[3 * i + 2] = (float)z;
        }
        return points;
    }

    /// <summary>
    /// Points on the unit sphere [count, 3] for latitudes and longitudes in degrees (both [count]):
    /// x = cos(lat) cos(lon), y = cos(lat) sin(lon), z = sin(lat).
    /// </summary>
    public static float[] FromLatitudeLongitude(ReadOnlySpan<double> latitudes, ReadOnlySpan<double> longitudes)
    {
        if (latitudes.Length != longitudes.Length)
            throw new ArgumentException($"sphere: {latitudes.Length} latitudes but {longitudes.Length} longitudes");
        var points = new float[latitudes.Length * 3];
        for (int i = 0; i < latitudes.Length; i++)
        {
            double lat = latitudes[i] * Math.PI / 180, lon = longitudes[i] * Math.PI / 180;
            points[3 * i] = (float)(Math.Cos(lat) * Math.Cos(lon));
            points[3 * i + 1] = (float)(Math.Cos(lat) * Math.Sin(lon));
            points[3 * i + 2] = (float)Math.Sin(lat);
        }
        return points;
    }

    /// <summary>Latitude of each point [count, 3] in degrees, -90 (south pole) to 90: [count].</summary>
    public static double[] Latitudes(ReadOnlySpan<float> points)
    {
        var result = new double[points.Length / 3];
        for (int i = 0; i < result.Length; i++)
        {
            double norm = Math.Sqrt(Square(points[3 * i]) + Square(points[3 * i + 1]) + Square(points[3 * i + 2]));
            result[i] = Math.Asin(Math.Clamp(points[3 * i + 2] / Math.Max(norm, 1e-12), -1, 1)) * 180 / Math.PI;
        }
        return result;
    }

    /// <summary>Longitude of each point [count, 3] in degrees, [-180, 180): [count].</summary>
    public static double[] Longitudes(ReadOnlySpan<float> points)
    {
        var result = new double[points.Length / 3];
        for (int i = 0; i < result.Length; i++)
        {
            double degrees = Math.Atan2(points[3 * i + 1], points[3 * i]) * 180 / Math.PI;
            result[i] = degrees >= 180 ? degrees - 360 : degrees;
        }
        return result;
    }

    /// <summary>Latitude bands [count]: <paramref name="bins"/> equal bands from -90° to the edge of the hole (90° - hole), 0 = southernmost.</summary>
    public static int[] LatitudeBins(ReadOnlySpan<float> points, double holeDegrees, int bins = 10)
    {
        CheckHole(holeDegrees);
        return Bin(Latitudes(points), -90, 90 - holeDegrees, bins);
    }

    /// <summary>Longitude sectors [count]: <paramref name="bins"/> equal sectors from -180° to 180°.</summary>
    public static int[] LongitudeBins(ReadOnlySpan<float> points, int bins = 10) => Bin(Longitudes(points), -180, 180, bins);

    private static int[] Bin(double[] values, double low, double high, int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = Math.Clamp((int)Math.Floor((values[i] - low) / (high - low) * bins), 0, bins - 1);
        return result;
    }

    private static void CheckHole(double holeDegrees)
    {
        if (!(holeDegrees >= 0 && holeDegrees < 180))
            throw new ArgumentOutOfRangeException(nameof(holeDegrees), $"the polar hole must be between 0 and 180 degrees, got {holeDegrees}");
    }

    private static double Square(double x) => x * x;
}
