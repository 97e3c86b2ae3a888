using System.Diagnostics;
using System.Globalization;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Data;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore impute</c>: fills the missing cells of a CSV table with a denoising autoencoder.</summary>
internal static class ImputeCommand
{
    public const string Help = """
        neuralcore impute - fill missing cells of a CSV table with a denoising autoencoder

        usage: neuralcore impute --data FILE.csv --out FILLED.csv [--drop COLS] [--epochs N] [--seed N] [options]
               neuralcore impute --data FILE.csv --evaluate FRACTION [--drop COLS] [--seed N]

          --data FILE.csv     numeric table with a header; an empty cell or NaN is missing
          --out FILE.csv      the completed table: same header, column order and rows; only the missing cells change
          --drop COLS         comma-separated columns to leave out of the model (e.g. a class or id column);
                              they are copied to the output unchanged and may hold text
          --evaluate F        hide a fraction F in (0, 1) of the observed cells at random (seeded), impute them and
                              print the RMSE on them (columns scaled to [0, 1]) next to column-mean imputation's
          --epochs N          training passes over the rows (default 300)
          --hidden SIZES      MLP hidden layers (default 64,64)
          --batch N           rows per mini-batch (default 32)
          --lr X              Adam learning rate (default 0.002)
          --mask-fraction X   masking noise: fraction of observed cells hidden per batch (default 0.2)
          --append-mask       also feed the missingness mask to the model (measured: no gain on wine; see README)
          --iterations N      refill passes (default 3)
          --seed N            seed of initialisation, masking noise and --evaluate's choice of cells (default 0)
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)

        the model is an MLP trained on the table itself: columns min-max scaled by their observed values, missing
        cells started at the column mean, masking noise on observed cells, loss only on observed cells. Observed
        cells are written back exactly as they were in the input.
        """;

    public static int Run(CommandLine cl)
    {
        string path = cl.Required("data");
        string? output = cl.String("out");
        string[] drop = cl.StringList("drop");
        float evaluate = cl.Has("evaluate") ? cl.Float("evaluate", 0f) : 0f;
        if (cl.Has("evaluate") && !(evaluate > 0f && evaluate < 1f))
            throw new CliException($"impute: --evaluate must be a fraction between 0 and 1 (exclusive), e.g. 0.2; got {cl.String("evaluate")}", 2);
        var options = new ImputerOptions
        {
            Epochs = cl.Int("epochs", 300, 1),
            Hidden = cl.IntList("hidden", [64, 64]),
            BatchSize = cl.Int("batch", 32, 1),
            LearningRate = cl.Float("lr", 2e-3f, 1e-12f, 100f),
            MaskFraction = cl.Float("mask-fraction", 0.2f, 0f, 0.95f),
            AppendMask = cl.Flag("append-mask"),
            FillIterations = cl.Int("iterations", 3, 1, 100),
            Seed = (ulong)cl.Int("seed", 0, 0),
        };
        var backend = Devices.Open(cl);
        cl.RejectUnknown();
        if (output is null && !cl.Has("evaluate"))
            throw new CliException("impute: give --out FILE.csv for the completed table, or --evaluate 0.2 to measure the imputation (see `neuralcore impute --help`)", 2);
        if (!File.Exists(path)) throw new CliException($"--data {path}: file not found; pass a CSV table with a header line");

        var table = CsvTable.Read(path, drop);
        for (int c = 0; c < table.ColumnCount; c++)
            if (Enumerable.Range(0, table.RowCount).All(r => table.Missing[r * table.ColumnCount + c]))
                throw new CliException($"{path}: column '{table.ColumnNames[c]}' is empty in every row; nothing can be learned about it, add it to --drop");
        var imputer = new Imputer(backend, options);
        string shape = $"{table.RowCount} rows x {table.ColumnCount} columns" + (drop.Length > 0 ? $", dropped {string.Join(", ", drop)}" : "");

        if (cl.Has("evaluate"))
        {
            var clock = Stopwatch.StartNew();
            var score = ImputationEvaluation.Evaluate(imputer, table.Values, table.Missing, table.ColumnCount, evaluate, options.Seed);
            Console.WriteLine($"evaluate: hid {score.HiddenCells} of the observed cells ({evaluate:P0}) of {path} ({shape}), seed {options.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"RMSE on hidden cells (columns scaled to [0, 1]): autoencoder {score.ImputerRmse:F4}, mean imputation {score.MeanRmse:F4} ({score.Improvement:F2}x lower)");
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
        var result = imputer.Impute(table.Values, table.Missing, table.ColumnCount);
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

    private static int IndexOf(IReadOnlyList<string> header, string name)
    {
        for (int i = 0; i < header.Count; i++) if (header[i] == name) return i;
        throw new CliException($"column '{name}' not found in the header; the file changed while reading, run again");
    }
}
