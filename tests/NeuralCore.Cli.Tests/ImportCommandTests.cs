using System.Diagnostics;
using System.Text.Json;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>
/// `neuralcore import` on weights trained by PyTorch itself (bench/peer_state_dict.py): `eval` of the imported model
/// prints PyTorch's own test loss of the same weights.
/// </summary>
public class ImportCommandTests
{
    /// <summary>
    /// Trains the reference models for 2 epochs in PyTorch once per dtype and returns the directory and PyTorch's losses;
    /// null when python3-torch is missing outside CI (CI installs it, and there its absence fails the test).
    /// </summary>
    private static (string Dir, Dictionary<string, double> Losses)? PyTorchWeights(string dtype, string models)
    {
        string dir = CliRunner.TempDir();
        string script = Path.Combine(TrainEvalTests.FindRepoRoot(), "bench", "peer_state_dict.py");
        var start = new ProcessStartInfo("/usr/bin/python3", [script, dir, "--epochs", "2", "--dtype", dtype, "--models", models])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        string output, error;
        int exit;
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            (error, exit) = (stderr.Result, process.ExitCode);
        }
        catch (System.ComponentModel.Win32Exception) { (output, error, exit) = ("", "/usr/bin/python3 not found", 1); }
        if (exit != 0 && error.Contains("No module named 'torch'") || error.Contains("python3 not found"))
        {
            Assert.True(Environment.GetEnvironmentVariable("CI") != "1", "CI needs python3-torch (apt-get install -y python3-torch): " + error);
            return null;
        }
        Assert.True(exit == 0, $"peer_state_dict.py failed: {error}");
        var losses = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(Path.Combine(dir, "losses.json")))!;
        return (dir, losses);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]   // half precision as PyTorch users often save it
    public void ReferenceModelsTrainedInPyTorch_ImportWithoutAMap_AndEvalPrintsPyTorchsLoss(string dtype)
    {
        if (PyTorchWeights(dtype, "vae,convae") is not var (dir, losses)) return;
        foreach (var (name, kind, tolerance) in new[] { ("vae", "vae", 0.3), ("convae", "conv-ae", 0.01) })
        {
            string model = Path.Combine(dir, name + "-model");
            var imported = CliRunner.Run("import", "--state-dict", Path.Combine(dir, name + ".safetensors"), "--model", kind, "--out", model);
            Assert.True(imported.ExitCode == 0, imported.Error);
            var eval = CliRunner.Run("eval", "--model", model);
            Assert.True(eval.ExitCode == 0, eval.Error);
            // The VAE's test loss draws eps, so the two engines' figures differ by that noise; the conv AE's are the same sum.
            double ours = CliRunner.NumberAfter(eval.Out, "test loss per sample:");
            Assert.True(Math.Abs(ours - losses[name]) <= tolerance, $"{name} {dtype}: ours {ours}, PyTorch {losses[name]}");
        }
    }

    [Fact]
    public void AMapRenamesModules_AndAWrongMapListsTheNamesTheModelHas()
    {
        if (PyTorchWeights("F32", "vae") is not var (dir, _)) return;
        string stateDict = Path.Combine(dir, "vae.safetensors");
        // The built-in map, given explicitly, gives the same weights.
        string mapped = Path.Combine(dir, "mapped");
        var run = CliRunner.Run("import", "--state-dict", stateDict, "--model", "vae", "--out", mapped,
            "--map", "fc1=encoder.0,fc21=mu,fc22=logvar,fc3=decoder.0,fc4.weight=decoder.2.weight,fc4.bias=decoder.2.bias");
        Assert.True(run.ExitCode == 0, run.Error);
        var weights = SafeTensors.Read(Path.Combine(mapped, ModelStore.WeightsFile));
        var original = SafeTensors.Read(stateDict);
        Assert.Equal(original.Tensors["fc21.weight"].Data, weights.Tensors["mu.weight"].Data);
        Assert.Equal(original.Tensors["fc4.bias"].Data, weights.Tensors["decoder.2.bias"].Data);

        string wrong = Path.Combine(dir, "wrong");
        run = CliRunner.Run("import", "--state-dict", stateDict, "--model", "vae", "--latent", "20", "--out", wrong, "--map", "fc1=encoder.0");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("mu.weight [20, 400]", run.Error);
        Assert.Single(run.Error.Trim().Split('\n'));
        Assert.False(Directory.Exists(wrong));

        run = CliRunner.Run("import", "--state-dict", stateDict, "--model", "conv-ae", "--out", wrong);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("encoder.1.weight [16, 1, 3, 3]", run.Error);
        Assert.False(Directory.Exists(wrong));

        run = CliRunner.Run("import", "--state-dict", stateDict, "--model", "vae", "--out", wrong, "--map", "fc1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--map entry 'fc1' is not torch.name=our.name", run.Error);
    }
}
