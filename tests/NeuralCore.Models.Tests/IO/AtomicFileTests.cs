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
}
