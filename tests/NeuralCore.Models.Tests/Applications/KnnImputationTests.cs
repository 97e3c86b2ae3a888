using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class KnnImputationTests
{
    // rows (0, 0), (1, 1), (10, 10), (0.3, ?), (?, ?): both columns scale by 10; row 3 shares column 0 with the donors,
    // at scaled distances 0.03, 0.07 and 0.97, so its nearest k rows are 0, then 1, then 2. Row 4 shares no column with
    // anyone and gets the column means: (0 + 1 + 10 + 0.3) / 4 = 2.825 and (0 + 1 + 10) / 3.
    private static readonly float[] Values = [0, 0, 1, 1, 10, 10, 0.3f, float.NaN, float.NaN, float.NaN];
    private static readonly bool[] Missing = [false, false, false, false, false, false, false, true, true, true];

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.5)]
    [InlineData(3, 11.0 / 3)]
    public void AMissingCell_IsTheMeanOfItsKNearestDonors(int k, double expected)
    {
        float[] filled = KnnImputation.Impute(Values, Missing, 2, k);
        Assert.Equal(expected, filled[7], 5);
        Assert.Equal(2.825, filled[8], 5);
        Assert.Equal(11.0 / 3, filled[9], 5);
        Assert.Equal(Values[..7], filled[..7]);   // observed cells unchanged
    }
}
