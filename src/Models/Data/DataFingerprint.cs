using System.Security.Cryptography;
using System.Text;

namespace NeuralCore.Models.Data;

/// <summary>
/// The SHA-256 of a model's training data, stored with the model (<see cref="Autoencoders.ModelSpec.DataSha256"/>) and
/// the run's checkpoint so that a resumed run or a command that scores the training data again can tell when the data
/// changed, even where its size, columns and ranges stayed the same.
/// </summary>
public static class DataFingerprint
{
    /// <summary>
    /// Lower-case hex SHA-256 of a file's bytes, or for a directory of MNIST IDX files, of the names and SHA-256s of its
    /// four files (raw or gzip, as <see cref="MnistDataset.Load"/> would read them). Reads as a stream.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file, or the directory lacks one of the four files.</exception>
    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    public static string Sha256(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path)) return FileSha256(path);
        var combined = new StringBuilder();
        foreach (string file in MnistDataset.FilePaths(path))
            combined.Append(Path.GetFileName(file)).Append(' ').Append(FileSha256(file)).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(combined.ToString())));
    }

    private static string FileSha256(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found; check the path", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
