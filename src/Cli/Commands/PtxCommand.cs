using System.CommandLine;
using NeuralCore.Kernels.Gpu;
using NeuralCore.Models.IO;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore ptx</c>: the NVIDIA PTX a GPU kernel compiles to, on any machine (no GPU needed).</summary>
internal static class PtxCommand
{
    private static readonly Option<string?> Kernel = CliOption.OptionalString("--kernel",
        "the kernel, e.g. Gemm128Vector, Gemm128, Gemm64, Adam, Im2Col (--list shows all)", "NAME");
    private static readonly Option<string> Sm = CliOption.String("--sm",
        "compute capability to compile for (9.0: H100/H200; ILGPU 1.5.3 writes at most .target sm_80, which the driver compiles " +
        "for newer cards when loading)", "MAJOR.MINOR", "9.0");
    private static readonly Option<string?> Out = CliOption.OptionalString("--out", "write the PTX to FILE instead of printing it", "FILE");
    private static readonly Option<bool> Counts = CliOption.Flag("--counts", "print how often each instruction occurs instead of the PTX");
    private static readonly Option<bool> List = CliOption.Flag("--list", "list the kernel names");

    public static CliCommand Create() => new CliCommand("ptx", "show the NVIDIA PTX of a GPU kernel (no GPU needed)", Run)
    {
        Title = "show the NVIDIA PTX that ILGPU generates for one of the GPU backend's kernels, on any\n" +
                "machine (no GPU or driver needed): read its memory accesses, spills and instruction mix",
        Usage = ["--kernel NAME [--sm 9.0] [--out FILE] [--counts]", "--list"],
        Notes = "example: neuralcore ptx --kernel Gemm128Vector --counts     (4 ld.shared.v4.f32 per k: 16-byte shared loads)",
    }.With(Kernel, Sm, Out, Counts, List);

    private static int Run(Args args)
    {
        bool list = args.Get(List), counts = args.Get(Counts);
        string? kernel = args.Get(Kernel);
        string sm = args.Get(Sm);
        string? outPath = args.Get(Out);
        if (list)
        {
            foreach (string name in PtxInspector.KernelNames) Console.WriteLine(name);
            return 0;
        }
        if (kernel == null)
            throw new CliException($"--kernel is required (one of {string.Join(", ", PtxInspector.KernelNames)}); see neuralcore ptx --help", 2);
        if (!PtxInspector.KernelNames.Contains(kernel, StringComparer.OrdinalIgnoreCase))
            throw new CliException($"unknown kernel '{kernel}'; choose one of {string.Join(", ", PtxInspector.KernelNames)}", 2);
        var parts = sm.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int major) || !int.TryParse(parts[1], out int minor) || major < 5 || minor < 0)
            throw new CliException($"--sm '{sm}' is not a compute capability; write MAJOR.MINOR, e.g. 9.0 for H100/H200 or 8.6", 2);
        string ptx = PtxInspector.Compile(kernel, major, minor);
        string text = counts
            ? string.Join(Environment.NewLine, PtxInspector.CountInstructions(ptx).OrderByDescending(p => p.Value).Select(p => $"{p.Value,6}  {p.Key}"))
            : ptx;
        Outputs.Check("ptx", [], new Outputs.Output("--out", outPath));
        if (outPath == null) Console.WriteLine(text);
        else
        {
            AtomicFile.WriteAllText(outPath, text);
            Console.WriteLine($"wrote {Outputs.Name(outPath)}");
        }
        return 0;
    }
}
