using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using NeuralCore.Cli;
using NeuralCore.Cli.Commands;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli
{
    /// <summary>The `neuralcore` command: the command tree, help, and one-line errors with non-zero exit codes.</summary>
    internal static class Cli
    {
        private const string Title = "autoencoders from scratch (AE, denoising AE, VAE, VQ-VAE with a PixelCNN prior; dense and convolutional)";
        private const string RootUsage = "COMMAND [options]      (neuralcore COMMAND --help for details; neuralcore --version)";
        private const string RootNotes = """
            options can also come from a response file (@FILE: options one or more per line, # starts a comment line):
            neuralcore train @run.rsp
            example: neuralcore train --model vae --epochs 10 --out runs/vae
            """;

        private static readonly Lazy<RootCommand> Root = new(Build);

        private static RootCommand Build()
        {
            var root = new RootCommand(Title);
            foreach (var command in (Command[])[
                TrainCommand.Create(), TrainPriorCommand.Create(), EvalCommand.Create(), GraphCommand.Create(), GradCheckCommand.Create(), ImputeCommand.Create(),
                EncodeCommand.Create(), DetectCommand.Create(), SampleCommand.Create(), InterpolateCommand.Create(), BenchCommand.Create(),
                PtxCommand.Create(), ExperimentCommand.Create(), ClusterCommand.Create(), ImportCommand.Create(), ExportCommand.Create()])
                root.Add(command);
            root.Options.OfType<HelpOption>().Single().Action = new HelpWriter();
            root.Options.OfType<VersionOption>().Single().Action = new VersionWriter();
            root.SetAction(_ => ShowHelp(root, 2));
            return root;
        }

        public static int Main(string[] args)
        {
            Outputs.StandardOutputClosed = !AtomicFile.StandardOutputIsOpen();
            HoldClosedStandardStreams();
            // nobody reads the messages of a run whose standard output is closed (`>&-`); its files are still written
            if (Outputs.StandardOutputClosed) Console.SetOut(TextWriter.Null);
            // a failure on another thread ends the process too: one line, never a stack trace
            AppDomain.CurrentDomain.UnhandledException += (_, e) =>
            {
                Console.Error.WriteLine(InternalError(e.ExceptionObject as Exception));
                Environment.Exit(InternalErrorExitCode);
            };
            return MpiLaunch.Finish(Run(args));
        }

        // Descriptors 0-2 that were closed at start (`neuralcore ... >&-`), now held open on /dev/null.
        private static readonly List<Microsoft.Win32.SafeHandles.SafeFileHandle> HeldStandardStreams = [];

        /// <summary>Opens /dev/null onto every closed standard descriptor, so that no file the command opens later becomes its standard output.</summary>
        private static void HoldClosedStandardStreams()
        {
            if (OperatingSystem.IsWindows()) return;
            try
            {
                // open() returns the lowest free descriptor: below 3 means one of the standard ones was closed
                for (int i = 0; i < 3; i++)
                {
                    var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
                    long fd = handle.DangerousGetHandle();
                    if (fd > 2)
                    {
                        handle.Dispose();
                        break;
                    }
                    HeldStandardStreams.Add(handle);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* no /dev/null: leave the descriptors as they are */ }
        }

        /// <summary>The package version (the informational version without its source-revision suffix).</summary>
        public static string Version { get; } =
            (typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown").Split('+')[0];

        /// <summary>Exit code of an unexpected failure (a bug): EX_SOFTWARE of sysexits.h.</summary>
        public const int InternalErrorExitCode = 70;

        /// <summary>Runs one command line; returns the exit code (0 ok, 1 bad input or failure, 2 usage, 70 internal error, 130 interrupted).</summary>
        public static int Run(string[] args)
        {
            if (args is ["help", .. var rest]) args = [.. rest, "--help"];
            if (args is ["version"]) args = ["--version"];
            var configuration = new InvocationConfiguration
            {
                Output = Console.Out,
                Error = Console.Error,
                // an expected exception becomes one line, an unexpected one (a bug) "internal error: ..." (below)
                EnableDefaultExceptionHandler = false,
                // Ctrl-C belongs to the commands: train saves its epoch and exits with 130 (TrainCommand)
                ProcessTerminationTimeout = null,
            };
            var output = Console.Out;   // a command whose data goes to standard output sends its messages to standard error
            var error = Console.Error;
            Console.SetOut(new SafeTextWriter(output));
            Console.SetError(new SafeTextWriter(error));
            try
            {
                var result = Root.Value.Parse(args);
                return result.Action is ParseErrorAction ? Fail(ErrorMessage(result), 2) : result.Invoke(configuration);
            }
            catch (Exception e) when (Describe(e) is { } message) { return Fail(message, e is CliException c ? c.ExitCode : 1); }
            catch (Exception e)
            {
                Console.Error.WriteLine(InternalError(e));
                return InternalErrorExitCode;
            }
            finally
            {
                Console.SetOut(output);
                Console.SetError(error);
            }
        }

        /// <summary>The one line an unexpected exception (a bug) prints instead of a stack trace.</summary>
        internal static string InternalError(Exception? e) =>
            "internal error: " + Text.Safe($"{e?.GetType().Name ?? "unknown"}: {e?.Message ?? ""}".ReplaceLineEndings(" ")) + " (please report)";

        /// <summary>Parses a command line without running it (tests call a command's body with it).</summary>
        public static Args Parse(params string[] args)
        {
            var result = Root.Value.Parse(args);
            return result.Errors.Count == 0 ? new Args(result) : throw new CliException(ErrorMessage(result), 2);
        }

        /// <summary>The first parse error as one line that names the command, the option and the fix.</summary>
        private static string ErrorMessage(ParseResult result)
        {
            var command = result.CommandResult.Command;
            string name = CliOption.CommandName(result.CommandResult);
            string help = name.Length == 0 ? "neuralcore --help" : $"neuralcore {name} --help";
            if (result.UnmatchedTokens is [var token, ..])
            {
                if (command is RootCommand)
                    return $"unknown command '{token}'; commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))} (see {help})";
                if (command.Subcommands.Count > 0)
                    return $"{name}: unknown {name} '{token}'; choose one of {string.Join(", ", command.Subcommands.Select(c => c.Name))}";
                return token.StartsWith("--", StringComparison.Ordinal)
                    ? $"{name}: unknown option {token.Split('=')[0]} (see `{help}`)"
                    : $"{name}: unexpected argument '{token}'; options look like --name value (see `{help}`)";
            }
            foreach (var error in result.Errors)
            {
                if ((error.SymbolResult as OptionResult ?? error.SymbolResult?.Parent as OptionResult) is not { } option) continue;
                if (option.IdentifierTokenCount == 0) return $"{name}: option {option.Option.Name} is required (see `{help}`)";
                if (option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0) return $"{name}: option {option.Option.Name} needs a value";
                if (option.Tokens.Count > 1) return $"{name}: option {option.Option.Name} given twice";
                return error.Message;   // the option's own parser wrote it
            }
            string message = result.Errors[0].Message;
            return name.Length == 0 || message.StartsWith(name + ": ", StringComparison.Ordinal) ? message : $"{name}: {message}";
        }

        // ---- help -------------------------------------------------------------------------------------

        /// <summary>Writes the help of <paramref name="command"/> to stdout; returns <paramref name="exitCode"/>.</summary>
        public static int ShowHelp(Command command, int exitCode)
        {
            WriteHelp(command, Console.Out);
            return exitCode;
        }

        /// <summary>
        /// The help of a command, generated from its definition: "neuralcore NAME - title", the usage lines, the
        /// subcommands, every option with its meaning and default, then the command's closing notes.
        /// </summary>
        public static void WriteHelp(Command command, TextWriter output)
        {
            var cli = command as CliCommand;
            string fullName = FullName(command);
            output.WriteLine($"{fullName} - {cli?.Title ?? command.Description}");
            output.WriteLine();
            var usage = cli != null ? cli.Usage : [RootUsage];
            if (usage.Count == 0) usage = [command.Subcommands.Count > 0 ? "NAME [options]" : "[options]"];
            for (int i = 0; i < usage.Count; i++)
                output.WriteLine((i == 0 ? "usage: " : "       ") + $"{fullName} {usage[i]}");
            if (command.Subcommands.Count > 0)
            {
                output.WriteLine();
                output.WriteLine(command is RootCommand ? "commands:" : $"{command.Name}s:");
                WriteColumns(output, command.Subcommands.Where(c => !c.Hidden).Select(c => (c.Name, c.Description ?? "")));
            }
            output.WriteLine();
            output.WriteLine("options:");
            var inherited = command.Parents.OfType<Command>().SelectMany(InheritedOptions);
            WriteColumns(output, command.Options.Concat(inherited).Where(o => !o.Hidden).Select(o => (OptionLabel(o), OptionText(o))));
            string? notes = cli != null ? cli.Notes : RootNotes;
            if (!string.IsNullOrWhiteSpace(notes))
            {
                output.WriteLine();
                output.WriteLine(notes.TrimEnd());
            }
        }

        /// <summary>The options a command takes from its ancestors (--help).</summary>
        private static IEnumerable<Option> InheritedOptions(Command command) =>
            command.Options.Where(o => o.Recursive).Concat(command.Parents.OfType<Command>().SelectMany(InheritedOptions));

        /// <summary>"--epochs N", "-h, --help".</summary>
        private static string OptionLabel(Option option)
        {
            string names = string.Join(", ", option.Aliases.Where(a => a.StartsWith('-')).Order().Append(option.Name));
            return option.ValueType == typeof(bool) || option is HelpOption or VersionOption ? names : $"{names} {option.HelpName}";
        }

        /// <summary>What an option means, then "(default: ...)" or "(required)".</summary>
        private static string OptionText(Option option)
        {
            string text = option switch
            {
                HelpOption => "show this help",
                VersionOption => "print the version",
                _ => option.Description ?? "",
            };
            string? fallback = CliOption.DefaultLabel(option) ?? (option.HasDefaultValue ? option.GetDefaultValue() : null) switch
            {
                null or bool => null,
                string s => s,
                System.Collections.IEnumerable values => string.Join(",", values.Cast<object>()) is { Length: > 0 } list ? list : null,
                var value => Convert.ToString(value, CultureInfo.InvariantCulture),
            };
            return option.Required ? $"{text} (required)" : fallback != null ? $"{text} (default: {fallback})" : text;
        }

        /// <summary>Two columns, the second wrapped to the help's width and aligned.</summary>
        private static void WriteColumns(TextWriter output, IEnumerable<(string First, string Second)> rows)
        {
            var list = rows.ToList();
            int indent = 2 + Math.Min(24, list.Max(r => r.First.Length)) + 2;
            const int width = 120;
            foreach (var (first, second) in list)
            {
                var line = new StringBuilder("  " + first);
                if (line.Length + 2 > indent) { output.WriteLine(line); line.Clear(); }
                line.Append(' ', indent - line.Length);
                int start = indent;
                foreach (string word in second.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (line.Length > start && line.Length + 1 + word.Length > width)
                    {
                        output.WriteLine(line);
                        line.Clear().Append(' ', indent);
                    }
                    if (line.Length > indent) line.Append(' ');
                    line.Append(word);
                }
                output.WriteLine(line);
            }
        }

        /// <summary>"neuralcore experiment sphere".</summary>
        private static string FullName(Command command) =>
            command.Parents.OfType<Command>().FirstOrDefault() is { } parent ? $"{FullName(parent)} {command.Name}" : "neuralcore";

        /// <summary>--help (and -h) on any command: its generated help, exit code 0, whatever else is on the line.</summary>
        private sealed class HelpWriter : SynchronousCommandLineAction
        {
            public override bool ClearsParseErrors => true;

            public override int Invoke(ParseResult parseResult)
            {
                WriteHelp(parseResult.CommandResult.Command, parseResult.InvocationConfiguration.Output);
                return 0;
            }
        }

        /// <summary>--version: "neuralcore 0.2.0".</summary>
        private sealed class VersionWriter : SynchronousCommandLineAction
        {
            public override int Invoke(ParseResult parseResult)
            {
                parseResult.InvocationConfiguration.Output.WriteLine($"neuralcore {Version}");
                return 0;
            }
        }

        /// <summary>The one-line message for an expected failure (bad input, diverged training); null lets a real bug crash loudly.</summary>
        private static string? Describe(Exception e) => e switch
        {
            CliException or NeuralCore.Distributed.MpiException or DataFormatException or SafeTensorsFormatException or TrainingDivergedException or AnomalyException => InCommandLineTerms(e.Message),
            StandardOutputClosedException => e.Message,
            // The library's own not-found messages already say what to check.
            FileNotFoundException when e.Message.Contains("check the path", StringComparison.Ordinal) => e.Message,
            IOException or UnauthorizedAccessException => $"{e.Message} (check the path and its permissions)",
            ArgumentException a => InCommandLineTerms(a),
            _ => null,
        };

        // The library's messages name C# properties; the command line names the options that set them.
        private static readonly (string Property, string Option)[] OptionNames =
        [
            ("TrainingOptions.Epochs", "--epochs"), ("TrainingOptions.BatchSize", "--batch"), ("TrainingOptions.LearningRate", "--lr"),
            ("TrainingOptions.WeightDecay", "--weight-decay"), ("TrainingOptions.Optimizer", "--optimizer"),
            ("ModelSpec.Hidden", "--hidden"), ("ModelSpec.Latent", "--latent"), ("ImputerOptions.Hidden", "--hidden"), ("ImputerOptions.LearningRate", "--lr"),
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
            Console.Error.WriteLine("error: " + Text.Safe(message.ReplaceLineEndings(" ")));
            return code;
        }
    }
}
