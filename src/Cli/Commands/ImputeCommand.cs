using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore impute</c>: fills the missing cells of a CSV table with a denoising autoencoder.</summary>
internal static class ImputeCommand
{
    private static readonly Option<string> Data = CliOption.RequiredString("--data",
        "numeric table with a header; an empty cell or NaN is missing", "FILE.csv");
    private static readonly Option<string?> Out = CliOption.OptionalString("--out",
        "the completed table: same header, column order and rows; only the missing cells change; - for standard output", "FILE.csv");
    private static readonly Option<string[]> Drop = CliOption.StringList("--drop",
        "comma-separated columns to leave out of the model (e.g. a class or id column); they are copied to the output unchanged and may hold text", "COLS");
    private static readonly Option<float?> Evaluate = CliOption.Of<float?>("--evaluate",
        "hide a fraction F in (0, 1) of the observed cells at random (seeded), impute them and print the RMSE on them (columns " +
        "scaled to [0, 1]) next to column-mean and kNN (k = 5) imputation's", "F", (text, command) =>
        {
            float f = float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v
                : throw new CliException($"{command}: --evaluate expects a number, got '{text}'", 2);
            return f is > 0f and < 1f ? f
                : throw new CliException($"{command}: --evaluate must be a fraction between 0 and 1 (exclusive), e.g. 0.2; got {text}", 2);
        });
    private static readonly Option<int> Epochs = CliOption.Int("--epochs", "training passes over the rows", 300, 1, SizeLimits.MaxEpochs);
    private static readonly Option<int[]> Hidden = CliOption.IntList("--hidden", "MLP hidden layers", [64, 64]);
    private static readonly Option<int> Batch = CliOption.Int("--batch", "rows per mini-batch", 32, 1, SizeLimits.MaxBatch);
    private static readonly Option<float> LearningRate = CliOption.Float("--lr", "Adam learning rate", 2e-3f, 1e-12f, 100f);
    private static readonly Option<float> MaskFraction = CliOption.Float("--mask-fraction",
        "masking noise: fraction of observed cells hidden per batch", 0.2f, 0f, 0.95f);
    private static readonly Option<bool> AppendMask = CliOption.Flag("--append-mask",
        "also feed the missingness mask to the model (measured: no gain on wine; see README)");
    private static readonly Option<int> Iterations = CliOption.Int("--iterations", "refill passes", 3, 1, 100);

