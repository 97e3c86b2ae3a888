using System.Diagnostics;
using NeuralCore.Models.IO;

namespace NeuralCore.CliTests;

/// <summary>A small table model (wine, 1 epoch) and a small VAE on it, trained once for the output-safety tests.</summary>
public sealed class SmallTableModels
{
    public SmallTableModels()
    {
        Wine = Path.Combine(TrainEvalTests.FindRepoRoot(), "data", "wine.csv");
        Ae = Train("ae");
        Vae = Train("vae");
    }

    private string Train(string kind)
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--model", kind, "--data", Wine, "--drop", "class", "--epochs", "1", "--quiet", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Error);
        return dir;
    }

    public string Wine { get; }
    public string Ae { get; }
    public string Vae { get; }
}

/// <summary>
/// Outputs never replace what they should not: special files and standard output are written as they are, links are
/// written through, an output that is an input is refused, and messages never carry raw control characters.
/// </summary>
public class SafetyOutputTests(SmallTableModels models) : IClassFixture<SmallTableModels>
{
    // ---- writing through links, into special files and to standard output ----

    [Fact]
    public void ASymlinkedOutput_StaysALink_AndItsTargetGetsTheContent()
    {
        string dir = CliRunner.TempDir(), elsewhere = CliRunner.TempDir();
        string target = Path.Combine(elsewhere, "real.csv"), link = Path.Combine(dir, "link.csv");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        var r = CliRunner.Run("encode", "--model", models.Ae, "--out", link);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.StartsWith("z0,z1,z2", File.ReadAllText(target));
        Assert.Equal(["real.csv"], Directory.GetFiles(elsewhere).Select(Path.GetFileName));   // the temporary file was next to the target
        Assert.Equal(["link.csv"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void AChainOfLinks_AndADanglingLink_AreWrittenThrough()
    {
        string dir = CliRunner.TempDir();
        string target = Path.Combine(dir, "scores.csv"), first = Path.Combine(dir, "a.csv"), second = Path.Combine(dir, "b.csv");
        File.CreateSymbolicLink(second, target);   // dangling: the target does not exist yet
        File.CreateSymbolicLink(first, second);
        var r = CliRunner.Run("detect", "--model", models.Ae, "--out", first);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.StartsWith("row,score,flagged", File.ReadAllText(target));
        Assert.Equal(second, new FileInfo(first).LinkTarget);
        Assert.Equal(target, new FileInfo(second).LinkTarget);
    }

    [Fact]
    public void ALoopOfLinks_IsAOneLineError()
    {
        string dir = CliRunner.TempDir();
        string a = Path.Combine(dir, "a.csv"), b = Path.Combine(dir, "b.csv");
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);
        var r = CliRunner.Run("encode", "--model", models.Ae, "--out", a);
        AssertOneLineError(r);
        Assert.Equal(b, new FileInfo(a).LinkTarget);
    }

    [Fact]
    public async Task AFifo_IsWrittenInto_AndStaysAFifo()
    {
        if (OperatingSystem.IsWindows()) return;
        string dir = CliRunner.TempDir();
        string fifo = Path.Combine(dir, "pipe.csv");
        Assert.Equal(0, RunProcess("mkfifo", fifo).ExitCode);
        Assert.True(AtomicFile.WritesInPlace(fifo));
        var reader = Task.Run(() => File.ReadAllText(fifo));
        var r = CliRunner.Run("encode", "--model", models.Ae, "--out", fifo);
        Assert.True(r.ExitCode == 0, r.Error);
        string text = await reader.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(179, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);   // header + 178 wine rows
        Assert.Equal("fifo", FileType(fifo));
        Assert.Equal(["pipe.csv"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void DevNull_IsWrittenInto_AndStaysADevice()
    {
        if (OperatingSystem.IsWindows()) return;
        // checked first: were /dev/null not seen as a device, the run below would replace it for the whole machine
        Assert.True(AtomicFile.WritesInPlace("/dev/null"));
        Assert.False(AtomicFile.WritesInPlace(Path.Combine(CliRunner.TempDir(), "x.csv")));
        var r = CliRunner.Run("detect", "--model", models.Ae, "--out", "/dev/null");
        Assert.True(r.ExitCode == 0, r.Error);
        var sample = CliRunner.Run("sample", "--model", models.Vae, "--count", "3", "--out", "/dev/null");   // no .csv needed for a device
        Assert.True(sample.ExitCode == 0, sample.Error);
        Assert.Equal("character special file", FileType("/dev/null"));
    }

    [Fact]
    public void Dash_WritesTheDataToStandardOutput_AndTheMessagesToStandardError()
    {
        var r = RunCli("encode", "--model", models.Ae, "--out", "-");
        Assert.True(r.ExitCode == 0, r.Error);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("z0,z1,z2", lines[0]);
        Assert.Equal(179, lines.Length);
        Assert.Contains("wrote standard output", r.Error);
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "-")));

        var devStdout = RunCli("detect", "--model", models.Ae, "--out", "/dev/stdout");
        Assert.True(devStdout.ExitCode == 0, devStdout.Error);
        Assert.StartsWith("row,score,flagged", devStdout.Out);
        Assert.DoesNotContain("threshold", devStdout.Out);   // the report went to standard error
    }

    [Fact]
    public void AClosedStandardOutput_IsAOneLineError_NotAccessDenied()
    {
        if (OperatingSystem.IsWindows()) return;
        var closed = RunShell($"{Cli} encode --model '{models.Ae}' --out - >&-");
        Assert.Equal(1, closed.ExitCode);
        Assert.Equal("error: encode: --out -: cannot write to standard output (closed)", closed.Error.Trim());

        // the reader goes away early: a broken pipe
        var broken = RunShell($"{Cli} sample --model '{models.Vae}' --count 200000 --out - | head -c 10 > /dev/null; exit ${{PIPESTATUS[0]}}");
        Assert.Equal(1, broken.ExitCode);
        Assert.Equal("error: cannot write to standard output (closed)", broken.Error.Trim());

        // a command that only prints messages still does its work
        string dir = CliRunner.TempDir();
        var quietRun = RunShell($"{Cli} detect --model '{models.Ae}' --out '{dir}/s.csv' >&-");
        Assert.True(quietRun.ExitCode == 0, quietRun.Error);
        Assert.True(File.Exists(Path.Combine(dir, "s.csv")));
    }

    [Fact]
    public void Dash_IsRefusedWhereADirectoryIsWritten()
    {
        var r = CliRunner.Run("train", "--model", "ae", "--data", models.Wine, "--drop", "class", "--epochs", "1", "--out", "-");
        AssertOneLineError(r, 2);
        Assert.Contains("--out -", r.Error);
        Assert.False(Directory.Exists(Path.Combine(Environment.CurrentDirectory, "-")));
    }

    // ---- outputs that are inputs ----

    [Fact]
    public void AnOutputThatIsAnInput_IsRefused_AndTheInputIsKept()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n1,2\n,4\n5,6\n7,\n");
        string link = Path.Combine(dir, "link.csv");
        File.CreateSymbolicLink(link, csv);
        string spec = Path.Combine(models.Ae, "model.json");
        string specBefore = File.ReadAllText(spec);
        string[][] cases =
        [
            ["impute", "--data", csv, "--out", csv, "--epochs", "1"],
            ["impute", "--data", csv, "--out", link, "--epochs", "1"],                      // the same file by another name
            ["impute", "--data", link, "--out", Path.Combine(dir, ".", "t.csv"), "--epochs", "1"],
            ["encode", "--model", models.Ae, "--out", spec],
            ["detect", "--model", models.Ae, "--out", Path.Combine(models.Ae, "model.safetensors")],
            ["encode", "--model", models.Ae, "--out", models.Ae],                            // the model directory itself
            ["encode", "--model", models.Ae, "--out", models.Wine],                          // the table the model was trained on (the default --data)
            ["sample", "--model", models.Vae, "--out", Path.Combine(models.Vae, "checkpoint.safetensors")],
        ];
        foreach (var args in cases)
        {
            var r = CliRunner.Run(args);
            AssertOneLineError(r, 2);
            Assert.Contains("would replace an input", r.Error);
        }
        Assert.Equal("a,b\n1,2\n,4\n5,6\n7,\n", File.ReadAllText(csv));
        Assert.Equal(specBefore, File.ReadAllText(spec));
    }

    [Fact]
    public void TheDefaultOutputsInTheModelDirectory_AreStillWritten()
    {
        var encode = CliRunner.Run("encode", "--model", models.Ae);
        Assert.True(encode.ExitCode == 0, encode.Error);
        Assert.True(File.Exists(Path.Combine(models.Ae, "features.csv")));
        var again = CliRunner.Run("encode", "--model", models.Ae);   // features.csv is an output, not an input
        Assert.True(again.ExitCode == 0, again.Error);
    }

    [Fact]
    public void TwoOutputsOnOneFile_AreRefused()
    {
        string png = Path.Combine(CliRunner.TempDir(), "x.png");
        var r = CliRunner.Run("encode", "--model", models.Ae, "--out", png, "--plot", png);
        AssertOneLineError(r, 2);
        Assert.Contains("--out and --plot name the same file", r.Error);
        var both = CliRunner.Run("encode", "--model", models.Ae, "--out", "-", "--plot", "-");
        AssertOneLineError(both, 2);
        Assert.False(File.Exists(png));
    }

    // ---- messages ----

    [Theory]
    [InlineData("train", "--out")]
    [InlineData("train", "--data")]
    [InlineData("encode", "--model")]
    [InlineData("impute", "--data")]
    [InlineData("detect", "--out")]
    public void AnEmptyValue_NamesTheOption(string command, string option)
    {
        string[] args = command switch
        {
            "train" => ["train", "--epochs", "1", "--out", CliRunner.TempDir()],
            "impute" => ["impute", "--data", models.Wine, "--out", Path.Combine(CliRunner.TempDir(), "f.csv")],
            _ => [command, "--model", models.Ae],
        };
        int at = Array.IndexOf(args, option);
        args = at >= 0 ? [.. args[..at], option, "", .. args[(at + 2)..]] : [.. args, option, ""];
        var r = CliRunner.Run(args);
        AssertOneLineError(r, 2);
        Assert.Equal($"error: {command}: option {option} needs a value, got an empty string", r.Error.Trim());
    }

    [Fact]
    public void ControlCharacters_InCellsAndPaths_AreShownEscaped()
    {
        string dir = CliRunner.TempDir();
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,\u001b[31mred\u0007\n");
        var cell = CliRunner.Run("train", "--model", "ae", "--data", csv, "--epochs", "1", "--out", Path.Combine(dir, "out"));
        AssertOneLineError(cell);
        Assert.Contains("\\u001b[31mred\\u0007", cell.Error);

        var path = CliRunner.Run("eval", "--model", Path.Combine(dir, "m\u001b]0;title\u0007\u202e"));
        AssertOneLineError(path);
        Assert.Contains("m\\u001b]0;title\\u0007\\u202e", path.Error);

        var option = CliRunner.Run("train", "--model", "ae\u001b[2J");
        AssertOneLineError(option, 2);
        Assert.Contains("ae\\u001b[2J", option.Error);
    }

    // ---- a run's directory: not replaced without --overwrite, locked while the run lasts ----

    private string[] TrainInto(string dir, params string[] extra) =>
        ["train", "--model", "ae", "--data", models.Wine, "--drop", "class", "--epochs", "1", "--quiet", "--out", dir, .. extra];

    [Fact]
    public void ADirectoryHoldingARun_IsRefused_AndKeptAsItWas()
    {
        string dir = CliRunner.TempDir();
        Assert.Equal(0, CliRunner.Run(TrainInto(dir)).ExitCode);
        var before = Hashes(dir);
        var again = CliRunner.Run(TrainInto(dir));
        AssertOneLineError(again, 2);
        Assert.Contains("holds another run", again.Error);
        Assert.Contains("--overwrite", again.Error);
        Assert.Equal(before, Hashes(dir));

        // only a checkpoint (an interrupted run) counts too
        string interrupted = CliRunner.TempDir();
        File.Copy(Path.Combine(dir, "checkpoint.safetensors"), Path.Combine(interrupted, "checkpoint.safetensors"));
        AssertOneLineError(CliRunner.Run(TrainInto(interrupted)), 2);
    }

    [Fact]
    public void Overwrite_ReplacesTheOldRun_AndRemovesItsPictures_ButNotOtherFiles()
    {
        string dir = CliRunner.TempDir();
        Assert.Equal(0, CliRunner.Run(TrainInto(dir)).ExitCode);
        string oldModel = File.ReadAllText(Path.Combine(dir, "model.json"));
        // files of the old run that the new one does not write: a VAE's samples, a gradient plot, features of encode
        foreach (string stale in (string[])["samples.png", "grad-norms.png", "features.csv", "scores.csv"]) File.WriteAllText(Path.Combine(dir, stale), "old");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        var r = CliRunner.Run(TrainInto(dir, "--overwrite", "--latent", "5"));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.NotEqual(oldModel, File.ReadAllText(Path.Combine(dir, "model.json")));
        Assert.Equal(["checkpoint.safetensors", "loss.png", "metrics.json", "model.json", "model.safetensors", "notes.txt"],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void ANonEmptyDirectoryWithoutARun_IsUsed()
    {
        string dir = CliRunner.TempDir();
        File.WriteAllText(Path.Combine(dir, "README.txt"), "runs go here");
        var r = CliRunner.Run(TrainInto(dir));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("runs go here", File.ReadAllText(Path.Combine(dir, "README.txt")));
    }

    [Fact]
    public void ALockedDirectory_IsRefused_ForTrainAndResume_AndTheLockGoesWithTheRun()
    {
        string dir = CliRunner.TempDir();
        string lockPath = Path.Combine(dir, NeuralCore.Cli.RunDirectory.LockFile);
        using (new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var r = CliRunner.Run(TrainInto(dir));
            AssertOneLineError(r);
            Assert.Equal($"error: {dir} is in use by another run (it holds .neuralcore.lock); wait for that run to end or choose another --out", r.Error.Trim());
            Assert.False(File.Exists(Path.Combine(dir, "model.json")));
        }
        var free = CliRunner.Run(TrainInto(dir));   // a lock file left by a killed run holds nothing
        Assert.True(free.ExitCode == 0, free.Error);
        Assert.False(File.Exists(lockPath));
        using (new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            Assert.Contains("is in use by another run", CliRunner.Run("train", "--resume", dir, "--epochs", "2", "--quiet").Error);
        var resumed = CliRunner.Run("train", "--resume", dir, "--epochs", "2", "--quiet");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
    }

    [Fact]
    public void TwoRunsOnOneDirectory_TheSecondIsRefused()
    {
        string dir = CliRunner.TempDir();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. TrainInto(dir)[..^5], "--epochs", "1000000", "--quiet", "--out", dir])
            start.ArgumentList.Add(a);
        using var first = Process.Start(start)!;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(dir, "checkpoint.safetensors")) && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(50);
            Assert.False(first.HasExited, first.HasExited ? first.StandardError.ReadToEnd() : "");
            var second = CliRunner.Run(TrainInto(dir, "--overwrite"));
            AssertOneLineError(second);
            Assert.Contains("is in use by another run", second.Error);
            var resume = CliRunner.Run("train", "--resume", dir, "--quiet");
            Assert.Contains("is in use by another run", resume.Error);
        }
        finally { first.Kill(entireProcessTree: true); }
    }

    private static Dictionary<string, string> Hashes(string dir) =>
        Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    // ---- sizes: parsed in range, multiplied in 64 bits ----

    [Theory]
    [InlineData("--batch", "3000000", "--batch must be between 1 and 1048576, got 3000000")]
    [InlineData("--batch", "2147483648", "--batch must be between 1 and 1048576, got 2147483648")]
    [InlineData("--epochs", "2147483648", "--epochs must be between 0 and 1000000, got 2147483648")]
    [InlineData("--epochs", "-9223372036854775808", "--epochs must be between 0 and 1000000, got -9223372036854775808")]
    [InlineData("--latent", "2000000000", "--latent must be between 1 and 1048576, got 2000000000")]
    [InlineData("--hidden", "3000000000", "each size of --hidden must be between 1 and 1048576, got 3000000000")]
    [InlineData("--hidden", "64,4294967297", "each size of --hidden must be between 1 and 1048576, got 4294967297")]
    public void ASizePastItsLimit_IsRefusedWithTheAllowedRange(string option, string value, string message)
    {
        string[] epochs = option == "--epochs" ? [] : ["--epochs", "1"];
        var r = CliRunner.Run(["train", "--model", "ae", "--data", models.Wine, "--drop", "class", .. epochs, option, value,
            "--out", Path.Combine(CliRunner.TempDir(), "out")]);
        AssertOneLineError(r, 2);
        Assert.Equal($"error: train: {message}", r.Error.Trim());
    }

    [Theory]
    [InlineData("encode", "--batch", "4000000000")]
    [InlineData("impute", "--batch", "3000000")]
    [InlineData("impute", "--hidden", "100000000000")]
    [InlineData("impute", "--epochs", "99999999999")]
    [InlineData("sample", "--count", "40000000")]
    [InlineData("sample", "--columns", "2147483648")]
    [InlineData("experiment latent-size", "--sizes", "2,3000000000")]
    public void EveryCommandsSizes_AreRangeChecked(string command, string option, string value)
    {
        string[] args = command switch
        {
            "impute" => ["impute", "--data", models.Wine, "--out", Path.Combine(CliRunner.TempDir(), "f.csv")],
            "experiment latent-size" => ["experiment", "latent-size", "--out", CliRunner.TempDir()],
            "sample" => ["sample", "--model", models.Vae, "--out", Path.Combine(CliRunner.TempDir(), "s.csv")],
            _ => [command, "--model", models.Ae, "--out", Path.Combine(CliRunner.TempDir(), "f.csv")],
        };
        var r = CliRunner.Run([.. args, option, value]);
        AssertOneLineError(r, 2);
        Assert.Contains($"{option} must be between", r.Error);
        Assert.Contains($"got {value.Split(',')[^1]}", r.Error);
    }

    [Fact]
    public void ABatchLargerThanTheData_TrainsAsOneBatch()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--model", "ae", "--data", models.Wine, "--drop", "class", "--epochs", "1", "--batch", "100000",
            "--quiet", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
    }

