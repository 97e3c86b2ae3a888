namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore experiment NAME</c>: reproducible experiments, one class per experiment.</summary>
internal static class ExperimentCommand
{
    public static CliCommand Create()
    {
        var experiment = new CliCommand("experiment", "reproducible experiments (neuralcore experiment --help)")
        {
            Title = "run a reproducible experiment",
            Usage = ["NAME [options]      (neuralcore experiment NAME --help for details)"],
        };
        // experiments register here
        experiment.Add(OneClassMnistExperiment.Create());
        experiment.Add(LatentSizeExperiment.Create());
        experiment.Add(SphereExperiment.Create());
        experiment.Add(TabularExperiment.Create());
        experiment.SetAction(_ => Cli.ShowHelp(experiment, 2));
        return experiment;
    }
}
