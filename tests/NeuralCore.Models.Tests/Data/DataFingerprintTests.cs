using System.Security.Cryptography;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;

namespace NeuralCore.Models.Tests.Data;

public class DataFingerprintTests
{
    [Fact]
    public void AFile_HashesToTheSha256OfItsBytes()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "a,b\n1,2\n");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("a,b\n1,2\n"u8)), DataFingerprint.Sha256(dir.File("t.csv")));
    }

    [Fact]
    public void AnIdxDirectory_HashesItsFourFiles_AndChangesWhenOneByteDoes()
    {
        using var dir = new TempDirectory();
        foreach (string name in new[] { MnistDataset.TrainImagesFile, MnistDataset.TrainLabelsFile, MnistDataset.TestImagesFile, MnistDataset.TestLabelsFile })
            File.WriteAllBytes(dir.File(name), [1, 2, 3]);
        string before = DataFingerprint.Sha256(dir.Path);
        Assert.Matches("^[0-9a-f]{64}$", before);
        File.WriteAllText(dir.File("README"), "other files do not count");
        Assert.Equal(before, DataFingerprint.Sha256(dir.Path));
        File.WriteAllBytes(dir.File(MnistDataset.TestLabelsFile), [1, 2, 4]);
        Assert.NotEqual(before, DataFingerprint.Sha256(dir.Path));
        File.Delete(dir.File(MnistDataset.TrainLabelsFile));
        Assert.Throws<FileNotFoundException>(() => DataFingerprint.Sha256(dir.Path));
    }

    [Fact]
    public void TheDataHash_TravelsWithTheModelSpec()
    {
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 2, Latent = 1, Data = "/data/t.csv", DataSha256 = new string('a', 64) };
        var back = ModelSpec.FromJson(spec.ToJson(), "model.json");
        Assert.Equal(spec.DataSha256, back.DataSha256);
        Assert.Equal("/data/t.csv", back.Data);
        Assert.Null(ModelSpec.FromJson(new ModelSpec { Kind = "ae", InputFeatures = 2, Latent = 1 }.ToJson(), "model.json").DataSha256);
    }
}
