namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore experiment NAME</c>: reproducible experiments, one class per experiment.</summary>
internal static class ExperimentCommand
{
    /// <summary>Registered experiments: name -> (one-line description, help text, run).</summary>
    private static readonly Dictionary<string, (string Summary, string Help, Func<CommandLine, int> Run)> Experiments = new()
    {
        // experiments register here, e.g. ["oneclass-mnist"] = (OneClassMnistExperiment.Summary, OneClassMnistExperiment.Help, OneClassMnistExperiment.Run),
        ["oneclass-mnist"] = (OneClassMnistExperiment.Summary, OneClassMnistExperiment.Help, OneClassMnistExperiment.Run),
        ["latent-size"] = (LatentSizeExperiment.Summary, LatentSizeExperiment.Help, LatentSizeExperiment.Run),
        ["sphere"] = (SphereExperiment.Summary, SphereExperiment.Help, SphereExperiment.Run),
    };

    public static string Help =>
        "neuralcore experiment - run a reproducible experiment\n\n" +
        "usage: neuralcore experiment NAME [options]      (neuralcore experiment NAME --help for details)\n\n" +
        "experiments:\n" +
        string.Join("\n", Experiments.Select(e => $"  {e.Key,-16} {e.Value.Summary}"));

    /// <summary>Runs <c>experiment NAME ...</c>; <paramref name="args"/> starts after the word "experiment".</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Help);
            return args.Length == 0 ? 2 : 0;
        }
        if (!Experiments.TryGetValue(args[0], out var experiment))
            throw new CliException($"experiment: unknown experiment '{args[0]}'; choose one of {string.Join(", ", Experiments.Keys)}", 2);
        var cl = new CommandLine("experiment " + args[0], args[1..]);
        if (cl.HelpRequested)
        {
            Console.WriteLine(experiment.Help);
            return 0;
        }
        return experiment.Run(cl);
    }
}
