using System.Diagnostics;

namespace NeuralCore.Cli;

/// <summary>The rows a command scores or encodes: one split of an image data set, or every row of a CSV table.</summary>
/// <param name="Name">"test", "train" or "all rows" (tables).</param>
/// <param name="Rows">Scaled inputs [Count, features].</param>
/// <param name="Count">Number of rows.</param>
/// <param name="Labels">Labels [Count] when known (MNIST digits, a CSV --label-column), else null.</param>
/// <param name="RowNumbers">Index of each row in its split or file, [Count].</param>
internal sealed record DataSplit(string Name, float[] Rows, int Count, int[]? Labels, int[] RowNumbers)
{
    /// <summary>Picks the split named by --split (image data) or all rows (a table; --split is then an error).</summary>
    public static DataSplit Select(Args args, Dataset data)
    {
        string? split = args.Get(CommonOptions.Split);
        if (data.Columns != null)
        {
            if (split != null)
                throw new CliException($"{args.Command}: --split applies to image data; the table {data.Description} is used whole, drop --split", 2);
            return new DataSplit("all rows", data.Test, data.TestCount, data.TestLabels, data.TestRowNumbers ?? Enumerable.Range(0, data.TestCount).ToArray());
        }
        return (split ?? "test") switch
        {
            "test" => new DataSplit("test", data.Test, data.TestCount, data.TestLabels, Enumerable.Range(0, data.TestCount).ToArray()),
            "train" => new DataSplit("train", data.Train, data.TrainCount, data.TrainLabels, Enumerable.Range(0, data.TrainCount).ToArray()),
            _ => throw new UnreachableException(split),   // CommonOptions.Split accepts no other name
        };
    }
}
