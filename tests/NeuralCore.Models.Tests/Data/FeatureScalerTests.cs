using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class FeatureScalerTests
{
    [Fact]
    public void ScalesWineToUnitRangeAndInvertsBack()
    {
        var table = CsvTable.Read(RepoData.Path("data/wine.csv"), dropColumns: ["class"]);
        var scaler = FeatureScaler.Fit(table.Values, table.ColumnCount);
        Assert.Equal(13, scaler.FeatureCount);
        float[] scaled = scaler.Transformed(table.Values);
        for (int c = 0; c < 13; c++)
        {
            var column = Enumerable.Range(0, table.RowCount).Select(r => scaled[r * 13 + c]).ToArray();
            Assert.Equal(0f, column.Min());
            Assert.Equal(1f, column.Max(), 1e-6f);
        }
        scaler.InverseTransform(scaled);
        for (int i = 0; i < scaled.Length; i++) Assert.Equal(table.Values[i], scaled[i], Math.Abs(table.Values[i]) * 1e-6f + 1e-6f);
    }

    [Fact]
    public void ConstantAndAllMissingColumnsAreSafeAndNaNIsIgnored()
    {
        // [3 rows, 3 features]: constant 5, values with a NaN, all NaN.
        float[] data = [5, 1, float.NaN, 5, float.NaN, float.NaN, 5, 3, float.NaN];
        var scaler = FeatureScaler.Fit(data, 3);
        Assert.Equal(new[] { 5f, 1f, 0f }, scaler.Min);
        Assert.Equal(new[] { 5f, 3f, 1f }, scaler.Max);
        float[] scaled = scaler.Transformed(data);
        Assert.Equal(0f, scaled[0]);
        Assert.Equal(0f, scaled[1]);
        Assert.True(float.IsNaN(scaled[4]));
        Assert.Equal(1f, scaled[7]);
        Assert.All(scaled, v => Assert.False(float.IsInfinity(v)));
        scaler.InverseTransform(scaled);
        Assert.Equal(5f, scaled[3]);
        Assert.Equal(3f, scaled[7]);
        Assert.True(float.IsNaN(scaled[2]));
    }

    [Fact]
    public void JsonRoundTripIsExact()
    {
        var scaler = FeatureScaler.Fit(new float[] { 0.1f, -1e-20f, 1f / 3f, 3.4e38f, 7f, 7f }, 2);
        string json = scaler.ToJson();
        Assert.Contains("\"kind\":\"minmax\"", json);
        var back = FeatureScaler.FromJson(json);
        Assert.Equal(scaler.Min, back.Min);
        Assert.Equal(scaler.Max, back.Max);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"kind\":\"zscore\",\"min\":[0],\"max\":[1]}")]
    [InlineData("{\"kind\":\"minmax\",\"min\":[0,1],\"max\":[1]}")]
    [InlineData("{\"kind\":\"minmax\",\"min\":[2],\"max\":[1]}")]
    [InlineData("{\"kind\":\"minmax\",\"min\":[\"a\"],\"max\":[1]}")]
    [InlineData("{\"kind\":\"minmax\",\"max\":[1]}")]
    public void BadJsonIsADataFormatError(string json) =>
        Assert.Throws<DataFormatException>(() => FeatureScaler.FromJson(json));

    [Fact]
    public void ShapeMismatchIsAnArgumentError()
    {
        Assert.Throws<ArgumentException>(() => FeatureScaler.Fit(new float[5], 2));
        var scaler = FeatureScaler.Fit(new float[] { 0, 1, 2, 3 }, 2);
        Assert.Throws<ArgumentException>(() => scaler.Transform(new float[3]));
    }
}
