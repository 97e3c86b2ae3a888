using NeuralCore.Models.Inspection;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore gradcheck</c>: finite-difference check of every op's and layer's backward.</summary>
internal static class GradCheckCommand
{
    public const string Help = """
        neuralcore gradcheck - compare every op's and layer's backward with finite differences

        usage: neuralcore gradcheck [--op NAME] [--device NAME] [--list]

          --op NAME           only the checks of one op or layer, e.g. matmul, conv2d, bce, Linear, vae-loss
                              (default: all of them)
          --list              print the check names and exit
          --device NAME       cpu (default, float32 SIMD) | reference (naive, double accumulation: tightest numbers) |
                              cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)

        prints one row per check (max abs err | max rel err | pass/fail) with central differences (eps 1e-2) of
        sum(f(x) * r) for a fixed random r; exits with 1 when any check fails, naming the worst element.
        """;

    public static int Run(CommandLine cl) => Run(cl, []);

    /// <summary>Runs the catalogue plus <paramref name="extraCases"/> (tests inject a deliberately wrong backward).</summary>
    internal static int Run(CommandLine cl, IEnumerable<GradCheckCase> extraCases)
    {
        string? op = cl.String("op");
        bool list = cl.Flag("list");
        var backend = Devices.Open(cl);
        cl.RejectUnknown();
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
