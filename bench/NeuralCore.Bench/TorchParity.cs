using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Optimizers;
using NeuralCore.Models.Training;

namespace NeuralCore.Bench;

/// <summary>
/// <c>torch-parity --dir DIR</c>: trains NeuralCore's conv-ae from PyTorch's initial weights in PyTorch's data order
/// (both written by bench/torch_parity.py) and prints the test loss per sample after each epoch, so the two
/// trajectories can be compared with the seeds taken out of the picture.
/// </summary>
public static class TorchParity
{
    public static int Run(string[] args)
    {
        int i = Array.IndexOf(args, "--dir");
        if (i < 0 || i + 1 >= args.Length)
        {
            Console.Error.WriteLine("usage: NeuralCore.Bench torch-parity --dir DIR   (DIR written by bench/torch_parity.py)");
            return 2;
        }
        string dir = args[i + 1];
        var mnist = MnistDataset.LoadBundled();
        var order = File.ReadAllBytes(Path.Combine(dir, "order.i32"));
        int count = mnist.TrainImages.Count, features = 784, epochs = order.Length / 4 / count;
        using var cpu = Program.NewCpu(args);
        var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = features, ImageShape = [1, 28, 28], Latent = 32 };
        var model = ModelFactory.Create(spec, cpu, new SeededRandom(0));
        ModelStore.LoadWeights(model, SafeTensors.Read(Path.Combine(dir, "init.safetensors")));
        var adam = new Adam(model.Parameters(), 1e-3f);
        var batch = new float[128 * features];
        var random = new SeededRandom(0);   // unused by an AE's loss; required by the API
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int start = 0; start < count; start += 128)
            {
                int rows = Math.Min(128, count - start);
                for (int r = 0; r < rows; r++)
                {
                    int index = BitConverter.ToInt32(order, ((epoch * count) + start + r) * 4);
                    mnist.TrainImages.Image(index).CopyTo(batch.AsSpan(r * features, features));
                }
                using var _ = TensorScope.Begin();
                var x = Tensor.FromArray(cpu, batch.AsSpan(0, rows * features), new Shape(rows, features));
                adam.ZeroGrad();
                var loss = model.ComputeLoss(x, random).Total;
                loss.Backward();
                adam.Step();
            }
            var eval = Trainer.Evaluate(model, mnist.TestImages.Pixels, mnist.TestImages.Count);
            Console.WriteLine($"neuralcore epoch {epoch + 1}: test loss per sample {eval.Loss:F3}");
        }
        return 0;
    }
}
