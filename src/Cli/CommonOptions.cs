using System.CommandLine;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Cli;

/// <summary>Options that several commands take with the same meaning: each defined once, added to every command that reads it.</summary>
internal static class CommonOptions
{
    /// <summary>The names --device accepts.</summary>
    public static readonly string[] DeviceNames = ["cpu", "reference", "cuda", "opencl", "ilgpu-cpu"];

    public static readonly Option<string> Device = CliOption.Choice("--device",
        "cpu (SIMD) | reference (naive oracle, slow) | cuda | opencl | ilgpu-cpu (the GPU kernels emulated, slow)", "NAME", DeviceNames,
        (_, name) => $"--device: unknown device '{name}'; choose cpu, reference, cuda, opencl or ilgpu-cpu", fallback: "cpu");

    public static readonly Option<int?> Threads = CliOption.OptionalInt("--threads", "CPU threads with --device cpu", "every core; under mpirun, the cores / the ranks on this machine",
        1, CpuBackend.MaxThreads);

    public static readonly Option<int> Seed = CliOption.Int("--seed",
        "seed of every random draw: initialisation, shuffling, noise, sampling", 0, 0);

    public static readonly Option<string?> Data = CliOption.OptionalString("--data",
        "mnist (the bundled MNIST-10k), a directory with MNIST IDX files, or FILE.csv", "SOURCE",
        defaultLabel: "mnist, or the data a saved --model was trained on: its IDX directory, or its table minus the columns it does not use");

    public static readonly Option<string[]> Drop = CliOption.StringList("--drop",
        "CSV: comma-separated columns to ignore (e.g. an id or class column)", "COLS");

    public static readonly Option<string?> LabelColumn = CliOption.OptionalString("--label-column",
        "CSV: a column holding labels (kept out of the features)", "COL");

    public static readonly Option<string?> Split = CliOption.OptionalChoice("--split",
        "image data: the split to use, test | train; a CSV table is used whole", "NAME", ["test", "train"],
        (command, name) => $"{command}: --split must be test or train, got '{name}'", "test");

    public static readonly Option<ReconstructionScore> Score = CliOption.Of("--score",
        "per-row reconstruction error: mse (measured better on MNIST) | bce", "NAME", (text, command) => text switch
        {
            "mse" => ReconstructionScore.Mse,
            "bce" => ReconstructionScore.Bce,
            _ => throw new CliException($"{command}: --score must be mse or bce, got '{text}'", 2),
        }, () => ReconstructionScore.Mse, "mse");

    /// <summary>--model DIR of the commands that use a trained model.</summary>
    public static readonly Option<string> ModelDirectory = CliOption.RequiredString("--model", "a directory written by `neuralcore train`", "DIR");

    /// <summary>--device and --threads, which every command that computes takes.</summary>
    public static readonly Option[] DeviceOptions = [Device, Threads];

    /// <summary>--data, --drop and --label-column, read by <see cref="DataSource.Load(Args, ModelSpec?, ulong)"/>.</summary>
    public static readonly Option[] DataOptions = [Data, Drop, LabelColumn];

    /// <summary>--model KIND, one of <see cref="ModelSpec.Kinds"/>, with the command's default.</summary>
    public static Option<string> ModelKind(string fallback) => CliOption.Choice("--model",
        string.Join(" | ", ModelSpec.Kinds), "KIND", ModelSpec.Kinds,
        (command, kind) => $"{command}: unknown model '{kind}'; choose one of {string.Join(", ", ModelSpec.Kinds)}", fallback);
}
