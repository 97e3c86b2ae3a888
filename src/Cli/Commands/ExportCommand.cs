using System.CommandLine;
using NeuralCore.Models.Training;
using NeuralCore.Onnx;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore export</c>: writes a saved model's encoder, decoder or reconstruction as an ONNX file.</summary>
internal static class ExportCommand
{
    private static readonly Option<string> Format = CliOption.Choice("--format", "onnx", "NAME", ["onnx"],
        (command, name) => $"{command}: --format must be onnx, got '{name}'", "onnx");
    private static readonly Option<string> Part = CliOption.Choice("--part",
        "encoder (rows -> embeddings; a VAE's mean) | decoder (embeddings -> rows; a VAE's generator) | reconstruct (rows -> rows)",
        "NAME", ["encoder", "decoder", "reconstruct"],
        (command, name) => $"{command}: --part must be encoder, decoder or reconstruct, got '{name}'", "reconstruct");
    private static readonly Option<string> Out = CliOption.RequiredString("--out", "the ONNX file to write", "FILE");

    public static CliCommand Create() => new CliCommand("export", "write a saved model as ONNX (encoder, decoder or reconstruction)", Run)
    {
        Title = "export a saved model to ONNX",
        Usage = ["--model DIR [--format onnx] [--part encoder|decoder|reconstruct] --out FILE.onnx"],
        Notes = $"""
            opset {OnnxExport.Opset}, input "input" and output "output", float32, batch dimension dynamic. A table model
            takes and returns rows in their original units (the min-max scaling of model.json is part of the graph).
            """,
    }.With([CommonOptions.ModelDirectory, Format, Part, Out]);

    private static int Run(Args args)
    {
        string dir = args.Get(CommonOptions.ModelDirectory), outPath = args.Get(Out);
        var part = args.Get(Part) switch { "encoder" => OnnxPart.Encoder, "decoder" => OnnxPart.Decoder, _ => OnnxPart.Reconstruct };
        Outputs.Check("export", Outputs.ModelInputs(dir, null), new Outputs.Output("--out", outPath));
        var model = ModelStore.Load(dir, new Kernels.Cpu.CpuBackend(1));
        try { OnnxExport.Write(model, part, outPath); }
        catch (NotSupportedException e) { throw new CliException($"export: {dir} holds a {model.Spec.Kind} model: {e.Message}", 2); }
        if (Outputs.IsStream(outPath)) return 0;
        Console.WriteLine($"wrote {outPath}: {model.Spec.Kind} model in {dir}, part {args.Get(Part)} (ONNX opset {OnnxExport.Opset}, {new FileInfo(outPath).Length:N0} bytes)");
        return 0;
    }
}