    [Fact]
    public void PicturesAndRowsPastTheirLimits_AreRefusedBeforeAnyWork()
    {
        string vae = ImageVae();
        string png = Path.Combine(CliRunner.TempDir(), "s.png");
        (string[] Args, string Message)[] cases =
        [
            (["sample", "--model", vae, "--count", "40000", "--scale", "16", "--out", png],
                "sample: --count 40000 at --scale 16: the picture would be 89,801 x 89,801 pixels, above the limit of 67,108,864 (8192 x 8192)"),
            (["sample", "--model", vae, "--count", "1000", "--columns", "1000", "--scale", "16", "--out", png],
                "sample: --count 1000 at --scale 16 in --columns 1000: the picture would be 449,001 x 450 pixels"),
            (["sample", "--model", vae, "--count", "1000000", "--out", png],
                "sample: --count 1000000 rows of 784 values: 1,000,000 x 784 = 784,000,000 values, above the limit of 268,435,456 per tensor"),
            (["interpolate", "--model", vae, "--steps", "1000", "--scale", "16", "--out", png],
                "interpolate: --steps 1000 at --scale 16: the picture would be 449,899 x 450 pixels"),
        ];
        foreach (var (args, message) in cases)
        {
            var r = CliRunner.Run(args);
            AssertOneLineError(r, 2);
            Assert.Contains(message, r.Error);
        }
        Assert.False(File.Exists(png));
        var small = CliRunner.Run("sample", "--model", vae, "--count", "4", "--scale", "16", "--out", png);   // the same options at a size that fits
        Assert.True(small.ExitCode == 0, small.Error);
    }

