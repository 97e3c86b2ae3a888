// Uses NeuralCore only through its NuGet packages: trains a small autoencoder on MNIST digits for one epoch, saves
// it, reloads it from a Stream, and scores rows by reconstruction error. Exit code 0 when the reloaded model scores
// every row exactly as the trained one did.
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

string dataDir = args.Length > 0 ? args[0] : MnistDataset.FindBundledDirectory()
    ?? throw new DirectoryNotFoundException("MNIST IDX directory not found; pass it as the first argument (e.g. data/mnist-10k)");
var mnist = MnistDataset.Load(dataDir);
IdxImages train = mnist.TrainImages, test = mnist.TestImages;

var backend = new CpuBackend();
var spec = new ModelSpec { Kind = "ae", InputFeatures = 784, Hidden = [64], Latent = 16 };
string dir = Path.Combine(Path.GetTempPath(), "neuralcore-consumer-" + Environment.ProcessId);
var progress = new SynchronousProgress<TrainingProgress>(p =>
{
    if (p.CompletedEpoch is { } m) Console.WriteLine($"epoch {m.Epoch}: train loss {m.TrainLoss:F1}, test loss {m.TestLoss:F1} per image");
});
TrainingRunResult run = TrainingRun.Fit(spec, backend, new TrainingOptions { Epochs = 1, Seed = 0 },
    train.Pixels, train.Count, test.Pixels, test.Count, runDirectory: dir, progress: progress);
Console.WriteLine($"trained {spec.Kind} 784-64-16-64-784; wrote {string.Join(", ", Directory.GetFiles(dir).Select(Path.GetFileName).Order())}");

Autoencoder reloaded;
using (var weights = File.OpenRead(run.ModelPath!))
    reloaded = ModelStore.Load(weights, backend);
Directory.Delete(dir, recursive: true);

double[] before = AnomalyDetection.Scores(run.Model, test.Pixels, test.Count, ReconstructionScore.Mse);
double[] after = AnomalyDetection.Scores(reloaded, test.Pixels, test.Count, ReconstructionScore.Mse);
double threshold = AnomalyDetection.Percentile(before, 99);
Console.WriteLine($"scored {after.Length} test rows; 99th-percentile threshold {threshold:F4}, {after.Count(s => s > threshold)} flagged");
if (!before.SequenceEqual(after))
{
    Console.Error.WriteLine("error: the model reloaded from a stream scores differently from the trained one");
    return 1;
}
Console.WriteLine("reloaded from a stream: identical scores");
return 0;
