using NeuralCore.Models.IO;

namespace NeuralCore.Models.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void WritesAndOverwritesWithoutLeavingTempFiles()
    {
        using var temp = new TempDirectory();
        string path = temp.File("sub/dir/out.txt");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Equal(new[] { "out.txt" }, Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void FailureKeepsTheOldFileAndDeletesTheTempFile()
    {
        using var temp = new TempDirectory();
        string path = temp.File("model.bin");
        AtomicFile.WriteAllText(path, "good checkpoint");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.Equal("disk on fire", e.Message);
        Assert.Equal("good checkpoint", File.ReadAllText(path));
        Assert.Equal(new[] { "model.bin" }, Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailureOnANewFileCreatesNothing()
    {
        using var temp = new TempDirectory();
        Assert.Throws<IOException>(() => AtomicFile.Write(temp.File("new.bin"), _ => throw new IOException("nope")));
        Assert.Empty(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void ASymbolicLink_IsWrittenThrough_AndStaysALink()
    {
        using var temp = new TempDirectory();
        string target = temp.File("sub/real.bin"), link = temp.File("link.bin"), chain = temp.File("chain.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        File.CreateSymbolicLink(chain, link);
        AtomicFile.WriteAllText(chain, "new");
        Assert.Equal("new", File.ReadAllText(target));
        Assert.Equal(link, new FileInfo(chain).LinkTarget);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(["real.bin"], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
        Assert.False(AtomicFile.WritesInPlace(chain));
    }

    [Fact]
    public void SpecialFilesAndStandardOutput_AreWrittenInPlace_RegularFilesAreNot()
    {
        using var temp = new TempDirectory();
        Assert.True(AtomicFile.WritesInPlace("-"));
        Assert.True(AtomicFile.WritesInPlace("/dev/stdout"));
        Assert.False(AtomicFile.WritesInPlace(temp.File("new.csv")));
        File.WriteAllText(temp.File("old.csv"), "x");
        Assert.False(AtomicFile.WritesInPlace(temp.File("old.csv")));
        if (OperatingSystem.IsWindows()) return;
        Assert.True(AtomicFile.WritesInPlace("/dev/null"));
        File.CreateSymbolicLink(temp.File("null-link"), "/dev/null");
        Assert.True(AtomicFile.WritesInPlace(temp.File("null-link")));
        AtomicFile.WriteAllText(temp.File("null-link"), "discarded");   // into the device: the link and the device stay
        Assert.Equal("/dev/null", new FileInfo(temp.File("null-link")).LinkTarget);
        Assert.Equal(0, new FileInfo("/dev/null").Length);
    }
}
