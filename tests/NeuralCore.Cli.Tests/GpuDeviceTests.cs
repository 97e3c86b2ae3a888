using NeuralCore.Kernels.Gpu;

namespace NeuralCore.CliTests;

/// <summary>--device cuda / opencl / ilgpu-cpu: the ILGPU backend behind the command line.</summary>
public class GpuDeviceTests
{
    private static bool Has(string device) =>
        IlgpuBackend.FindAccelerators().Any(f => f.StartsWith(device + " ", StringComparison.Ordinal));

    [Theory]
    [InlineData("bench", "cuda")]
    [InlineData("train", "opencl")]
    public void AbsentGpu_IsAOneLineErrorListingTheDevicesFound(string command, string device)
    {
        if (Has(device)) return;   // only meaningful on a machine without that device
        var r = CliRunner.Run(command, "--device", device);
        Assert.Equal(1, r.ExitCode);
        string line = Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Contains($"--device {device}: no {device} device found", line);
        Assert.Contains("devices here: cpu, reference, ilgpu-cpu", line);
        Assert.DoesNotContain("   at ", r.Error);
    }

    [Fact]
    public void UnknownDevice_NamesTheChoices()
    {
        var r = CliRunner.Run("train", "--device", "tpu");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("choose cpu, reference, cuda, opencl or ilgpu-cpu", r.Error);
    }

    [Fact]
    public void Train_OnTheEmulatedGpuKernels_LossFallsAndModelLoadsOnCpu()
    {
        // the GPU kernels on ILGPU's CPU accelerator: a short run on the wine table (178 rows, 3 epochs of 3 steps)
        string wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        string dir = CliRunner.TempDir();
        var train = CliRunner.Run("train", "--model", "ae", "--data", wine, "--drop", "class", "--device", "ilgpu-cpu",
            "--epochs", "3", "--batch", "64", "--hidden", "16", "--latent", "2", "--lr", "0.01", "--out", dir);
        Assert.True(train.ExitCode == 0, train.Error + train.Out);
        Assert.Contains("device ilgpu-cpu", train.Out);
        double first = CliRunner.NumberAfter(train.Out, "epoch 1/3  train loss");
        double last = CliRunner.NumberAfter(train.Out, "epoch 3/3  train loss");
        Assert.True(last < first, $"training loss did not fall: {first} -> {last}\n{train.Out}");
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")), train.Out);
        // a model trained on the GPU backend is an ordinary model: evaluate it on the CPU
        var eval = CliRunner.Run("eval", "--model", dir, "--data", wine, "--drop", "class");
        Assert.True(eval.ExitCode == 0, eval.Error + eval.Out);
    }
}
