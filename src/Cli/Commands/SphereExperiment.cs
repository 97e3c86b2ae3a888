using System.CommandLine;
using System.Diagnostics;
using NeuralCore.Cli.Imaging;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Layers;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary>
/// <c>neuralcore experiment sphere</c>: a 3 -> 2 -> 3 autoencoder on points of the unit sphere, against PCA (the best
/// linear 2-D projection), with plots of the learned 2-D chart coloured by latitude and by longitude.
/// </summary>
internal static class SphereExperiment
{
    private static readonly Option<int> Latent = CliOption.Int("--latent",
        "bottleneck size: 1 is too small (high error), 2 is the sphere's true dimension, 3 just copies the input", 2, 1, 3);
    private static readonly Option<float> Hole = CliOption.Float("--hole",
        "leave out the polar cap of this angular radius around the north pole; 0 samples the whole sphere", 30f, 0f, 150f, "DEG");
    private static readonly Option<int> Points = CliOption.Int("--points", "points sampled uniformly on the sphere (80% train, 20% test)", 4000, 20, 1_000_000);
    private static readonly Option<int[]> Hidden = CliOption.IntList("--hidden", "hidden layers of the encoder, mirrored by the decoder", [64, 64]);
    private static readonly Option<int> Epochs = CliOption.Int("--epochs", "training passes", 60, 1, SizeLimits.MaxEpochs);
    private static readonly Option<float> LearningRate = CliOption.Float("--lr", "Adam learning rate at the start, decayed linearly towards 0", 3e-3f, 1e-12f, 10f);
    private static readonly Option<string> Out = CliOption.String("--out", "output directory", "DIR", Path.Combine("runs", "sphere"));
    private static readonly Option<string> Data = CliOption.String("--data",
        "synthetic (points sampled on the sphere), world-cities (the bundled 10,001 real places) or a CSV of places with the columns name, lat, lon",
        "SOURCE", "synthetic");

    /// <summary>The places labelled on the world-cities map (name, country code).</summary>
    private static readonly (string Name, string Country)[] LabelledCities = [("Tokyo", "JP"), ("Paris", "FR"), ("Hanoi", "VN")];

    public static CliCommand Create() => new CliCommand("sphere", "3 -> 2 -> 3 autoencoder on the unit sphere vs PCA: a bent 2-D chart", Run)
    {
        Title = "a non-linear autoencoder bends a 2-D chart around a sphere; PCA cannot",
        Usage = ["[--latent 1|2|3] [--hole DEG] [--points N] [--epochs N] [--seed N] [--out DIR]", "--data world-cities|PLACES.csv [--latent 1|2|3] [--epochs N] [--seed N] [--out DIR]"],
        Notes = """
            the network is 3-64-64-LATENT-64-64-3 with tanh activations, trained on squared error. A sphere is a curved
            2-D surface: the best linear 2-D projection (PCA) flattens it and loses one direction, so its error stays
            near the variance of that direction, while the autoencoder can bend its chart. A whole sphere cannot be
            mapped continuously and one-to-one onto a plane (Borsuk-Ulam: some two opposite points always land
            together), which is why a polar cap is left out by default: the sphere minus a cap is a deformed disk.
            prints the mean squared reconstruction error per point (summed over x, y, z) of the autoencoder and of
            PCA on the test points; writes DIR/embedding.png (the test points' codes coloured by latitude band and by
            longitude sector, 10 bins each) and DIR/sphere.png (the input points seen from the side, coloured by
            latitude, and from a pole, coloured by longitude).
            --data world-cities: real places (GeoNames, CC BY 4.0; data/README.md) instead of sampled points; latitude and
            longitude become x = cos(lat) cos(lon), y = cos(lat) sin(lon), z = sin(lat). A seeded 80% of the places train,
            the other 20% are the test points; there is no cap to cut, the oceans and Antarctica leave the gaps. DIR/map.png
            shows every place's 2-D code beside PCA's 2-D projection, coloured by longitude sector, with Tokyo, Paris and
            Hanoi labelled (for another table: its first three places).
            """,
    }.With([Data, Latent, Hole, Points, Hidden, Epochs, LearningRate, CommonOptions.Seed, Out, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        int latent = args.Get(Latent);
        double hole = args.Get(Hole);
        int points = args.Get(Points);
        int[] hidden = args.Get(Hidden);
        var options = new TrainingOptions
        {
            Epochs = args.Get(Epochs),
            BatchSize = 64,
            LearningRate = args.Get(LearningRate),
            Seed = (ulong)args.Get(CommonOptions.Seed),
            Rng = RandomAlgorithm.Xoshiro,   // its tanh model is not one of ModelFactory's; one generator draws the points and weights
        };
        string outDir = args.Get(Out);
        OutputDirectory.EnsureWritable(outDir);
        var backend = Devices.Open(args);

        string source = args.Get(Data);
        if (source != "synthetic") return RunOnPlaces(args, source, latent, hidden, options, outDir, backend);

        var random = new SeededRandom(options.Seed);
        float[] all = SphereData.Sample(points, hole, random);
        int testCount = points / 5, trainCount = points - testCount;
        float[] train = all[..(trainCount * 3)], test = all[(trainCount * 3)..];

        var spec = new ModelSpec { Kind = "ae", InputFeatures = 3, Latent = latent, Hidden = hidden, Loss = "mse", Data = $"sphere (hole {hole} degrees)" };
        var model = BuildTanhAutoencoder(spec, backend, random);
        var trainer = new Trainer(model, options);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"sphere: {trainCount} train / {testCount} test points on the unit sphere" +
                          (hole > 0 ? $" minus a {hole:0.#} degree cap around the north pole" : " (whole sphere: no continuous 2-D chart exists)") +
                          $"; autoencoder 3-{string.Join("-", hidden)}-{latent}-{string.Join("-", hidden.Reverse())}-3, tanh");
        var last = TrainWithDecay(trainer, options, train, trainCount, test, testCount);
        double pcaError = Pca.Fit(train, trainCount, 3, latent).ReconstructionErrors(test, testCount).Average() * 3;
        Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"test reconstruction error per point (mean squared, summed over x, y, z): autoencoder {last.TestLoss:F5}, PCA ({latent}-D linear projection) {pcaError:F5}");
        Console.WriteLine(latent switch
        {
            1 => "latent 1: too small - one number cannot describe a point of a 2-D surface, so both errors stay high",
            3 => "latent 3: no bottleneck - PCA copies the input exactly and the autoencoder nearly so; nothing is learned about the surface",
            _ => $"latent 2: the autoencoder's error is {pcaError / Math.Max(last.TestLoss, 1e-12):F1}x lower than the best linear projection's: it bends its chart around the sphere",
        });

