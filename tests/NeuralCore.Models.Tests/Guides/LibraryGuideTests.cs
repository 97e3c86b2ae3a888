using NeuralCore;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;
using NeuralCore.Models.Tests.Inspection;

namespace NeuralCore.Models.Tests.Guides;

/// <summary>
/// Runs docs/library.md: every ```csharp block appears verbatim in this file (indentation aside) and runs here in
/// order; every ```text block has the shape of what the code prints, with each number within 3 % of the printed
/// one (training runs on the SIMD CPU backend, whose last digits differ between CPUs).
/// </summary>
[Collection("console")]
public class LibraryGuideTests
{
    private static readonly string DocPath = RepoData.Path("docs/library.md");

    [Fact]
    public void EveryCodeBlockOfTheGuide_IsInThisFile()
    {
        // The MPI block needs NeuralCore.Distributed, which the MPI test project compiles.
        var source = DocBlocks.NonEmptyTrimmedLines(
            File.ReadAllText(RepoData.Path("tests/NeuralCore.Models.Tests/Guides/LibraryGuideTests.cs")) + "\n" +
            File.ReadAllText(RepoData.Path("tests/NeuralCore.Distributed.Tests/LibraryGuideBlocks.cs")));
        var blocks = DocBlocks.Blocks(File.ReadAllText(DocPath), "csharp");
        Assert.True(blocks.Count >= 5, $"only {blocks.Count} csharp blocks");
        foreach (var block in blocks)
        {
            var lines = DocBlocks.NonEmptyTrimmedLines(block);
            bool found = Enumerable.Range(0, source.Count - lines.Count + 1).Any(start => lines.SequenceEqual(source.Skip(start).Take(lines.Count)));
            Assert.True(found, "this block of docs/library.md is not in LibraryGuideTests.cs or LibraryGuideBlocks.cs:\n" + block);
        }
    }

