using System.CommandLine;
using NeuralCore.Models.Inspection;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore gradcheck</c>: finite-difference check of every op's and layer's backward.</summary>
internal static class GradCheckCommand
{
    private static readonly Option<string?> Op = CliOption.OptionalString("--op",
        "only the checks of one op or layer, e.g. matmul, conv2d, bce, Linear, vae-loss", "NAME", "all of them");
    private static readonly Option<bool> List = CliOption.Flag("--list", "print the check names and exit");

    public static CliCommand Create() => new CliCommand("gradcheck", "compare every op's and layer's backward with finite differences", args => Run(args, []))
    {
        Usage = ["[--op NAME] [--device NAME] [--list]"],
        Notes = """
            --device reference (naive, double accumulation) gives the tightest numbers.
            prints one row per check (max abs err | max rel err | pass/fail) with central differences (eps 1e-2) of
            sum(f(x) * r) for a fixed random r; exits with 1 when any check fails, naming the worst element.
            """,
    }.With([Op, List, .. CommonOptions.DeviceOptions]);

    /// <summary>Runs the catalogue plus <paramref name="extraCases"/> (tests inject a deliberately wrong backward).</summary>
    internal static int Run(Args args, IEnumerable<GradCheckCase> extraCases)
    {
        string? op = args.Get(Op);
        bool list = args.Get(List);
        var backend = Devices.Open(args);
        IReadOnlyList<GradCheckCase> cases;
        try { cases = GradCheckCatalog.Select([.. LayerGradChecks.All(), .. extraCases], op); }
        catch (ArgumentException e) { throw new CliException("gradcheck: " + e.Message, 2); }
        if (list)
        {
            foreach (var c in cases) Console.WriteLine($"{c.Op,-18} {c.Name}");
            return 0;
        }

        int width = Math.Max(5, cases.Max(c => c.Name.Length));
        Console.WriteLine($"gradient checks on {backend.Name}: {cases.Count} checks");
        Console.WriteLine($"{"check".PadRight(width)} | max abs err | max rel err | result");
        Console.WriteLine($"{new string('-', width)}-|-------------|-------------|-------");
        var results = GradCheckCatalog.Run(backend, cases, r => Console.WriteLine(GradCheckCatalog.FormatRow(r, width)));
        var failed = results.Where(r => !r.Passed).Select(r => r.Name).ToList();
        if (failed.Count == 0)
        {
            Console.WriteLine($"all {results.Count} checks passed");
            return 0;
        }
        Console.Error.WriteLine($"error: {failed.Count} of {results.Count} gradient checks failed: {string.Join(", ", failed)}");
        return 1;
    }
}
