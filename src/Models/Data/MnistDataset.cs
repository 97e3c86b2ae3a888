namespace NeuralCore.Models.Data;

/// <summary>
/// MNIST-style data set: training and test images with their labels, read from the four standard IDX files
/// (raw or gzip-compressed) in one directory. Works for the bundled 10k subset (<c>data/mnist-10k</c>:
/// 8,000 train + 2,000 test) and for the full 70,000-image MNIST.
/// </summary>
public sealed class MnistDataset
{
    /// <summary>Standard file name of the training images (without <c>.gz</c>).</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";
    /// <summary>Standard file name of the training labels (without <c>.gz</c>).</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";
    /// <summary>Standard file name of the test images (without <c>.gz</c>).</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";
    /// <summary>Standard file name of the test labels (without <c>.gz</c>).</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>Path of the bundled subset relative to the repository root or the executable's directory.</summary>
    public static readonly string BundledRelativePath = Path.Combine("data", "mnist-10k");

    /// <summary>Number of classes (digits 0..9).</summary>
    public const int ClassCount = 10;

    private MnistDataset(IdxImages trainImages, byte[] trainLabels, IdxImages testImages, byte[] testLabels, string directory)
    {
        TrainImages = trainImages; TrainLabels = trainLabels; TestImages = testImages; TestLabels = testLabels; Directory = directory;
    }

    /// <summary>Training images, pixels [TrainImages.Count, 784] in [0, 1].</summary>
    public IdxImages TrainImages { get; }
    /// <summary>Training labels 0..9, [TrainImages.Count].</summary>
    public byte[] TrainLabels { get; }
    /// <summary>Test images, pixels [TestImages.Count, 784] in [0, 1].</summary>
    public IdxImages TestImages { get; }
    /// <summary>Test labels 0..9, [TestImages.Count].</summary>
    public byte[] TestLabels { get; }
    /// <summary>The directory the files were read from.</summary>
    public string Directory { get; }

    /// <summary>
    /// Loads the four standard files from <paramref name="directory"/>. For each, the uncompressed name is
    /// tried first, then the name with <c>.gz</c>; compression is detected from the content either way.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">One of the four files is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed, image and label counts differ, image sizes
    /// differ between train and test, or a label is outside 0..9.</exception>
    public static MnistDataset Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: MNIST directory not found; pass a directory holding {TrainImagesFile}(.gz) and the other three IDX files");
        // Resolve all four names first so a missing file is reported before any slow decoding.
        string[] paths = FilePaths(directory);
        var (trainImages, trainLabels) = LoadSplit(paths[0], paths[1]);
        var (testImages, testLabels) = LoadSplit(paths[2], paths[3]);
        if (trainImages.Rows != testImages.Rows || trainImages.Cols != testImages.Cols)
            throw new DataFormatException($"{directory}: training images are {trainImages.Rows}x{trainImages.Cols} but test images are {testImages.Rows}x{testImages.Cols}; the files come from different data sets");
        return new MnistDataset(trainImages, trainLabels, testImages, testLabels, directory);
    }

    /// <summary>Loads the bundled 10k subset found by <see cref="FindBundledDirectory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The bundled copy could not be found.</exception>
    public static MnistDataset LoadBundled() =>
        Load(FindBundledDirectory() ?? throw new DirectoryNotFoundException(
            $"bundled MNIST ({BundledRelativePath}) not found next to the executable ({AppContext.BaseDirectory}) or above the current directory ({Environment.CurrentDirectory}); pass the data directory explicitly"));

    /// <summary>
    /// Finds the bundled subset: first <c>AppContext.BaseDirectory/data/mnist-10k</c> (the CLI copies the data
    /// next to its binary), then <c>data/mnist-10k</c> in the current directory and each of its parents, then
    /// in each parent of <c>AppContext.BaseDirectory</c> (covers running from <c>bin/Debug/net10.0</c>).
    /// A directory counts only if it holds the training-images file.
    /// </summary>
    /// <returns>The full path of the directory, or null if not found.</returns>
    public static string? FindBundledDirectory()
    {
        string nextToExecutable = Path.Combine(AppContext.BaseDirectory, BundledRelativePath);
        if (ResolveFile(nextToExecutable, TrainImagesFile) is not null) return Path.GetFullPath(nextToExecutable);
        return SearchUpwards(Environment.CurrentDirectory) ?? SearchUpwards(AppContext.BaseDirectory);
    }

    private static string? SearchUpwards(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, BundledRelativePath);
            if (ResolveFile(candidate, TrainImagesFile) is not null) return candidate;
        }
        return null;
    }

    /// <summary>Counts how often each class 0..9 occurs in <paramref name="labels"/>.</summary>
    public static int[] ClassCounts(ReadOnlySpan<byte> labels)
    {
        var counts = new int[ClassCount];
        foreach (byte label in labels) counts[label]++;
        return counts;
    }

    private static (IdxImages Images, byte[] Labels) LoadSplit(string imagesPath, string labelsPath)
    {
        IdxImages images = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count != labels.Length)
            throw new DataFormatException($"{labelsPath}: holds {labels.Length} labels but {imagesPath} holds {images.Count} images; use the label file that belongs to those images");
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= ClassCount)
                throw new DataFormatException($"{labelsPath}: label {labels[i]} at index {i} is outside 0..{ClassCount - 1}; this is not an MNIST digit label file");
        }
        return (images, labels);
    }

    /// <summary>The four files of <paramref name="directory"/> (train images, train labels, test images, test labels), each
    /// raw or with <c>.gz</c>, as <see cref="Load"/> reads them.</summary>
    internal static string[] FilePaths(string directory) =>
        [.. new[] { TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile }.Select(name => RequireFile(directory, name))];

    private static string RequireFile(string directory, string name) =>
        ResolveFile(directory, name) ?? throw new FileNotFoundException(
            $"{directory}: neither {name} nor {name}.gz exists; put the four MNIST IDX files in this directory", Path.Combine(directory, name));

    private static string? ResolveFile(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }
}