    [Fact]
    public void TheGuideRuns_AndPrintsWhatItShows()
    {
        var oldOut = Console.Out;
        var printed = new StringWriter();
        Console.SetOut(printed);
        string dir = Directory.CreateTempSubdirectory("neuralcore-library-guide").FullName;
        string oldDir = Environment.CurrentDirectory;
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        File.Copy(RepoData.Path("data/wine.csv"), Path.Combine(dir, "data", "wine.csv"));
        Environment.CurrentDirectory = dir;
        try
        {
            // ---- 1. train
            var backend = new CpuBackend();                        // SIMD kernels, all cores
            var mnist = MnistDataset.LoadBundled();                // 8,000 train / 2,000 test digits, pixels in [0, 1]
            IdxImages train = mnist.TrainImages, test = mnist.TestImages;

            var spec = new ModelSpec { Kind = "vae", InputFeatures = 784, Hidden = [400], Latent = 16 };
            var options = new TrainingOptions { Epochs = 10, BatchSize = 128, LearningRate = 1e-3f, Seed = 0 };
            var progress = new SynchronousProgress<TrainingProgress>(p =>
            {
                if (p.CompletedEpoch is { } m) Console.WriteLine($"epoch {m.Epoch}: test loss {m.TestLoss:F1} per image");
            });
            using var stop = new CancellationTokenSource();       // stop.Cancel() ends the run after the current step
            TrainingRunResult run = TrainingRun.Fit(spec, backend, options, train.Pixels, train.Count, test.Pixels, test.Count,
                runDirectory: "digits-vae", progress: progress, cancellationToken: stop.Token);
            Console.WriteLine($"{run.History.Count} epochs: final test loss {run.Final.Loss:F1} per image");

            Assert.True(File.Exists(Path.Combine("digits-vae", "model.safetensors")));
            Assert.Equal(10, Checkpoint.Load(Path.Combine("digits-vae", Checkpoint.FileName)).Epoch);

            // ---- 2. features
            var vae = (VariationalAutoencoder)ModelStore.Load("digits-vae", backend);
            float[] trainCodes = Features.Encode(vae, train.Pixels, train.Count);   // [8000, 16]: the mean of q(z | x)
            float[] testCodes = Features.Encode(vae, test.Pixels, test.Count);      // [2000, 16]
            int[] trainLabels = [.. mnist.TrainLabels.Select(b => (int)b)], testLabels = [.. mnist.TestLabels.Select(b => (int)b)];
            var classifier = NearestCentroid.Fit(trainCodes, trainLabels, features: 16);
            Console.WriteLine($"nearest centroid on 16 features: {100 * classifier.Accuracy(testCodes, testLabels):F1} % of test digits");

            Assert.Equal(2000 * 16, testCodes.Length);

            // ---- 3. anomalies
            double[] normal = AnomalyDetection.Scores(vae, train.Pixels, train.Count, ReconstructionScore.Mse);
            double threshold = AnomalyDetection.Percentile(normal, 99);            // 1 % of normal data is flagged
            double[] scores = AnomalyDetection.Scores(vae, test.Pixels, test.Count, ReconstructionScore.Mse);
            Console.WriteLine($"threshold {threshold:F4}: {scores.Count(s => s > threshold)} of {test.Count} test digits above it");

            // ---- 4. generation
            float[] samples;
            using (Autograd.NoGrad())                              // no graph: nothing will call Backward
                samples = vae.Generate(32, new SeededRandom(1)).ToArray();       // decode z ~ N(0, I): [32, 784]

            Assert.Equal(32 * 784, samples.Length);
            Assert.All(samples, p => Assert.InRange(p, 0f, 1f));

            // ---- 4b. a VQ-VAE and its prior
            var vqSpec = new ModelSpec
            {
                Kind = "vqvae", InputFeatures = 784, ImageShape = [1, 28, 28], Loss = "mse",
                Vq = new VqSettings { DataVariance = VqVae.Variance(train.Pixels) },   // 64 codes of 16 values, EMA, restarts
                Latent = 16 * 7 * 7,                                                    // a 7x7 grid of 16-d codes
            };
            var vqRun = TrainingRun.Fit(vqSpec, backend, options with { Epochs = 1 }, train.Pixels, 1000, test.Pixels, 500, "digits-vqvae");
            var vqvae = (VqVae)vqRun.Model;
            Console.WriteLine($"codebook perplexity {vqRun.Final.Perplexity:F1}, {vqRun.Final.CodesUsed} codes used");
            int[] grids = vqvae.CodesOf(test.Pixels, 500);                          // [500 * 49] code indices
            var priorRun = PriorTraining.Fit(vqvae, train.Pixels, 1000, test.Pixels, 500, options with { Epochs = 1 }, "digits-vqvae");
            int[] drawn = priorRun.Prior.Sample(16, new SeededRandom(1));          // ancestral sampling, code by code
            float[] digits;
            using (Autograd.NoGrad())
                digits = vqvae.DecodeCodes(drawn).ToArray();                         // [16, 784]

            Assert.Equal(16 * 784, digits.Length);
            Assert.Equal(500 * 49, grids.Length);
            Assert.True(File.Exists(Path.Combine("digits-vqvae", PriorTraining.WeightsFile)));

            // ---- 5. a table
            var table = CsvTable.Read("data/wine.csv", dropColumns: ["class"]);    // header row; empty cell = missing
            var score = ImputationEvaluation.Evaluate(new Imputer(backend), table.Values, table.Missing, table.ColumnCount, fraction: 0.2f, seed: 0);
            Console.WriteLine($"hid {score.HiddenCells} cells: RMSE {score.ImputerRmse:F3} (autoencoder) vs {score.MeanRmse:F3} (column means)");

            Assert.True(score.ImputerRmse < score.MeanRmse);
        }
        finally
        {
            Environment.CurrentDirectory = oldDir;
            Console.SetOut(oldOut);
        }

        string output = printed.ToString().ReplaceLineEndings("\n");
        foreach (var block in DocBlocks.Blocks(File.ReadAllText(DocPath), "text"))
            Assert.True(DocBlocks.MatchesApproximately(block.Trim(), output, 0.03),
                $"docs/library.md shows output the code does not print (numbers within 3 %):\n{block}\n--- printed:\n{output}");
    }
}
