using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class SphereDataTests
{
    [Fact]
    public void Sample_LiesOnTheUnitSphere_OutsideTheHole_AndIsUniformInZ()
    {
        float[] p = SphereData.Sample(5000, 30, new SeededRandom(4));
        double zMax = Math.Cos(Math.PI / 6);
        int below = 0;
        for (int i = 0; i < 5000; i++)
        {
            double norm = Math.Sqrt(p[3 * i] * p[3 * i] + p[3 * i + 1] * p[3 * i + 1] + p[3 * i + 2] * p[3 * i + 2]);
            Assert.Equal(1.0, norm, 5);
            Assert.True(p[3 * i + 2] <= zMax + 1e-6);
            if (p[3 * i + 2] < 0) below++;
        }
        // uniform area: P(z < 0) = 1 / (1 + cos 30°) = 0.536
        Assert.InRange(below / 5000.0, 0.51, 0.56);
        Assert.Equal(p, SphereData.Sample(5000, 30, new SeededRandom(4)));
    }

    [Fact]
    public void LatitudeAndLongitude_OfKnownPoints()
    {
        float[] p = [0, 0, -1, 1, 0, 0, 0, 1, 0, -1, 0, 0];
        Assert.Equal([-90, 0, 0, 0], SphereData.Latitudes(p).Select(x => Math.Round(x, 4)));
        Assert.Equal([0, 90, -180], SphereData.Longitudes(p).Skip(1).Select(x => Math.Round(x, 4)));
        Assert.Equal([0, 6, 6, 6], SphereData.LatitudeBins(p, holeDegrees: 30));   // bands of 15° from -90 to 60
        Assert.Equal([5, 7, 0], SphereData.LongitudeBins(p).Skip(1));
    }

    [Fact]
    public void Bins_CoverAllTenValues()
    {
        float[] p = SphereData.Sample(3000, 30, new SeededRandom(1));
        Assert.Equal(Enumerable.Range(0, 10), SphereData.LatitudeBins(p, 30).Distinct().Order());
        Assert.Equal(Enumerable.Range(0, 10), SphereData.LongitudeBins(p).Distinct().Order());
        Assert.Throws<ArgumentOutOfRangeException>(() => SphereData.Sample(10, 180, new SeededRandom(0)));
    }
}
