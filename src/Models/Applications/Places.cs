using System.Globalization;
using NeuralCore.Models.Data;

namespace NeuralCore.Models.Applications;

/// <summary>
/// Named places on the Earth's surface (a CSV with the columns <c>name</c>, <c>lat</c>, <c>lon</c> and optionally
/// <c>country</c>, latitude and longitude in degrees), and their positions on the unit sphere: the seed's example of data
/// given by three numbers that lives on a 2-D surface.
/// </summary>
/// <example><code>
/// var cities = Places.Read("data/world-cities.csv");
/// float[] xyz = cities.Points();                    // [cities.Count, 3] on the unit sphere
/// int tokyo = cities.IndexOf("Tokyo", "JP");
/// </code></example>
public sealed class Places
{
    private Places(string[] names, string[] countries, double[] latitudes, double[] longitudes)
    {
        Names = names;
        Countries = countries;
        Latitudes = latitudes;
        Longitudes = longitudes;
    }

    /// <summary>Number of places.</summary>
    public int Count => Names.Count;
    /// <summary>Place names, [Count].</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>Country codes, [Count] (empty strings when the file has no <c>country</c> column).</summary>
    public IReadOnlyList<string> Countries { get; }
    /// <summary>Latitudes in degrees, -90..90, [Count].</summary>
    public IReadOnlyList<double> Latitudes { get; }
    /// <summary>Longitudes in degrees, -180..180, [Count].</summary>
    public IReadOnlyList<double> Longitudes { get; }

    /// <summary>Reads a table of places.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">A column is missing, or a latitude or longitude is not a number in range.</exception>
    public static Places Read(string path)
    {
        var table = CsvTextTable.Read(path);
        int Column(string name, bool required)
        {
            int index = table.Header.ToList().IndexOf(name);
            if (index < 0 && required)
                throw new DataFormatException($"{path}: has no '{name}' column; a table of places needs the columns name, lat, lon (degrees) and optionally country");
            return index;
        }
        int nameColumn = Column("name", true), latColumn = Column("lat", true), lonColumn = Column("lon", true), countryColumn = Column("country", false);
        int n = table.Rows.Count;
        if (n == 0) throw new DataFormatException($"{path}: has a header but no places; add rows of name, lat, lon");
        var names = new string[n];
        var countries = new string[n];
        var latitudes = new double[n];
        var longitudes = new double[n];
        for (int r = 0; r < n; r++)
        {
            var row = table.Rows[r];
            names[r] = row[nameColumn];
            countries[r] = countryColumn >= 0 ? row[countryColumn] : "";
            latitudes[r] = Degrees(path, r, "lat", row[latColumn], 90);
            longitudes[r] = Degrees(path, r, "lon", row[lonColumn], 180);
        }
        return new Places(names, countries, latitudes, longitudes);
    }

    /// <summary>The places' positions on the unit sphere, [Count, 3]: x = cos(lat) cos(lon), y = cos(lat) sin(lon), z = sin(lat).</summary>
    public float[] Points() => SphereData.FromLatitudeLongitude(Latitudes.ToArray(), Longitudes.ToArray());

    /// <summary>The index of the first place called <paramref name="name"/> (in <paramref name="country"/> when given), or -1.</summary>
    public int IndexOf(string name, string? country = null)
    {
        for (int i = 0; i < Count; i++)
            if (Names[i] == name && (country is null || Countries[i] == country)) return i;
        return -1;
    }

    private static double Degrees(string path, int row, string column, string text, double limit)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(Math.Abs(value) <= limit))
            throw new DataFormatException($"{path}: data row {row + 1}, column '{column}' is '{text}'; expected degrees between -{limit} and {limit}");
        return value;
    }
}