        float[] codes = Features.Encode(model, test, testCount);
        int[] latitudeBins = SphereData.LatitudeBins(test, hole);
        int[] longitudeBins = SphereData.LongitudeBins(test);
        float[] chart = ChartPoints(codes, latent, SphereData.Latitudes(test));
        string what = latent switch { 1 => "code (x) vs true latitude (y)", 3 => "codes 1 and 2 of 3", _ => "2-D code" };
        RgbCanvas.SideBySide(
            Plot.RenderScatter(chart, latitudeBins, $"{what}: colour = latitude band (0 = south)"),
            Plot.RenderScatter(chart, longitudeBins, $"{what}: colour = longitude sector")).Save(Path.Combine(outDir, "embedding.png"));
        RgbCanvas.SideBySide(
            Plot.RenderScatter(Project(test, 0, 2), latitudeBins, "input seen from the side (x, z): latitude band"),
            Plot.RenderScatter(Project(test, 0, 1), longitudeBins, "input seen from a pole (x, y): longitude sector")).Save(Path.Combine(outDir, "sphere.png"));
        Console.WriteLine($"wrote {Path.Combine(outDir, "embedding.png")} and {Path.Combine(outDir, "sphere.png")}");
        return 0;
    }

    /// <summary>The experiment on real places: train on a seeded 80%, test on the rest, draw the map of all places beside PCA's.</summary>
    private static int RunOnPlaces(Args args, string source, int latent, int[] hidden, TrainingOptions options, string outDir, Kernels.IBackend backend)
    {
        if (args.Has(Hole) || args.Has(Points))
            throw new CliException($"experiment sphere: --hole and --points shape the synthetic points; --data {source} brings its own places", 2);
        string path = source == "world-cities" ? BundledData.Find("world-cities.csv") : source;
        Places places;
        try { places = Places.Read(path); }
        catch (FileNotFoundException) { throw new CliException($"--data {source}: file not found; pass synthetic, world-cities or a CSV of places (name, lat, lon)"); }
        catch (DataFormatException e) { throw new CliException(e.Message); }
        int count = places.Count, testCount = count / 5, trainCount = count - testCount;
        if (testCount < 1 || trainCount < 2)
            throw new CliException($"--data {source}: {count} places are too few; the experiment needs at least 3 (80% train, 20% test)");

        float[] all = places.Points();
        var order = Enumerable.Range(0, count).ToArray();
        SeededRandom.ForStream(options.Seed, RandomStream.DataSplit).Shuffle(order);
        float[] train = Gather(all, order[testCount..]), test = Gather(all, order[..testCount]);

        var random = new SeededRandom(options.Seed);
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 3, Latent = latent, Hidden = hidden, Loss = "mse", Data = path };
        var model = BuildTanhAutoencoder(spec, backend, random);
        var trainer = new Trainer(model, options);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"sphere: {count} places of {path} on the unit sphere, {trainCount} train / {testCount} test" +
                          $"; autoencoder 3-{string.Join("-", hidden)}-{latent}-{string.Join("-", hidden.Reverse())}-3, tanh");
        var last = TrainWithDecay(trainer, options, train, trainCount, test, testCount);
        var pca = Pca.Fit(train, trainCount, 3, latent);
        double pcaTest = pca.ReconstructionErrors(test, testCount).Average() * 3;
        double aeAll = AnomalyDetection.Scores(model, all, count, ReconstructionScore.Mse).Average() * 3;
        double pcaAll = pca.ReconstructionErrors(all, count).Average() * 3;
        Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"test reconstruction error per place (mean squared, summed over x, y, z): autoencoder {last.TestLoss:G4}, PCA ({latent}-D linear projection) {pcaTest:G4}");
        Console.WriteLine($"all {count} places: autoencoder {aeAll:G4}, PCA {pcaAll:G4}; the autoencoder's error is {pcaTest / Math.Max(last.TestLoss, 1e-12):F1}x lower on the test places");

        var marks = new List<(string Text, int Index)>();
        foreach (var (name, country) in LabelledCities)
            if (places.IndexOf(name, country) is int index and >= 0) marks.Add((name, index));
        if (marks.Count == 0)
            for (int i = 0; i < Math.Min(3, count); i++) marks.Add((places.Names[i], i));
        var latitudes = places.Latitudes.ToArray();
        int[] longitudeBins = SphereData.LongitudeBins(all);
        string what = latent switch { 1 => "code vs latitude", 3 => "codes 1 and 2 of 3", _ => "2-D code" };
        RgbCanvas.SideBySide(
            Plot.RenderScatter(ChartPoints(Features.Encode(model, all, count), latent, latitudes), longitudeBins,
                $"autoencoder {what}: colour = longitude from 180W", 700, 620, marks),
            Plot.RenderScatter(ChartPoints(pca.Transform(all, count), latent, latitudes), longitudeBins,
                $"PCA {what}: colour = longitude from 180W", 700, 620, marks)).Save(Path.Combine(outDir, "map.png"));
        Console.WriteLine($"wrote {Path.Combine(outDir, "map.png")} (labelled: {string.Join(", ", marks.Select(m => m.Text))})");
        return 0;
    }

    private static float[] Gather(float[] points, int[] rows)
    {
        var result = new float[rows.Length * 3];
        for (int i = 0; i < rows.Length; i++) Array.Copy(points, rows[i] * 3, result, i * 3, 3);
        return result;
    }

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> (at least 1) epochs with a linearly decaying step size, which settles
    /// the last epochs instead of ending wherever Adam's noise left them; prints progress five times. Returns the last epoch.
    /// </summary>
    private static EpochMetrics TrainWithDecay(Trainer trainer, TrainingOptions options, float[] train, int trainCount, float[] test, int testCount)
    {
        EpochMetrics? last = null;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            trainer.Optimizer.LearningRate = options.LearningRate * (1f - (float)epoch / options.Epochs);
            last = trainer.RunEpoch(train, trainCount, test, testCount);
            if ((epoch + 1) % Math.Max(1, options.Epochs / 5) == 0)
                Console.WriteLine($"  epoch {epoch + 1,4}: train error {last.TrainLoss:F5}, test error {last.TestLoss:F5}");
        }
        return last ?? throw new ArgumentOutOfRangeException(nameof(options), "the sphere experiment trains at least one epoch");
    }

    /// <summary>3 -> hidden... -> latent -> reversed hidden... -> 3 with tanh between layers and linear ends.</summary>
    private static Autoencoder BuildTanhAutoencoder(ModelSpec spec, Kernels.IBackend backend, SeededRandom random)
    {
        var encoder = new Sequential();
        int width = spec.InputFeatures;
        foreach (int h in spec.Hidden) { encoder.Add(new Linear(backend, random, width, h)).Add(new Tanh()); width = h; }
        encoder.Add(new Linear(backend, random, width, spec.Latent));
        var decoder = new Sequential();
        width = spec.Latent;
        foreach (int h in spec.Hidden.Reverse()) { decoder.Add(new Linear(backend, random, width, h)).Add(new Tanh()); width = h; }
        decoder.Add(new Linear(backend, random, width, spec.InputFeatures));
        return new Autoencoder(spec, encoder, decoder);
    }

    /// <summary>Points to plot [count, 2]: the code itself (latent 2), the first two codes (latent 3), or (code, latitude) for latent 1.</summary>
    private static float[] ChartPoints(float[] codes, int latent, double[] latitudes)
    {
        int count = latitudes.Length;
        var result = new float[count * 2];
        for (int i = 0; i < count; i++)
        {
            result[2 * i] = codes[i * latent];
            result[2 * i + 1] = latent == 1 ? (float)latitudes[i] : codes[i * latent + 1];
        }
        return result;
    }

    /// <summary>Coordinates <paramref name="a"/> and <paramref name="b"/> of points [count, 3]: [count, 2].</summary>
    private static float[] Project(float[] points, int a, int b)
    {
        var result = new float[points.Length / 3 * 2];
        for (int i = 0; i < result.Length / 2; i++) { result[2 * i] = points[3 * i + a]; result[2 * i + 1] = points[3 * i + b]; }
        return result;
    }
}