    /// <summary>An untrained MLP VAE on 28 x 28 images (8 hidden units, latent 2), saved as `train` saves one.</summary>
    private static string ImageVae()
    {
        string dir = CliRunner.TempDir();
        var spec = new NeuralCore.Models.Autoencoders.ModelSpec
        {
            Kind = "vae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 2, Hidden = [8], Loss = "bce", Data = "mnist",
        };
        var model = NeuralCore.Models.Autoencoders.ModelFactory.Create(spec, new NeuralCore.Kernels.Cpu.CpuBackend(), new SeededRandom(0));
        NeuralCore.Models.Training.ModelStore.Save(model, dir);
        return dir;
    }

    [Fact]
    public void ControlCharacters_InMessagesOnStandardOutput_AreShownEscaped_WhileLinesAndTabsStay()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "run\u001b[31m\u009b");
        var r = CliRunner.Run(TrainInto(dir).Where(a => a != "--quiet").ToArray());
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.True(File.Exists(Path.Combine(dir, "model.json")));   // the directory has its real name
        Assert.Contains("run\\u001b[31m\\u009b", r.Out);
        Assert.DoesNotContain('\u001b', r.Out);
        Assert.DoesNotContain('\u009b', r.Out);
        Assert.Contains('\n', r.Out);

        Assert.Equal("a\\u001b[0mb\\u0007c\\u202e\\u0000", NeuralCore.Cli.Text.Safe("a\u001b[0mb\u0007c\u202e\u0000"));
        Assert.Equal("one line\\u000atwo\\u0009", NeuralCore.Cli.Text.Safe("one line\ntwo\t"));
        Assert.Equal("one line\ntwo\t\\u001b", NeuralCore.Cli.Text.SafeKeepingLayout("one line\ntwo\t\u001b"));
        Assert.Equal("plain text, é ü 数字", NeuralCore.Cli.Text.Safe("plain text, é ü 数字"));
    }

    [Fact]
    public void AnUnexpectedFailure_IsOneLine_WithItsTypeAndExitCode70()
    {
        var line = NeuralCore.Cli.Cli.InternalError(new InvalidOperationException("broken\n   at Somewhere()\u001b[2J"));
        Assert.Equal("internal error: InvalidOperationException: broken    at Somewhere()\\u001b[2J (please report)", line);
        Assert.Equal(70, NeuralCore.Cli.Cli.InternalErrorExitCode);
    }

    // ---- helpers ----

    private static void AssertOneLineError(CliRunner.Result r, int? exitCode = null)
    {
        string error = r.Error.Trim();
        Assert.True(r.ExitCode != 0, $"exit code 0: {r.Out}");
        if (exitCode != null) Assert.Equal(exitCode, r.ExitCode);
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain('\u001b', error);
        Assert.DoesNotContain("   at ", error);
    }

    /// <summary>The command line that runs this build of the tool in a shell.</summary>
    private static string Cli => $"dotnet '{Path.Combine(AppContext.BaseDirectory, "neuralcore.dll")}'";

    /// <summary>Runs the tool as its own process (standard output is a pipe, unlike the in-process runner's writer).</summary>
    private static CliRunner.Result RunCli(params string[] args) =>
        RunProcess("dotnet", [Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. args]);

    private static CliRunner.Result RunShell(string script) => RunProcess("bash", "-c", script);

    private static CliRunner.Result RunProcess(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return new CliRunner.Result(process.ExitCode, output.Result, error);
    }

    /// <summary>What `stat` calls the file: "regular file", "fifo", "character special file", "symbolic link".</summary>
    private static string FileType(string path) => RunProcess("stat", "-c", "%F", path).Out.Trim();
}
