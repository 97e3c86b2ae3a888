using System.CommandLine;
using System.Diagnostics;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore encode</c>: writes the embedding of every input row (feature extraction) and optionally plots them.</summary>
internal static class EncodeCommand
{
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "one row per input: z0..zN-1 (a VAE's mean mu), plus label when known; - for standard output", "FILE.csv", "DIR/features.csv");
    private static readonly Option<string?> PlotPath = CliOption.OptionalString("--plot",
        "scatter of the embeddings coloured by label; a 2-D latent is drawn as is, a larger one projected onto its first two " +
        "principal components", "FILE.png");
    private static readonly Option<int> Batch = CliOption.Int("--batch", "rows per forward pass", 500, 1, SizeLimits.MaxBatch);

    public static CliCommand Create() => new CliCommand("encode", "extract features: the embedding of every row, as CSV (and a latent-space plot)", Run)
    {
        Title = "extract features: the embedding of every input row",
        Usage = ["--model DIR [--data SOURCE] [--split test|train] [--out FILE.csv] [--plot FILE.png]"],
        Notes = """
            --label-column COL of a CSV is copied to the output's label column.
            for MNIST it also prints the accuracy of a nearest-centroid classifier (class means of the training split)
            on these features next to the same classifier on raw pixels.
            """,
    }.With([CommonOptions.ModelDirectory, .. CommonOptions.DataOptions, CommonOptions.Split, Out, PlotPath, Batch, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        var (dir, backend, spec, data) = SavedModel.Open(args);
        var split = DataSplit.Select(args, data);
        string outPath = args.Get(Out) ?? Path.Combine(dir, "features.csv");
        string? plotPath = args.Get(PlotPath);
        int batch = args.Get(Batch);
        if (plotPath != null && !plotPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Outputs.IsStream(plotPath))
            throw new CliException($"encode: --plot {plotPath} must be a .png file", 2);
        Outputs.Check("encode", Outputs.ModelInputs(dir, args.Get(CommonOptions.Data) ?? spec.Data), new("--out", outPath), new("--plot", plotPath));

        var model = ModelStore.Load(dir, backend);
        if (model is VqVae vq)
        {
            if (plotPath != null) throw new CliException("encode: --plot draws continuous embeddings; a VQ-VAE's output is code indices (see DIR/codebook-usage.png)", 2);
            WriteCodes(vq, split, outPath, batch, data.Description);
            return 0;
        }
        int latent = spec.Latent;
        var clock = Stopwatch.StartNew();
        float[] features = Features.Encode(model, split.Rows, split.Count, batch);

        var header = Enumerable.Range(0, latent).Select(i => $"z{i}").ToList();
        if (split.Labels != null) header.Add("label");
        CsvTable.Write(outPath, header, Enumerable.Range(0, split.Count).Select(r =>
        {
            var row = new float[header.Count];
            Array.Copy(features, r * latent, row, 0, latent);
            if (split.Labels != null) row[latent] = split.Labels[r];
            return (IReadOnlyList<float>)row;
        }));
        Console.WriteLine($"encoded {split.Count} rows ({data.Description}, {split.Name}) with {spec.Kind} into {latent} features " +
                          $"in {clock.Elapsed.TotalSeconds:F2} s: wrote {Outputs.Name(outPath)}");

        if (data.Columns == null && split.Name == "test" && data.TrainLabels != null && data.TestLabels != null)
        {
            var trainFeatures = Features.Encode(model, data.Train, data.TrainCount, batch);
            double onFeatures = NearestCentroid.Fit(trainFeatures, data.TrainLabels, latent).Accuracy(features, data.TestLabels);
            double onPixels = NearestCentroid.Fit(data.Train.AsSpan(0, data.TrainCount * data.Features), data.TrainLabels, data.Features)
                .Accuracy(data.Test.AsSpan(0, data.TestCount * data.Features), data.TestLabels);
            Console.WriteLine($"nearest-centroid test accuracy: features {onFeatures:P2}, raw pixels {onPixels:P2}");
        }
        if (plotPath != null)
        {
            var (points, how) = latent == 2 ? (features, "latent space") : (ProjectTo2D(features, split.Count, latent), "first two principal components of the latent space");
            Plot.WriteScatter(plotPath, points, split.Labels ?? new int[split.Count], $"{spec.Kind}: {how} ({split.Name})");
            Console.WriteLine($"wrote {Outputs.Name(plotPath)} ({how}{(split.Labels == null ? ", no labels" : ", coloured by label")})");
        }
        return 0;
    }

    /// <summary>A VQ-VAE's codes: one row per input, c0..c(cells-1) the code index of each grid cell in raster order (+ label).</summary>
    private static void WriteCodes(VqVae model, DataSplit split, string outPath, int batch, string description)
    {
        var clock = Stopwatch.StartNew();
        int cells = model.Cells;
        var codes = model.CodesOf(split.Rows, split.Count, batch);
        var header = Enumerable.Range(0, cells).Select(i => $"c{i}").ToList();
        if (split.Labels != null) header.Add("label");
        CsvTable.Write(outPath, header, Enumerable.Range(0, split.Count).Select(r =>
        {
            var row = new float[header.Count];
            for (int i = 0; i < cells; i++) row[i] = codes[r * cells + i];
            if (split.Labels != null) row[cells] = split.Labels[r];
            return (IReadOnlyList<float>)row;
        }));
        Console.WriteLine($"encoded {split.Count} rows ({description}, {split.Name}) with vqvae into {model.GridHeight}x{model.GridWidth} code indices of {model.CodebookSize} " +
                          $"in {clock.Elapsed.TotalSeconds:F2} s: wrote {Outputs.Name(outPath)}");
    }

    private static float[] ProjectTo2D(float[] features, int count, int latent)
    {
        if (latent == 1)
        {
            var points = new float[count * 2];
            for (int i = 0; i < count; i++) points[2 * i] = features[i];
            return points;
        }
        if (count < 2) throw new CliException("encode: --plot needs at least 2 rows to project a latent space larger than 2-D");
        return Pca.Fit(features, count, latent, 2).Transform(features, count);
    }
}
