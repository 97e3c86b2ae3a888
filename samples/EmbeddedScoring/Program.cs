namespace NeuralCore.Samples.EmbeddedScoring;

/// <summary>Entry point: scores rows with a saved autoencoder (see <see cref="ScoringApp"/> and README.md).</summary>
public static class Program
{
    public static int Main(string[] args) => ScoringApp.Run(args, Console.In, Console.Out, Console.Error);
}
