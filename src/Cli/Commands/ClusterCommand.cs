using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore cluster</c>: k-means on a model's embeddings, beside k-means on PCA components and on the raw inputs.</summary>
internal static class ClusterCommand
{
    private static readonly Option<int> K = CliOption.Int("--k", "number of clusters", 10, 1, 10_000, "K");
    private static readonly Option<int> Restarts = CliOption.Int("--restarts", "k-means++ starts; the lowest within-cluster sum of squares wins", 10, 1, 1000);
    private static readonly Option<string> Scale = CliOption.Choice("--scale",
        "how the embeddings are scaled before k-means: none | standard (each dimension to mean 0, variance 1) | unit (each row to length 1)",
        "NAME", ["none", "standard", "unit"], (command, name) => $"{command}: --scale must be none, standard or unit, got '{name}'", "none");
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "CSV with the columns row, cluster and label when known", "FILE.csv", "DIR/clusters.csv");
    private static readonly Option<string?> PlotPath = CliOption.OptionalString("--plot",
        "the embeddings' first two principal components coloured by cluster (and beside it by label when known)", "FILE.png", "DIR/clusters.png");

    public static CliCommand Create() => new CliCommand("cluster", "k-means on the encoder's embeddings vs PCA and raw inputs: NMI, ARI", Run)
    {
        Title = "cluster the embeddings with k-means and compare with PCA and the raw inputs",
        Usage = ["--model DIR --k K [--data SOURCE] [--split test|train] [--restarts N] [--seed N]", "--model DIR --k K [--out FILE.csv] [--plot FILE.png] [--scale none|standard|unit]"],
        Notes = """
            k-means (k-means++ seeding, --restarts starts, the lowest within-cluster sum of squares kept; --seed chooses the
            draws) runs three times on the same rows: on the model's embeddings (a VAE's mean mu), on as many principal
            components of the inputs as the embedding has dimensions (PCA fitted on the training split of an image set, on
            the rows of a table), and on the raw inputs. With labels (MNIST digits, a CSV --label-column) it prints the
            normalised mutual information (NMI) and adjusted Rand index (ARI) of each clustering against them.
            The embeddings are clustered as the encoder gives them (--scale none, measured best); PCA components and raw
            inputs as they are. Recommended: a VAE whose embedding size is the number of clusters sought (train --model vae
            --latent K): on MNIST-10k with K = 10 its mean mu gives NMI 0.571 against 0.480 for 10 PCA components, where
            the default 20-D VAE is level with PCA (docs/applications.md).
            """,
    }.With([CommonOptions.ModelDirectory, .. CommonOptions.DataOptions, CommonOptions.Split, K, Restarts, Scale, CommonOptions.Seed, Out, PlotPath,
        .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        var (dir, backend, spec, data) = SavedModel.Open(args);
        var split = DataSplit.Select(args, data);
        int k = args.Get(K), restarts = args.Get(Restarts);
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        string scale = args.Get(Scale);
        string outPath = args.Get(Out) ?? Path.Combine(dir, "clusters.csv");
        string plotPath = args.Get(PlotPath) ?? Path.Combine(dir, "clusters.png");
        if (!plotPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new CliException($"cluster: --plot {plotPath} must be a .png file", 2);
        if (k > split.Count) throw new CliException($"cluster: --k {k} is more than the {split.Count} rows of {data.Description} ({split.Name}); choose a smaller K", 2);

        var model = ModelStore.Load(dir, backend);
        int latent = spec.Latent, features = data.Features;
        var clock = Stopwatch.StartNew();
        float[] embeddings = Features.Encode(model, split.Rows, split.Count);
        if (scale == "standard") Standardise(embeddings, split.Count, latent);
        if (scale == "unit") UnitRows(embeddings, split.Count, latent);
        var onEmbeddings = KMeans.Fit(embeddings, split.Count, latent, k, restarts, seed);

        var (pcaRows, pcaCount) = data.Columns == null && data.TrainCount >= 2 ? (data.Train, data.TrainCount) : (split.Rows, split.Count);
        int components = Math.Min(latent, features);
        var pca = Pca.Fit(pcaRows, pcaCount, features, components, seed);
        var onPca = KMeans.Fit(pca.Transform(split.Rows, split.Count), split.Count, components, k, restarts, seed);
        var onRaw = KMeans.Fit(split.Rows, split.Count, features, k, restarts, seed);

        Console.WriteLine($"k-means, K = {k}, {restarts} k-means++ starts, seed {seed}, on {split.Count} rows of {data.Description} ({split.Name}); {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine(split.Labels == null ? $"{"clustered on",-38} {"dims",5}  sizes" : $"{"clustered on",-38} {"dims",5}  {"NMI",6}  {"ARI",6}  sizes");
        string what = spec.Kind.EndsWith("vae", StringComparison.Ordinal) ? "mean mu" : "embedding";
        Report($"{spec.Kind} {what}{(scale == "none" ? "" : $", scale {scale}")}", latent, onEmbeddings, split.Labels, k);
        Report($"PCA components", components, onPca, split.Labels, k);
        Report("raw inputs", features, onRaw, split.Labels, k);
        if (split.Labels != null)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"NMI: embedding - PCA components = {ClusterMetrics.NormalizedMutualInformation(split.Labels, onEmbeddings.Assignments) - ClusterMetrics.NormalizedMutualInformation(split.Labels, onPca.Assignments):+0.0000;-0.0000}"));
        if (latent > k && spec.Kind.EndsWith("vae", StringComparison.Ordinal))
            Console.WriteLine($"note: the embedding has {latent} dimensions for {k} clusters; a VAE trained with --latent {k} clusters better (docs/applications.md)");

        var header = new List<string> { "row", "cluster" };
        if (split.Labels != null) header.Add("label");
        CsvTable.Write(outPath, header, Enumerable.Range(0, split.Count).Select(r =>
        {
            var row = new List<float> { split.RowNumbers[r], onEmbeddings.Assignments[r] };
            if (split.Labels != null) row.Add(split.Labels[r]);
            return (IReadOnlyList<float>)row;
        }));

        float[] points = latent switch
        {
            1 => Enumerable.Range(0, split.Count * 2).Select(i => i % 2 == 0 ? embeddings[i / 2] : 0f).ToArray(),
            2 => embeddings,
            _ => Pca.Fit(embeddings, split.Count, latent, 2, seed).Transform(embeddings, split.Count),
        };
        string view = latent <= 2 ? "embedding" : "embedding, 2 PCs";
        var byCluster = Plot.RenderScatter(points, onEmbeddings.Assignments, $"{spec.Kind} {view}: cluster");
        var picture = split.Labels == null ? byCluster : RgbCanvas.SideBySide(byCluster, Plot.RenderScatter(points, split.Labels, $"{spec.Kind} {view}: label"));
        picture.Save(plotPath);
        Console.WriteLine($"wrote {outPath} and {plotPath}");
        return 0;
    }

    private static void Report(string name, int dims, KMeansResult result, int[]? labels, int k)
    {
        var sizes = new int[k];
        foreach (int c in result.Assignments) sizes[c]++;
        string sizeText = string.Join(" ", sizes.Order().Reverse());
        if (labels == null)
        {
            Console.WriteLine($"{name,-38} {dims,5}  {sizeText}");
            return;
        }
        double nmi = ClusterMetrics.NormalizedMutualInformation(labels, result.Assignments);
        double ari = ClusterMetrics.AdjustedRandIndex(labels, result.Assignments);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-38} {dims,5}  {nmi,6:F4}  {ari,6:F4}  {sizeText}"));
    }

    /// <summary>Each column of rows [count, dims] to mean 0 and variance 1 (a constant column to 0).</summary>
    private static void Standardise(float[] rows, int count, int dims)
    {
        for (int d = 0; d < dims; d++)
        {
            double sum = 0, squares = 0;
            for (int i = 0; i < count; i++) sum += rows[i * dims + d];
            double mean = sum / count;
            for (int i = 0; i < count; i++) squares += Math.Pow(rows[i * dims + d] - mean, 2);
            double std = Math.Sqrt(squares / count);
            for (int i = 0; i < count; i++) rows[i * dims + d] = std > 0 ? (float)((rows[i * dims + d] - mean) / std) : 0f;
        }
    }

    /// <summary>Each row of rows [count, dims] to Euclidean length 1 (k-means then groups by direction).</summary>
    private static void UnitRows(float[] rows, int count, int dims)
    {
        for (int i = 0; i < count; i++)
        {
            var row = rows.AsSpan(i * dims, dims);
            double norm = 0;
            foreach (float v in row) norm += (double)v * v;
            norm = Math.Sqrt(norm);
            if (norm > 0) for (int d = 0; d < dims; d++) row[d] = (float)(row[d] / norm);
        }
    }
}