    public static CliCommand Create() => new CliCommand("impute", "fill missing cells of a CSV table with a denoising autoencoder", Run)
    {
        Usage =
        [
            "--data FILE.csv --out FILLED.csv [--drop COLS] [--epochs N] [--seed N] [options]",
            "--data FILE.csv --evaluate FRACTION [--drop COLS] [--seed N]",
        ],
        Notes = """
            the model is an MLP trained on the table itself: columns min-max scaled by their observed values, missing
            cells started at the column mean, masking noise on observed cells, loss only on observed cells. Observed
            cells are written back exactly as they were in the input. --seed also chooses --evaluate's cells.
            """,
    }.With([Data, Out, Drop, Evaluate, Epochs, Hidden, Batch, LearningRate, MaskFraction, AppendMask, Iterations, CommonOptions.Seed,
        .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        string path = args.Get(Data);
        string? output = args.Get(Out);
        string[] drop = args.Get(Drop);
        float? evaluate = args.Get(Evaluate);
        var options = new ImputerOptions
        {
            Epochs = args.Get(Epochs),
            Hidden = args.Get(Hidden),
            BatchSize = args.Get(Batch),
            LearningRate = args.Get(LearningRate),
            MaskFraction = args.Get(MaskFraction),
            AppendMask = args.Get(AppendMask),
            FillIterations = args.Get(Iterations),
            Seed = (ulong)args.Get(CommonOptions.Seed),
        };
        var backend = Devices.Open(args);
        if (output is null && evaluate is null)
            throw new CliException("impute: give --out FILE.csv for the completed table, or --evaluate 0.2 to measure the imputation (see `neuralcore impute --help`)", 2);
        if (!File.Exists(path)) throw new CliException($"--data {path}: file not found; pass a CSV table with a header line");
        Outputs.Check("impute", [new("--data", path)], new Outputs.Output("--out", output));

        var table = CsvTable.Read(path, drop);
        for (int c = 0; c < table.ColumnCount; c++)
            if (Enumerable.Range(0, table.RowCount).All(r => table.Missing[r * table.ColumnCount + c]))
                throw new CliException($"{path}: column '{table.ColumnNames[c]}' is empty in every row; nothing can be learned about it, add it to --drop");
        var imputer = new Imputer(backend, options);
        string shape = $"{table.RowCount} rows x {table.ColumnCount} columns" + (drop.Length > 0 ? $", dropped {string.Join(", ", drop)}" : "");

        if (evaluate is { } fraction)
        {
            var clock = Stopwatch.StartNew();
            var score = Named(path, () => ImputationEvaluation.Evaluate(imputer, table.Values, table.Missing, table.ColumnCount, fraction, options.Seed));
            Console.WriteLine($"evaluate: hid {score.HiddenCells} of the observed cells ({fraction:P0}) of {path} ({shape}), seed {options.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"RMSE on hidden cells (columns scaled to [0, 1]): autoencoder {score.ImputerRmse:F4}, mean imputation {score.MeanRmse:F4} ({score.Improvement:F2}x lower)");
            Console.WriteLine($"  kNN imputation (k = 5 nearest rows on the observed columns) {score.KnnRmse:F4}: the autoencoder's error is {score.ImputerRmse / Math.Max(score.KnnRmse, 1e-30):F2}x kNN's");
        }
        if (output is null) return 0;

        var text = CsvTextTable.Read(path);
        if (text.Rows.Count != table.RowCount)
            throw new CliException($"{path}: read {text.Rows.Count} text rows but {table.RowCount} numeric rows; the file changed while reading, run again");
        if (table.MissingCount == 0)
        {
            text.Write(output);
            Console.WriteLine($"note: {path} has no missing cells ({shape}); wrote an unchanged copy to {output}");
            return 0;
        }
        var timer = Stopwatch.StartNew();
        var result = Named(path, () => imputer.Impute(table.Values, table.Missing, table.ColumnCount));
        int[] headerIndex = table.ColumnNames.Select(name => IndexOf(text.Header, name)).ToArray();
        for (int r = 0; r < table.RowCount; r++)
        for (int c = 0; c < table.ColumnCount; c++)
        {
            int i = r * table.ColumnCount + c;
            if (table.Missing[i]) text.Rows[r][headerIndex[c]] = result.Values[i].ToString("R", CultureInfo.InvariantCulture);
        }
        text.Write(output);
        Console.WriteLine($"imputed {result.FilledCount} missing cells of {path} ({shape}) in {timer.Elapsed.TotalSeconds:F1} s; final training loss {result.TrainLoss:F5} (masked MSE, scaled units)");
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    /// <summary>Runs the imputer, naming the table in its errors (the library knows the table only as numbers).</summary>
    private static T Named<T>(string path, Func<T> impute)
    {
        try { return impute(); }
        catch (ArgumentException e) { throw new CliException($"{path}: {Cli.InCommandLineTerms(e)}", e is ArgumentOutOfRangeException ? 2 : 1); }
        catch (TrainingDivergedException e) { throw new CliException($"{path}: {Cli.InCommandLineTerms(e.Message)}"); }
    }

    private static int IndexOf(IReadOnlyList<string> header, string name)
    {
        for (int i = 0; i < header.Count; i++) if (header[i] == name) return i;
        throw new CliException($"column '{name}' not found in the header; the file changed while reading, run again");
    }
}
