using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Applications;

public class PlacesTests
{
    [Fact]
    public void LatitudeAndLongitude_MapOntoTheUnitSphere()
    {
        // (0, 0) -> +x; (0, 90E) -> +y; north pole -> +z; (45N, 180) -> (-cos 45, 0, sin 45)
        float[] p = SphereData.FromLatitudeLongitude([0, 0, 90, 45], [0, 90, 0, 180]);
        double[] expected = [1, 0, 0, 0, 1, 0, 0, 0, 1, -Math.Sqrt(0.5), 0, Math.Sqrt(0.5)];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], p[i], 6);
        Assert.Equal([0, 0, 90, 45], SphereData.Latitudes(p).Select(x => Math.Round(x, 4)));
    }

    [Fact]
    public void Read_KeepsNamesWithCommas_AndFindsAPlaceByCountry()
    {
        string path = Path.Combine(Path.GetTempPath(), $"places-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, "name,country,lat,lon\nParis,US,33.66,-95.56\n\"Basford, Stoke-on-Trent\",GB,53.0,-2.2\nParis,FR,48.85341,2.3488\n");
        var places = Places.Read(path);
        Assert.Equal(3, places.Count);
        Assert.Equal("Basford, Stoke-on-Trent", places.Names[1]);
        Assert.Equal(2, places.IndexOf("Paris", "FR"));
        Assert.Equal(0, places.IndexOf("Paris"));
        Assert.Equal(-1, places.IndexOf("Tokyo"));
        Assert.Equal(48.85341, places.Latitudes[2]);
        Assert.Equal(9, places.Points().Length);
    }

    [Fact]
    public void Read_RejectsALatitudeOutOfRange_NamingTheRow()
    {
        string path = Path.Combine(Path.GetTempPath(), $"places-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, "name,lat,lon\nA,10,20\nB,95,20\n");
        var error = Assert.Throws<DataFormatException>(() => Places.Read(path));
        Assert.Contains("data row 2, column 'lat' is '95'", error.Message);
    }
}
