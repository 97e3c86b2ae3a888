using System.Globalization;
using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Samples.EmbeddedScoring;

/// <summary>
/// Loads a model directory written by <c>neuralcore train</c> (or the model embedded in the binary, see
/// <see cref="EmbeddedModelName"/>) and prints, for every input row, its anomaly score -
/// the same per-row reconstruction error as <c>neuralcore detect</c> (<see cref="AnomalyDetection.Scores(Autoencoder, float[], int, ReconstructionScore, int)"/>,
/// mean squared error by default) - and optionally its embedding. Rows come from a CSV file, from the test images
/// of an MNIST IDX directory, or streamed from stdin.
/// </summary>
public static class ScoringApp
{
    public const string Help = """
        embedded-scoring - anomaly scores (and embeddings) from a model saved by `neuralcore train`

        usage: embedded-scoring --model DIR | --embedded [--csv FILE.csv [--drop COLS]] [--mnist DIR [--limit N]] [--embed] [--score mse|bce]

          --model DIR      a directory written by `neuralcore train` (model.json + model.safetensors)
          --embedded       the model carried inside this binary as a resource (loaded from a stream: no files needed):
                           a small wine-table autoencoder (13 columns of data/wine.csv, without class), or the
                           model.safetensors named at build time with -p:EmbeddedModel=PATH
          --csv FILE       a table with a header; columns must match the model's (use --drop for extra columns);
                           values in the original units (the model's stored scaling is applied); empty cells get the
                           column mean, as in `neuralcore detect`
          --mnist DIR      score the test images of an MNIST IDX directory (e.g. data/mnist-10k); --limit N: the first N
          (neither)        read rows from stdin, one per line: comma-separated numbers in the model's column order and
                           original units; each row is scored as soon as it arrives
          --embed          also print the embedding (z0, z1, ...)
          --score NAME     mse (default, as `neuralcore detect`) | bce
          --bench          instead of printing scores, time the model on the --mnist test images (batch 1 latency,
                           batch 64 and 1024 throughput, start-up to first score, peak memory) and print one JSON line;
                           --threads N sets the engine's threads (default 1); bench/embedding.sh runs ONNX Runtime beside it

        prints CSV on stdout: row,score[,z0,z1,...]
        """;

    /// <summary>
    /// Name of the embedded resource holding a model's weights file (EmbeddedScoring.csproj embeds the file named by
    /// the <c>EmbeddedModel</c> property under this name).
    /// </summary>
    public const string EmbeddedModelName = "model.safetensors";

