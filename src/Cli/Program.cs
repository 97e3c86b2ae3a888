using System.Reflection;
using System.Text.RegularExpressions;
using NeuralCore.Cli;
using NeuralCore.Cli.Commands;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli
{
    /// <summary>The `neuralcore` command: dispatch, help, and one-line errors with non-zero exit codes.</summary>
    internal static class Cli
    {
        public const string Help = """
            neuralcore - autoencoders from scratch (AE, denoising AE, VAE; dense and convolutional)

            usage: neuralcore COMMAND [options]      (neuralcore COMMAND --help for details; neuralcore --version)

            commands:
              train       train a model on the bundled MNIST, an IDX directory or a CSV table
              eval        test loss of a saved model (and denoising quality)
              graph       draw the autograd graph of one batch (Graphviz DOT/SVG, values and gradients)
              gradcheck   compare every op's and layer's backward with finite differences
              impute      fill missing cells of a CSV table with a denoising autoencoder
              encode      extract features: the embedding of every row, as CSV (and a latent-space plot)
              detect      anomaly scores by reconstruction error, a percentile threshold, AUROC
              sample      generate images from a VAE: decode z ~ N(0, I)
              interpolate decode the straight line between the embeddings of two test images
              bench       time the kernels of a device (GEMM, convolution, elementwise)
              ptx         show the NVIDIA PTX of a GPU kernel (no GPU needed)
              experiment  reproducible experiments (neuralcore experiment --help)

            example: neuralcore train --model vae --epochs 10 --out runs/vae
            """;

        private static readonly Dictionary<string, (string Help, Func<CommandLine, int> Run)> Commands = new()
        {
            ["train"] = (TrainCommand.Help, TrainCommand.Run),
            ["eval"] = (EvalCommand.Help, EvalCommand.Run),
            ["bench"] = (BenchCommand.Help, BenchCommand.Run),
            ["ptx"] = (PtxCommand.Help, PtxCommand.Run),
            ["graph"] = (GraphCommand.Help, GraphCommand.Run),
            ["gradcheck"] = (GradCheckCommand.Help, GradCheckCommand.Run),
            ["impute"] = (ImputeCommand.Help, ImputeCommand.Run),
            ["encode"] = (EncodeCommand.Help, EncodeCommand.Run),
            ["detect"] = (DetectCommand.Help, DetectCommand.Run),
            ["sample"] = (SampleCommand.Help, SampleCommand.Run),
            ["interpolate"] = (InterpolateCommand.Help, InterpolateCommand.Run),
        };

        public static int Main(string[] args) => Run(args);

        /// <summary>The package version (the informational version without its source-revision suffix).</summary>
        public static string Version { get; } =
            (typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown").Split('+')[0];

        /// <summary>Runs one command line; returns the exit code (0 ok, 1 bad input or failure, 2 usage).</summary>
        public static int Run(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine(Help);
                return args.Length == 0 ? 2 : 0;
            }
            if (args[0] is "--version" or "version")
            {
                Console.WriteLine($"neuralcore {Version}");
                return 0;
            }
            if (args[0] == "experiment")
            {
                try { return ExperimentCommand.Run(args[1..]); }
                catch (Exception e) when (Describe(e) is { } message) { return Fail(message, e is CliException c ? c.ExitCode : 1); }
            }
            if (!Commands.TryGetValue(args[0], out var command))
            {
                Console.Error.WriteLine($"error: unknown command '{args[0]}'; commands: {string.Join(", ", Commands.Keys)} (see neuralcore --help)");
                return 2;
            }
            try
            {
                var cl = new CommandLine(args[0], args[1..]);
                if (cl.HelpRequested)
                {
                    Console.WriteLine(command.Help);
                    return 0;
                }
                return command.Run(cl);
            }
            catch (Exception e) when (Describe(e) is { } message) { return Fail(message, e is CliException c ? c.ExitCode : 1); }
        }

        /// <summary>The one-line message for an expected failure (bad input, diverged training); null lets a real bug crash loudly.</summary>
        private static string? Describe(Exception e) => e switch
        {
            CliException or DataFormatException or SafeTensorsFormatException or TrainingDivergedException or AnomalyException => InCommandLineTerms(e.Message),
            IOException or UnauthorizedAccessException => $"{e.Message} (check the path and its permissions)",
            ArgumentException a => InCommandLineTerms(a),
            _ => null,
        };

        // The library's messages name C# properties; the command line names the options that set them.
        private static readonly (string Property, string Option)[] OptionNames =
        [
            ("TrainingOptions.Epochs", "--epochs"), ("TrainingOptions.BatchSize", "--batch"), ("TrainingOptions.LearningRate", "--lr"),
            ("TrainingOptions.WeightDecay", "--weight-decay"), ("TrainingOptions.Optimizer", "--optimizer"),
            ("ModelSpec.Hidden", "--hidden"), ("ModelSpec.Latent", "--latent"),
        ];

        // ArgumentException appends " (Parameter 'name')", also inside messages that wrap one: a C# name, not a command-line one
        private static readonly Regex ParameterSuffix = new(@" \(Parameter '[^']*'\)", RegexOptions.CultureInvariant);

        /// <summary>A library message as the command line says it: options instead of C# property and parameter names.</summary>
        public static string InCommandLineTerms(string message)
        {
            message = ParameterSuffix.Replace(message, "");
            foreach (var (property, option) in OptionNames) message = message.Replace(property, option, StringComparison.Ordinal);
            return message;
        }

        /// <summary>The message of a library argument error as the command line says it.</summary>
        public static string InCommandLineTerms(ArgumentException e) => InCommandLineTerms(e.Message);

        private static int Fail(string message, int code)
        {
            Console.Error.WriteLine("error: " + message.ReplaceLineEndings(" "));
            return code;
        }
    }
}
