using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using NeuralCore.Models.Data;

namespace NeuralCore.CliTests;

/// <summary>
/// No input makes a command use more than 2 GB before it is refused. Each case runs `neuralcore` in its own process
/// with the GC's heap capped at 2 GB (DOTNET_GCHeapHardLimit: past it an allocation throws instead of growing, which
/// would end in a stack trace, not a one-line error) and measures the peak resident memory with /usr/bin/time when
/// present. A virtual-memory limit (ulimit -v) is no use here: .NET reserves far more address space than it touches.
/// </summary>
public class MemoryLimitTests
{
    private const long TwoGigabytes = 2L << 30;

    private sealed record Measured(int ExitCode, string Error, long PeakBytes);

    private static Measured RunLimited(params string[] args)
    {
        string timeTool = "/usr/bin/time";
        bool measure = File.Exists(timeTool);
        string peakFile = Path.Combine(CliRunner.TempDir(), "peak.txt");
        var start = new ProcessStartInfo(measure ? timeTool : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        if (measure) foreach (string a in (string[])["-f", "%M", "-o", peakFile, "dotnet"]) start.ArgumentList.Add(a);
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "neuralcore.dll"), .. args]) start.ArgumentList.Add(a);
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x80000000";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the command did not finish in 2 minutes");
        _ = stdout.Result;
        long peak = measure ? long.Parse(File.ReadAllText(peakFile).Trim().Split('\n')[^1], CultureInfo.InvariantCulture) * 1024 : 0;
        return new Measured(process.ExitCode, error.Trim(), peak);
    }

    private static void AssertRefusedWithin2GB(Measured r, string expected)
    {
        Assert.True(r.ExitCode is 1 or 2, $"exit {r.ExitCode}: {r.Error}");
        Assert.StartsWith("error: ", r.Error);
        Assert.DoesNotContain('\n', r.Error);
        Assert.DoesNotContain("   at ", r.Error);
        Assert.Contains(expected, r.Error);
        Assert.InRange(r.PeakBytes, 0, TwoGigabytes);
    }

    private static byte[] Idx(uint magic, params int[] dimensions)
    {
        var b = new byte[4 + 4 * dimensions.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, magic);
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dimensions[i]);
        return b;
    }

    /// <summary>A directory of four valid tiny IDX files (8 images of 4 x 4), for one of which <paramref name="write"/> writes instead.</summary>
    private static string IdxDirectory(string dir, string replaced, Action<string> write)
    {
        string idx = Path.Combine(dir, "idx");
        Directory.CreateDirectory(idx);
        foreach (string name in (string[])[MnistDataset.TrainImagesFile, MnistDataset.TestImagesFile])
            File.WriteAllBytes(Path.Combine(idx, name), [.. Idx(IdxReader.ImagesMagic, 8, 4, 4), .. new byte[128]]);
        foreach (string name in (string[])[MnistDataset.TrainLabelsFile, MnistDataset.TestLabelsFile])
            File.WriteAllBytes(Path.Combine(idx, name), [.. Idx(IdxReader.LabelsMagic, 8), .. new byte[8]]);
        File.Delete(Path.Combine(idx, replaced));
        write(Path.Combine(idx, replaced + ".gz"));
        return idx;
    }

    private static void Gzip(string path, byte[] header, long zeros)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(header);
        var block = new byte[1 << 20];
        for (long left = zeros; left > 0; left -= block.Length) gzip.Write(block, 0, (int)Math.Min(block.Length, left));
    }

    [Fact]
    public void GzipBombIdx_IsRefusedWhileStreaming()
    {
        string dir = CliRunner.TempDir();
        // 3 GiB of zeros behind a header of 8 images: about 3 MB on disk
        string idx = IdxDirectory(dir, MnistDataset.TrainImagesFile, path => Gzip(path, Idx(IdxReader.ImagesMagic, 8, 4, 4), 3L << 30));
        AssertRefusedWithin2GB(RunLimited("train", "--model", "ae", "--data", idx, "--epochs", "1", "--out", Path.Combine(dir, "out")), "has data after the 144 bytes");
    }

    [Fact]
    public void GzipLabelsOfAnotherSize_CostOnlyWhatTheyHold()
    {
        string dir = CliRunner.TempDir();
        string idx = IdxDirectory(dir, MnistDataset.TestLabelsFile, path => Gzip(path, Idx(IdxReader.LabelsMagic, 60_000_000), 60_000_000));
        AssertRefusedWithin2GB(RunLimited("train", "--model", "ae", "--data", idx, "--epochs", "1", "--out", Path.Combine(dir, "out")), "holds 60000000 labels but");
    }

    [Theory]
    [InlineData(1_000_000_000, 28, 28)]
    [InlineData(100_000, 16_384, 16_384)]
    public void IdxHeaderClaimingHugeDimensions_IsRefusedFromTheHeader(int count, int rows, int cols)
    {
        string dir = CliRunner.TempDir();
        string idx = IdxDirectory(dir, MnistDataset.TrainImagesFile, path => Gzip(path, Idx(IdxReader.ImagesMagic, count, rows, cols), 1 << 20));
        AssertRefusedWithin2GB(RunLimited("train", "--model", "ae", "--data", idx, "--epochs", "1", "--out", Path.Combine(dir, "out")), "above the limit of");
    }

    [Fact]
    public void DevZeroAsCsv_IsRefusedAtTheLineLimit()
    {
        if (!File.Exists("/dev/zero")) return;
        string dir = CliRunner.TempDir();
        AssertRefusedWithin2GB(RunLimited("impute", "--data", "/dev/zero", "--out", Path.Combine(dir, "o.csv")), "/dev/zero: line 1 is longer than");
        string link = Path.Combine(dir, "zero.csv");
        File.CreateSymbolicLink(link, "/dev/zero");
        AssertRefusedWithin2GB(RunLimited("train", "--model", "ae", "--data", link, "--epochs", "1", "--out", Path.Combine(dir, "out")), "zero.csv: line 1 is longer than");
    }

    [Fact]
    public void A100MegabyteSingleLineCsv_IsRefusedAtTheLineLimit()
    {
        string dir = CliRunner.TempDir();
        string path = Path.Combine(dir, "line.csv");
        using (var writer = new StreamWriter(path))
        {
            writer.Write("a,b\n");
            var chunk = new string('9', 1 << 20);
            for (int i = 0; i < 100; i++) writer.Write(chunk);
        }
        AssertRefusedWithin2GB(RunLimited("impute", "--data", path, "--out", Path.Combine(dir, "o.csv")), "line 2 is longer than 1,048,576");
        AssertRefusedWithin2GB(RunLimited("train", "--model", "ae", "--data", path, "--epochs", "1", "--out", Path.Combine(dir, "out")), "line 2 is longer than 1,048,576");
    }

    private static string TableWithAGap(string dir)
    {
        string path = Path.Combine(dir, "t.csv");
        File.WriteAllText(path, "a,b,c\n1,2,3\n4,,6\n7,8,9\n1,5,2\n");
        return path;
    }

    [Theory]
    [InlineData("100000000", "--hidden must be between")]          // refused where the option is parsed
    [InlineData("1000000,1000000", "use smaller --hidden sizes")]   // each size allowed, the model too large
    [InlineData("64,1000000,64", "use smaller --hidden sizes")]
    public void ImputeWithHugeHidden_IsRefusedBeforeTraining(string hidden, string expected)
    {
        string dir = CliRunner.TempDir();
        AssertRefusedWithin2GB(RunLimited("impute", "--data", TableWithAGap(dir), "--hidden", hidden, "--out", Path.Combine(dir, "o.csv")), expected);
        Assert.False(File.Exists(Path.Combine(dir, "o.csv")));
    }

    [Theory]
    [InlineData("ae", "100000000")]
    [InlineData("vae", "3000000")]
    [InlineData("dae", "20000,20000")]
    public void TrainWithHugeHidden_IsRefusedBeforeTraining(string kind, string hidden)
    {
        string dir = CliRunner.TempDir();
        AssertRefusedWithin2GB(RunLimited("train", "--model", kind, "--data", TableWithAGap(dir), "--hidden", hidden, "--epochs", "1", "--out", Path.Combine(dir, "out")), "--hidden");
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public void TrainWithAHugeBatch_IsRefusedBeforeTraining()
    {
        string dir = CliRunner.TempDir();
        AssertRefusedWithin2GB(RunLimited("train", "--model", "vae", "--batch", "2000000", "--epochs", "1", "--out", Path.Combine(dir, "out")), "--batch");
    }
}