    /// <summary>Runs the app; returns 0 on success, 1 for bad input, 2 for a bad command line.</summary>
    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        try
        {
            var options = Options.Parse(args);
            if (options.HelpRequested)
            {
                output.WriteLine(Help);
                return 0;
            }
            if (options.Bench)
            {
                LatencyBenchmark.Run("neuralcore", options.Threads, options.MnistDirectory!,
                    () => new NeuralCoreReconstructor(LoadModel(options, new CpuBackend(options.Threads))), output);
                return 0;
            }
            Score(options, input, output);
            return 0;
        }
        catch (UsageException e) { return Fail(error, e.Message, 2); }
        catch (Exception e) when (e is DataFormatException or SafeTensorsFormatException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            return Fail(error, e.Message, 1);
        }
    }

    private static int Fail(TextWriter error, string message, int code)
    {
        error.WriteLine("error: " + message.ReplaceLineEndings(" "));
        return code;
    }

    private static void Score(Options options, TextReader input, TextWriter output)
    {
        var model = LoadModel(options, new CpuBackend());
        var spec = model.Spec;
        // rows that arrive one at a time take the span path: no tensors, no allocation, the batched path's bits
        var rowPath = RowInference.Supports(model) ? RowInference.Create(model) : null;
        output.WriteLine("row,score" + (options.Embed ? string.Concat(Enumerable.Range(0, spec.Latent).Select(i => $",z{i}")) : ""));
        if (options.CsvPath is { } csv) WriteScores(model, null, options, ReadTable(csv, options.Drop, spec), 0, output);
        else if (options.MnistDirectory is { } mnist) WriteScores(model, null, options, ReadMnist(mnist, options.Limit, spec), 0, output);
        else
        {
            int row = 0, lineNumber = 0;
            while (input.ReadLine() is string line)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                WriteScores(model, rowPath, options, ParseLine(line, lineNumber, spec), row++, output);
                output.Flush();
            }
        }
    }

    /// <summary>The model of <c>--model DIR</c>, or the one embedded in this assembly, rebuilt from its weights stream alone.</summary>
    private static Autoencoder LoadModel(Options options, IBackend backend)
    {
        if (!options.Embedded) return ModelStore.Load(options.ModelDirectory!, backend);
        using var stream = typeof(ScoringApp).Assembly.GetManifestResourceStream(EmbeddedModelName)
            ?? throw new ArgumentException($"this binary carries no embedded model ({EmbeddedModelName}); use --model DIR");
        return ModelStore.Load(stream, backend, $"embedded {EmbeddedModelName}");
    }

    /// <summary>Scores rows [count, features] (already scaled) and prints one CSV line per row, numbered from <paramref name="firstRow"/>.</summary>
    private static void WriteScores(Autoencoder model, RowInference? rowPath, Options options, float[] rows, int firstRow, TextWriter output)
    {
        int count = rows.Length / model.Spec.InputFeatures;
        double[] scores;
        float[]? codes = null;
        if (count == 1 && rowPath != null)
        {
            var reconstruction = new float[rows.Length];
            rowPath.Reconstruct(rows, reconstruction);
            scores = AnomalyDetection.Scores(rows, reconstruction, 1, rows.Length, options.Score);
            if (options.Embed) rowPath.Encode(rows, codes = new float[model.Spec.Latent]);
        }
        else
        {
            scores = AnomalyDetection.Scores(model, rows, count, options.Score);
            codes = options.Embed ? Features.Encode(model, rows, count) : null;
        }
        var line = new System.Text.StringBuilder();
        for (int r = 0; r < count; r++)
        {
            line.Clear().Append(firstRow + r).Append(',').Append(scores[r].ToString("R", CultureInfo.InvariantCulture));
            if (codes != null)
                for (int k = 0; k < model.Spec.Latent; k++) line.Append(',').Append(codes[r * model.Spec.Latent + k].ToString("R", CultureInfo.InvariantCulture));
            output.WriteLine(line);
        }
    }

    /// <summary>A CSV table scaled like `neuralcore detect` does: the model's min-max scaler, then column means for empty cells.</summary>
    private static float[] ReadTable(string path, string[] drop, ModelSpec spec)
    {
        if (spec.Columns is null || spec.Scaler is null)
            throw new ArgumentException($"{path}: the model was trained on images, not on a table; use --mnist DIR or stdin rows of {spec.InputFeatures} values");
        var table = CsvTable.Read(path, drop);
        if (!table.ColumnNames.SequenceEqual(spec.Columns))
            throw new ArgumentException($"{path}: columns [{string.Join(", ", table.ColumnNames)}] do not match the model's [{string.Join(", ", spec.Columns)}]; use --drop to remove extra columns");
        int features = table.ColumnCount;
        float[] values = spec.Scaler.Transformed(table.Values);
        float[] means = Imputer.ColumnMeans(values, features);
        for (int c = 0; c < features; c++) if (!HasObserved(values, c, features)) means[c] = 0.5f;   // detect's rule for an empty column
        for (int i = 0; i < values.Length; i++) if (float.IsNaN(values[i])) values[i] = means[i % features];
        return values;
    }

    private static bool HasObserved(float[] values, int column, int features)
    {
        for (int i = column; i < values.Length; i += features) if (!float.IsNaN(values[i])) return true;
        return false;
    }

    private static float[] ReadMnist(string directory, int? limit, ModelSpec spec)
    {
        var images = MnistDataset.Load(directory).TestImages;
        if (images.Rows * images.Cols != spec.InputFeatures)
            throw new ArgumentException($"{directory}: images have {images.Rows * images.Cols} pixels but the model expects {spec.InputFeatures} features");
        int count = Math.Min(limit ?? images.Count, images.Count);
        return images.Pixels[..(count * spec.InputFeatures)];
    }

    /// <summary>One stdin row: InputFeatures comma-separated numbers in original units, scaled by the model's scaler.</summary>
    private static float[] ParseLine(string line, int lineNumber, ModelSpec spec)
    {
        string[] fields = line.Split(',');
        if (fields.Length != spec.InputFeatures)
            throw new ArgumentException($"stdin line {lineNumber}: expected {spec.InputFeatures} comma-separated numbers (the model's columns), got {fields.Length}");
        var row = new float[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            if (!float.TryParse(fields[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out row[i]) || !float.IsFinite(row[i]))
                throw new ArgumentException($"stdin line {lineNumber}, value {i + 1}: '{fields[i].Trim()}' is not a finite number; stdin rows may not have missing cells");
        }
        spec.Scaler?.Transform(row);
        return row;
    }

    /// <summary>The model's reconstruction as the benchmark calls it: rows in, rows out, no gradient graph.</summary>
    private sealed class NeuralCoreReconstructor : IReconstructor
    {
        private readonly Autoencoder _model;
        private readonly IBackend _backend;
        private readonly int _features;
        private readonly RowInference? _row;

        public NeuralCoreReconstructor(Autoencoder model)
        {
            _model = model;
            _model.Eval();
            _backend = model.Parameters()[0].Backend;
            _features = model.Spec.InputFeatures;
            _row = RowInference.Supports(model) ? RowInference.Create(model) : null;
        }

        public void Reconstruct(float[] input, int batch, float[] output)
        {
            if (batch == 1 && _row != null)
            {
                // one row: the span path (no tensors, no allocation, the same bits as the batched forward)
                _row.Reconstruct(input.AsSpan(0, _features), output.AsSpan(0, _features));
                return;
            }
            using var scope = TensorScope.Begin();
            using var noGrad = NeuralCore.Autograd.NoGrad();
            var rows = NeuralCore.Tensor.FromArray(_backend, input.AsSpan(0, batch * _features), batch, _features);
            _model.Forward(rows).CopyTo(output.AsSpan(0, batch * _features));
        }

        public void Dispose() => (_backend as IDisposable)?.Dispose();
    }

    /// <summary>A bad command line: exit code 2.</summary>
    private sealed class UsageException(string message) : Exception(message);

    private sealed record Options(string? ModelDirectory, bool Embedded, string? CsvPath, string[] Drop, string? MnistDirectory, int? Limit, bool Embed,
                                  ReconstructionScore Score, bool HelpRequested, bool Bench = false, int Threads = 1)
    {
        public static Options Parse(string[] args)
        {
            string? model = null, csv = null, mnist = null;
            string[] drop = [];
            int? limit = null;
            bool embed = false, embedded = false, bench = false;
            int threads = 1;
            var score = ReconstructionScore.Mse;
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"option {args[i]} needs a value (see --help)");
                switch (args[i])
                {
                    case "-h" or "--help": return new Options(null, false, null, [], null, null, false, score, true);
                    case "--model": model = Value(); break;
                    case "--embedded": embedded = true; break;
                    case "--csv": csv = Value(); break;
                    case "--drop": drop = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                    case "--mnist": mnist = Value(); break;
                    case "--limit":
                        string n = Value();
                        limit = int.TryParse(n, NumberStyles.Integer, CultureInfo.InvariantCulture, out int l) && l > 0 ? l
                            : throw new UsageException($"--limit expects a positive integer, got '{n}'");
                        break;
                    case "--embed": embed = true; break;
                    case "--bench": bench = true; break;
                    case "--threads":
                        string t = Value();
                        threads = int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int th) && th is > 0 and <= 1024 ? th
                            : throw new UsageException($"--threads expects an integer from 1 to 1024, got '{t}'");
                        break;
                    case "--score":
                        score = Value() switch
                        {
                            "mse" => ReconstructionScore.Mse,
                            "bce" => ReconstructionScore.Bce,
                            var s => throw new UsageException($"--score must be mse or bce, got '{s}'"),
                        };
                        break;
                    default: throw new UsageException($"unknown argument '{args[i]}' (see --help)");
                }
            }
            if (model is null && !embedded)
                throw new UsageException("--model DIR is required: the directory written by `neuralcore train` (or --embedded for the model inside this binary; see --help)");
            if (model != null && embedded) throw new UsageException("give either --model DIR or --embedded, not both");
            if (csv != null && mnist != null) throw new UsageException("give either --csv FILE or --mnist DIR, not both");
            if (drop.Length > 0 && csv == null) throw new UsageException("--drop applies to --csv tables only");
            if (limit != null && mnist == null) throw new UsageException("--limit applies to --mnist only");
            if (bench && mnist == null) throw new UsageException("--bench needs --mnist DIR (its test images are the rows it times)");
            if (threads != 1 && !bench) throw new UsageException("--threads applies to --bench only");
            return new Options(model, embedded, csv, drop, mnist, limit, embed, score, false, bench, threads);
        }
    }
}
