using System.Buffers.Binary;
using System.Text;
using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.IO;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>
/// Every bad input we try, run through the command line: each must fail with one line "error: ..." that names the
/// file and the problem, a non-zero exit, and no change to any file. The table in docs/bad-inputs.md is generated
/// from these runs and must match them (regenerate it with NEURALCORE_UPDATE_DOCS=1).
/// </summary>
public class BadInputTable
{
    private const string Begin = "<!-- bad-inputs:begin -->", End = "<!-- bad-inputs:end -->";

    /// <summary>One bad input: <paramref name="Setup"/> writes files into a fresh directory and returns the command line.</summary>
    public sealed record Case(string Id, string Reader, string What, Func<string, string[]> Setup);

    public static readonly Case[] Cases =
    [
        // ---- IDX (a directory of MNIST files) ----
        new("idx-wrong-magic", "IDX", "images file with magic 0x00000802", d => Idx(d, images: Images(8, magic: 0x802))),
        new("idx-html", "IDX", "an HTML error page saved as the images file", d => Idx(d, images: Encoding.ASCII.GetBytes("<!DOCTYPE html><html>404</html>"))),
        new("idx-labels-as-images", "IDX", "the labels file in place of the images file", d => Idx(d, images: Labels(8))),
        new("idx-short-header", "IDX", "images file of 5 bytes", d => Idx(d, images: [0, 0, 8, 3, 0])),
        new("idx-truncated", "IDX", "header declares 8 images, 3 are present", d => Idx(d, images: Images(8)[..(16 + 3 * 16)])),
        new("idx-trailing-data", "IDX", "bytes after the declared images", d => Idx(d, images: [.. Images(8), 1, 2, 3])),
        new("idx-absurd-size", "IDX", "images of 100000 x 4 pixels", d => Idx(d, images: Images(8, rows: 100_000))),
        new("idx-too-many-pixels", "IDX", "header declares 1e9 images of 28 x 28", d => Idx(d, images: Images(1_000_000_000, rows: 28, cols: 28))),
        new("idx-negative-count", "IDX", "image count 0xFFFFFFFF", d => Idx(d, images: Images(-1))),
        new("idx-zero-images", "IDX", "image count 0", d => Idx(d, images: Images(0)[..16])),
        new("idx-corrupt-gzip", "IDX", "gzip magic followed by garbage", d => Idx(d, images: [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef])),
        new("idx-count-mismatch", "IDX", "8 images but 5 labels", d => Idx(d, labels: Labels(5))),
        new("idx-label-range", "IDX", "a label of 12", d => { var l = Labels(8); l[10] = 12; return Idx(d, labels: l); }),
        new("idx-missing-file", "IDX", "no t10k-labels file in the directory", d => Idx(d, dropTestLabels: true)),
        // ---- CSV ----
        new("csv-empty", "CSV", "an empty file", d => Csv(d, "")),
        new("csv-header-only", "CSV", "a header and no rows", d => Csv(d, "a,b\n")),
        new("csv-no-header", "CSV", "numbers on the first line", d => Csv(d, "1,2\n3,4\n")),
        new("csv-ragged", "CSV", "a row with 3 fields under 2 columns", d => Csv(d, "a,b\n1,2\n3,4,5\n")),
        new("csv-text", "CSV", "text in a numeric column", d => Csv(d, "a,b\n1,2\n3,hello\n")),
        new("csv-huge-number", "CSV", "1e39 (beyond float32)", d => Csv(d, "a,b\n1,2\n1e39,4\n")),
        new("csv-infinity", "CSV", "the value Infinity", d => Csv(d, "a,b\n1,2\n3,Infinity\n")),
        new("csv-unterminated-quote", "CSV", "a quoted field that never closes", d => Csv(d, "a,b\n1,\"2\n3,4\n")),
        new("csv-duplicate-column", "CSV", "two columns named a", d => Csv(d, "a,a\n1,2\n3,4\n")),
        new("csv-empty-column-name", "CSV", "a header with an empty name", d => Csv(d, "a,,c\n1,2,3\n")),
        new("csv-one-row", "CSV", "a single data row (nothing to split)", d => Csv(d, "a,b\n1,2\n")),
        new("csv-drop-unknown", "CSV", "--drop of a column that does not exist", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--drop", "c"]),
        new("csv-label-missing", "CSV", "an empty cell in the --label-column", d => [.. Csv(d, "a,b,y\n1,2,0\n3,4,\n"), "--label-column", "y"]),
        // ---- safetensors and model.json (eval --model DIR) ----
        new("st-empty", "safetensors", "a 0-byte weights file", d => Model(d, _ => [])),
        new("st-header-past-end", "safetensors", "header length 1000 in a 100-byte file", d => Model(d, b => { var c = b[..100]; BinaryPrimitives.WriteUInt64LittleEndian(c, 1000); return c; })),
        new("st-header-huge", "safetensors", "header length 2^63", d => Model(d, b => { BinaryPrimitives.WriteUInt64LittleEndian(b, 1UL << 63); return b; })),
        new("st-not-object", "safetensors", "a header that is a JSON array", d => Model(d, b => Header(b, _ => "[1, 2]"))),
        new("st-bad-json", "safetensors", "a header with a missing brace", d => Model(d, b => Header(b, h => h.TrimEnd()[..^1]))),
        new("st-bad-utf8", "safetensors", "invalid UTF-8 in the header", d => Model(d, b => { b[10] = 0xff; return b; })),
        new("st-wrong-dtype", "safetensors", "dtype I32", d => Model(d, b => Header(b, h => ReplaceFirst(h, "\"F32\"", "\"I32\"")))),
        new("st-offsets-out-of-range", "safetensors", "data_offsets past the data section", d => Model(d, b => Header(b, h => ReplaceFirst(h, "\"data_offsets\":[0,", "\"data_offsets\":[99990,")))),
        new("st-offsets-overlap", "safetensors", "two tensors sharing bytes", d => Model(d, b => Header(b, h => ReplaceFirst(h, "\"data_offsets\":[12,24]", "\"data_offsets\":[8,20]")))),
        new("st-size-mismatch", "safetensors", "offsets that do not match the shape", d => Model(d, b => Header(b, h => ReplaceFirst(h, "\"shape\":[3]", "\"shape\":[4]")))),
        new("st-negative-dim", "safetensors", "a negative dimension", d => Model(d, b => Header(b, h => ReplaceFirst(h, "\"shape\":[3]", "\"shape\":[-3]")))),
        new("st-model-shape", "safetensors", "weights of another model size (hidden 4, model expects 3)", d => Model(d, _ => Weights(d, hidden: 4))),
        new("st-missing-tensor", "safetensors", "a tensor missing", d => Model(d, _ => Weights(d, drop: "encoder.0.bias"))),
        new("st-extra-tensor", "safetensors", "a tensor the model does not have", d => Model(d, _ => Weights(d, extra: "encoder.9.weight"))),
        new("json-bad", "model.json", "model.json that is not JSON", d => Model(d, b => b, spec: "{\"format\": ")),
        new("json-not-model", "model.json", "a JSON file of another program", d => Model(d, b => b, spec: "{\"name\": \"x\"}")),
        new("json-wrong-type", "model.json", "latent given as text", d => Model(d, b => b, spec: ModelSpecJson().Replace("\"latent\": 1", "\"latent\": \"one\""))),
        new("json-absurd-size", "model.json", "hidden size 1e9", d => Model(d, b => b, spec: ModelSpecJson().Replace("\"hidden\": [\n    3\n  ]", "\"hidden\": [1000000000]"))),
        new("model-dir-empty", "model.json", "a model directory without model.json", d => { Directory.CreateDirectory(Path.Combine(d, "m")); return ["eval", "--model", Path.Combine(d, "m")]; }),
        // ---- checkpoints (train --resume DIR) ----
        new("resume-no-checkpoint", "checkpoint", "--resume of a directory without a checkpoint", d => ["train", "--resume", d]),
        new("resume-not-checkpoint", "checkpoint", "a model file renamed to checkpoint.safetensors", d => { Model(d, b => b); File.Copy(Path.Combine(d, "m", ModelStore.WeightsFile), Path.Combine(d, Checkpoint.FileName)); return ["train", "--resume", d]; }),
        new("resume-bad-rng", "checkpoint", "a generator state of 3 words", d => CheckpointCase(d, m => m["shuffle_rng"] = "1 2 3")),
        new("resume-bad-options", "checkpoint", "training options with batch 0", d => CheckpointCase(d, m => m["training_options"] = m["training_options"].Replace("\"batch\":4", "\"batch\":0"))),
        new("resume-missing-state", "checkpoint", "an optimiser state tensor missing", d => CheckpointCase(d, _ => { }, drop: "optimizer.0.exp_avg")),
        new("resume-changed-data", "checkpoint", "the CSV changed since the checkpoint", d => { var args = CheckpointCase(d, _ => { }); File.WriteAllText(Path.Combine(d, "t.csv"), "a,b\n1,2\n3,40\n5,6\n7,8\n"); return args; }),
        new("resume-fixed-option", "command line", "--resume with --lr", d => ["train", "--resume", d, "--lr", "0.1"]),
        // ---- memory: sizes checked before they are allocated ----
        new("mem-idx-gzip-bomb", "IDX", "gzip images file: 8 images, then 64 MiB of zeros", d => IdxGz(d, Images(8)[..16], 64 << 20)),
        new("mem-idx-gzip-huge-header", "IDX", "gzip images file declaring 60 million 4 x 4 images", d => IdxGz(d, Images(60_000_000)[..16], 1024)),
        new("mem-json-wide-layers", "model.json", "hidden size 1e6 (10 million parameters, 8 GB of activations to evaluate)", d => Model(d, b => b, spec: ModelSpecJson().Replace("\"hidden\": [\n    3\n  ]", "\"hidden\": [1000000]"))),
        new("mem-csv-long-line", "CSV", "a 2 MB line without a line break", d => Csv(d, "a,b\n1," + new string('5', 2 << 20) + "\n")),
        new("mem-csv-dev-zero", "CSV", "/dev/zero as the table (impute)", d => ["impute", "--data", "/dev/zero", "--out", Path.Combine(d, "o.csv")]),
        new("mem-impute-huge-hidden", "command line", "impute --hidden 100000000", d => ["impute", "--data", CsvFile(d, "a,b\n1,\n3,4\n"), "--hidden", "100000000", "--out", Path.Combine(d, "o.csv")]),
        new("mem-train-huge-activations", "command line", "--hidden 3000000 (gigabytes of activations)", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--hidden", "3000000"]),
        new("mem-train-huge-batch", "command line", "--batch 2000000", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--hidden", "3000", "--batch", "2000000"]),
        // ---- NaN, infinities and exploding values ----
        new("nan-weight-eval", "safetensors", "a NaN weight (eval)", d => Model(d, _ => Weights(d, poison: float.NaN))),
        new("nan-weight-detect", "safetensors", "an infinite weight (detect)", d => ["detect", .. Model(d, _ => Weights(d, poison: float.PositiveInfinity))[1..], "--out", Path.Combine(d, "s.csv")]),
        new("nan-weight-encode", "safetensors", "a NaN weight (encode)", d => ["encode", .. Model(d, _ => Weights(d, poison: float.NaN))[1..], "--out", Path.Combine(d, "f.csv")]),
        new("nan-checkpoint-state", "checkpoint", "NaN in the optimiser state", d => CheckpointCase(d, _ => { }, poison: "optimizer.0.exp_avg")),
        new("nan-train-diverges", "command line", "sgd with --lr 100 (the loss explodes)", d => [.. Csv(d, "a,b\n1,2\n3,4\n5,1\n2,2\n4,4\n"), "--optimizer", "sgd", "--lr", "100", "--quiet"]),
        new("nan-impute-diverges", "command line", "impute with --lr 100 (the loss explodes)", d => ["impute", "--data", CsvFile(d, "a,b,c\n1,2,3\n4,,6\n7,8,9\n1,5,2\n"), "--lr", "100", "--out", Path.Combine(d, "o.csv")]),
        new("nan-impute-range", "CSV", "impute on a column from -3e38 to 3e38", d => ["impute", "--data", CsvFile(d, "a,b\n-3e38,1\n3e38,\n0,2\n"), "--out", Path.Combine(d, "o.csv")]),
        // ---- impute copies the input's bytes ----
        new("impute-utf16", "CSV", "impute on a UTF-16 table", d =>
        {
            string path = Path.Combine(d, "t.csv");
            File.WriteAllText(path, "a,b\n1,\n3,4\n", Encoding.Unicode);
            return ["impute", "--data", path, "--out", Path.Combine(d, "o.csv")];
        }),
        // ---- provenance: the data a model or run was trained on ----
        new("prov-resume-same-ranges", "checkpoint", "the CSV's values changed within the same ranges", d => { var args = CheckpointCase(d, _ => { }); File.WriteAllText(Path.Combine(d, "t.csv"), "a,b\n1,2\n5,4\n3,6\n7,8\n"); return args; }),
        new("prov-eval-changed-data", "CSV", "eval without --data after the training CSV changed", d => TrainedThenChanged(d, "eval")),
        new("prov-detect-changed-data", "CSV", "detect without --data after the training CSV changed", d => TrainedThenChanged(d, "detect")),
        new("prov-fractional-label", "CSV", "a label column holding 0.5", d => [.. Csv(d, "a,b,y\n1,2,0\n3,4,0.5\n5,6,1\n"), "--label-column", "y"]),
        new("prov-huge-label", "CSV", "a label of 1e20", d => [.. Csv(d, "a,b,y\n1,2,0\n3,4,1e20\n5,6,1\n"), "--label-column", "y"]),
        // ---- command line ----
        // ---- VQ-VAE and its prior ----
        new("vq-prior-of-ae", "command line", "train-prior on a plain autoencoder", d => ["train-prior", .. Model(d, b => b)[1..3]]),
        new("vq-sample-without-prior", "command line", "sample from a VQ-VAE before train-prior", d => ["sample", "--model", VqModel(d), "--out", Path.Combine(d, "s.png")]),
        new("vq-prior-exists", "command line", "train-prior again without --overwrite", d => { string m = VqModel(d, prior: true); return ["train-prior", "--model", m]; }),
        new("vq-prior-resume-none", "command line", "train-prior --resume without a prior checkpoint", d => ["train-prior", "--model", VqModel(d), "--resume"]),
        new("vq-on-table", "command line", "train --model vqvae on a CSV table", d => ["train", "--model", "vqvae", "--data", CsvFile(d, "a,b\n1,2\n3,4\n"), "--out", Path.Combine(d, "out")]),
        new("vq-latent", "command line", "train --model vqvae --latent 8", d => ["train", "--model", "vqvae", "--latent", "8", "--out", Path.Combine(d, "out")]),
        new("vq-grad-shards", "command line", "train --model vqvae --grad-shards 6", d => ["train", "--model", "vqvae", "--grad-shards", "6", "--out", Path.Combine(d, "out")]),
        new("vq-export", "command line", "export of a VQ-VAE to ONNX", d => ["export", "--model", VqModel(d), "--out", Path.Combine(d, "vq.onnx")]),
        new("vq-import", "command line", "import --model vqvae", d => ["import", "--state-dict", StateDict(d, ("x", [3])), "--model", "vqvae", "--out", Path.Combine(d, "imported")]),
        new("vq-oneclass", "command line", "experiment oneclass-mnist --model vqvae", d => ["experiment", "oneclass-mnist", "--model", "vqvae", "--out", Path.Combine(d, "oc")]),
        new("vq-temperature-on-vae", "command line", "sample --temperature from a VAE", d => ["sample", "--model", ImageVae(d), "--temperature", "0.7", "--out", Path.Combine(d, "s.png")]),
        new("vq-option-on-vae", "command line", "--codebook-size with --model vae", d => ["train", "--model", "vae", "--codebook-size", "32", "--out", Path.Combine(d, "out")]),
        new("cli-unknown-option", "command line", "a misspelt option", d => ["train", "--epoch", "3", "--out", Path.Combine(d, "out")]),
        new("cli-not-a-number", "command line", "--epochs ten", d => ["train", "--epochs", "ten", "--out", Path.Combine(d, "out")]),
        new("cli-lr-out-of-range", "command line", "--lr 0", d => ["train", "--lr", "0", "--out", Path.Combine(d, "out")]),
        new("cli-missing-value", "command line", "--out without a value", _ => ["train", "--out"]),
        new("cli-unknown-model", "command line", "--model gan", d => ["train", "--model", "gan", "--out", Path.Combine(d, "out")]),
        new("cli-bad-hidden", "command line", "--hidden 0", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--hidden", "0"]),
        new("cli-huge-model", "command line", "--hidden 1000000,1000 (1e9 parameters)", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--hidden", "1000000,1000"]),
        new("cli-no-gpu", "command line", "--device cuda on a machine without CUDA", d => ["train", "--device", "cuda", "--out", Path.Combine(d, "out")]),
        new("cli-missing-data", "command line", "--data of a file that does not exist", d => ["train", "--data", Path.Combine(d, "nope.csv"), "--out", Path.Combine(d, "out")]),
        new("cli-out-under-file", "command line", "--out inside a path that is a file", d => { File.WriteAllText(Path.Combine(d, "f"), "x"); return ["train", "--epochs", "1", "--out", Path.Combine(d, "f", "run")]; }),
        new("cli-threads-zero", "command line", "--threads 0", d => ["train", "--threads", "0", "--out", Path.Combine(d, "out")]),
        new("cli-threads-gpu", "command line", "--threads with a device other than cpu", d => ["train", "--device", "reference", "--threads", "2", "--out", Path.Combine(d, "out")]),
        // ---- outputs: never replace an input, never a directory on standard output, no raw control characters ----
        new("out-is-data", "output", "impute --out of the --data table itself", d => ["impute", .. Csv(d, "a,b\n1,2\n,4\n")[3..5], "--out", Path.Combine(d, "t.csv")]),
        new("out-link-to-data", "output", "an --out that is a symbolic link to the --data table", d => { var a = Csv(d, "a,b\n1,2\n,4\n"); File.CreateSymbolicLink(Path.Combine(d, "l.csv"), a[4]); return ["impute", "--data", a[4], "--out", Path.Combine(d, "l.csv")]; }),
        new("out-is-model-file", "output", "encode --out of the model's own model.json", d => ["encode", .. Model(d, b => b)[1..], "--out", Path.Combine(d, "m", ModelStore.SpecFile)]),
        new("out-is-model-dir", "output", "detect --out of the --model directory", d => ["detect", .. Model(d, b => b)[1..], "--out", Path.Combine(d, "m")]),
        new("out-twice", "output", "--out and --plot on one file", d => ["encode", .. Model(d, b => b)[1..], "--out", Path.Combine(d, "x.png"), "--plot", Path.Combine(d, "x.png")]),
        new("out-dash-directory", "command line", "train --out - (a directory cannot go to standard output)", d => [.. Csv(d, "a,b\n1,2\n3,4\n")[..^1], "-"]),
        new("out-empty", "command line", "--out \"\"", d => [.. Csv(d, "a,b\n1,2\n3,4\n")[..^1], ""]),
        new("data-empty", "command line", "--data \"\"", d => ["train", "--data", "", "--out", Path.Combine(d, "out")]),
        new("model-empty", "command line", "--model \"\" of a command that reads a model", _ => ["encode", "--model", ""]),
        // ---- import (a PyTorch state_dict) and export (ONNX) ----
        new("import-missing", "safetensors", "import --state-dict of a file that does not exist", d => ["import", "--state-dict", Path.Combine(d, "nope.safetensors"), "--model", "vae", "--out", Path.Combine(d, "o")]),
        new("import-csv", "safetensors", "import --state-dict of a CSV table", d => ["import", "--state-dict", CsvFile(d, "a,b\n1,2\n"), "--model", "vae", "--out", Path.Combine(d, "o")]),
        new("import-other-names", "safetensors", "a state_dict whose names match no model layer", d => ["import", "--state-dict", StateDict(d, ("net.0.weight", [20, 5]), ("net.0.bias", [20])), "--model", "ae", "--latent", "4", "--data", CsvFile(d, "a,b,c,e,f\n1,2,3,4,5\n2,3,4,5,6\n"), "--out", Path.Combine(d, "o")]),
        new("import-no-latent", "safetensors", "a state_dict without the decoder's first layer and no --latent", d => ["import", "--state-dict", StateDict(d, ("x", [3])), "--model", "vae", "--out", Path.Combine(d, "o")]),
        new("import-bad-map", "command line", "--map fc1 (no =)", d => ["import", "--state-dict", StateDict(d, ("x", [3])), "--model", "vae", "--map", "fc1", "--out", Path.Combine(d, "o")]),
        new("import-over-input", "output", "--out the directory that holds the --state-dict as model.safetensors", d =>
        {
            Directory.CreateDirectory(Path.Combine(d, "m"));
            File.Move(StateDict(d, ("x", [3])), Path.Combine(d, "m", ModelStore.WeightsFile));
            return ["import", "--state-dict", Path.Combine(d, "m", ModelStore.WeightsFile), "--model", "vae", "--latent", "2", "--out", Path.Combine(d, "m")];
        }),
        new("export-bad-part", "command line", "export --part middle", d => ["export", .. Model(d, b => b)[1..3], "--part", "middle", "--out", Path.Combine(d, "m.onnx")]),
        new("export-over-model", "output", "export --out of the model's own weights file", d => ["export", .. Model(d, b => b)[1..3], "--out", Path.Combine(d, "m", ModelStore.WeightsFile)]),
        new("export-corrupt-model", "safetensors", "export of a model whose weights file is cut short", d => ["export", .. Model(d, b => b[..(b.Length / 2)])[1..3], "--out", Path.Combine(d, "m.onnx")]),
        // ---- a run's directory ----
        new("out-holds-run", "output", "train --out of a directory that holds another run (no --overwrite)", d => { Model(d, b => b); return [.. Csv(d, "a,b\n1,2\n3,4\n")[..^1], Path.Combine(d, "m")]; }),
        new("out-in-use", "output", "train --out of a directory another run holds (locked)", d => { var a = Csv(d, "a,b\n1,2\n3,4\n"); HoldLock(a[^1]); return a; }),
        // ---- sizes: every one range-checked when parsed, products computed in 64 bits ----
        new("size-batch", "command line", "--batch 3000000", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--batch", "3000000"]),
        new("size-hidden-past-int", "command line", "--hidden 3000000000 (past 32 bits)", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--hidden", "3000000000"]),
        new("size-epochs-past-int", "command line", "--epochs 2147483648", d => [.. Csv(d, "a,b\n1,2\n3,4\n")[..^4], "--epochs", "2147483648", "--out", Path.Combine(d, "out")]),
        new("size-latent", "command line", "--latent 2000000000", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--latent", "2000000000"]),
        new("size-sample-count", "command line", "sample --count 40000000", d => ["sample", .. Model(d, b => b)[1..3], "--count", "40000000", "--out", Path.Combine(d, "s.csv")]),
        new("size-sample-picture", "command line", "sample --count 40000 --scale 16 (a picture of 13,001 x 13,001 pixels)", d => ["sample", "--model", ImageVae(d), "--count", "40000", "--scale", "16", "--out", Path.Combine(d, "s.png")]),
        new("csv-control-characters", "CSV", "a cell with a terminal escape sequence (shown escaped)", d => Csv(d, "a,b\n1,2\n3,\u001b[31mred\n")),
        new("size-grad-shards", "command line", "--grad-shards 5000", d => [.. Csv(d, "a,b\n1,2\n3,4\n"), "--grad-shards", "5000"]),
    ];

    [Fact]
    public void EveryBadInput_GetsTheDocumentedOneLineError_AndChangesNoFile()
    {
        var rows = new List<string>();
        var problems = new List<string>();
        foreach (var c in Cases)
        {
            string dir = CliRunner.TempDir();
            var args = c.Setup(dir);
            var before = Snapshot(dir);
            var r = CliRunner.Run(args);
            string error = r.Error.Trim();
            if (r.ExitCode == 0) problems.Add($"{c.Id}: exit code 0");
            if (!error.StartsWith("error: ", StringComparison.Ordinal) || error.Contains('\n') || error.Contains("   at "))
                problems.Add($"{c.Id}: not a one-line error: {error}");
            if (Snapshot(dir) != before) problems.Add($"{c.Id}: files changed in {dir}");
            string message = error.Replace(dir, "DIR");
            bool namesDevice = args.Any(a => a.StartsWith("/dev/", StringComparison.Ordinal));
            if (c.Reader is not "command line" && !message.Contains("DIR") && !namesDevice) problems.Add($"{c.Id}: message names no file: {message}");
            string command = "neuralcore " + string.Join(' ', args.Select(a => a.Length == 0 ? "\"\"" : a.Replace(dir, "DIR")));
            rows.Add($"| {rows.Count + 1} | {c.Reader} | {c.What} | `{command}` | {r.ExitCode} | `` {message.Replace("|", "\\|")} `` |");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(Cases.Length >= 25 && Cases.Select(c => c.Id).Distinct().Count() == Cases.Length);

        string table = "| # | reader | bad input | command | exit | message |\n|---|---|---|---|---|---|\n" + string.Join("\n", rows) + "\n";
        string docPath = Path.Combine(TrainEvalTests.FindRepoRoot(), "docs", "bad-inputs.md");
        string doc = File.ReadAllText(docPath);
        int begin = doc.IndexOf(Begin, StringComparison.Ordinal), end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"{docPath} lacks the {Begin} ... {End} markers");
        string documented = doc[(begin + Begin.Length)..end].Trim('\n') + "\n";
        if (Environment.GetEnvironmentVariable("NEURALCORE_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(docPath, doc[..(begin + Begin.Length)] + "\n" + table + doc[end..]);
            return;
        }
        var expected = table.Split('\n');
        var actual = documented.Split('\n');
        var diff = expected.Zip(actual).Where(p => p.First != p.Second).Select(p => $"doc:  {p.Second}\nreal: {p.First}").Take(5).ToList();
        Assert.True(diff.Count == 0 && expected.Length == actual.Length,
            $"docs/bad-inputs.md is out of date ({actual.Length} vs {expected.Length} lines); run the test with NEURALCORE_UPDATE_DOCS=1\n" + string.Join("\n", diff));
    }

    // ---- builders of the bad inputs ----

    private static byte[] Images(int count, int rows = 4, int cols = 4, uint magic = IdxReader.ImagesMagic)
    {
        int present = Math.Max(0, Math.Min(count, 8));
        var b = new byte[16 + present * rows * cols];
        BinaryPrimitives.WriteUInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (int i = 16; i < b.Length; i++) b[i] = (byte)(i * 31);
        return b;
    }

    private static byte[] Labels(int count)
    {
        var b = new byte[8 + count];
        BinaryPrimitives.WriteUInt32BigEndian(b, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        for (int i = 8; i < b.Length; i++) b[i] = (byte)(i % 10);
        return b;
    }

    /// <summary>A directory of four small IDX files (8 train, 8 test images of 4 x 4), with one file replaced.</summary>
    private static string[] Idx(string dir, byte[]? images = null, byte[]? labels = null, bool dropTestLabels = false)
    {
        string idx = Path.Combine(dir, "mnist");
        Directory.CreateDirectory(idx);
        File.WriteAllBytes(Path.Combine(idx, MnistDataset.TrainImagesFile), images ?? Images(8));
        File.WriteAllBytes(Path.Combine(idx, MnistDataset.TrainLabelsFile), labels ?? Labels(8));
        File.WriteAllBytes(Path.Combine(idx, MnistDataset.TestImagesFile), Images(8));
        if (!dropTestLabels) File.WriteAllBytes(Path.Combine(idx, MnistDataset.TestLabelsFile), Labels(8));
        return ["train", "--model", "ae", "--data", idx, "--epochs", "1", "--out", Path.Combine(dir, "out")];
    }

    private static string CsvFile(string dir, string text)
    {
        string path = Path.Combine(dir, "t.csv");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The IDX directory of <see cref="Idx"/> with a gzip images file: <paramref name="header"/>, then <paramref name="zeros"/> zero bytes.</summary>
    private static string[] IdxGz(string dir, byte[] header, int zeros)
    {
        var args = Idx(dir);
        string images = Path.Combine(dir, "mnist", MnistDataset.TrainImagesFile);
        File.Delete(images);
        using var file = File.Create(images + ".gz");
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.SmallestSize);
        gzip.Write(header);
        gzip.Write(new byte[zeros]);
        return args;
    }

    private static string[] Csv(string dir, string text)
    {
        string path = Path.Combine(dir, "t.csv");
        File.WriteAllText(path, text);
        return ["train", "--model", "ae", "--data", path, "--epochs", "1", "--out", Path.Combine(dir, "out")];
    }

    private static ModelSpec TableSpec(int hidden = 3) => new()
    {
        Kind = "ae", InputFeatures = 2, Latent = 1, Hidden = [hidden], Loss = "mse", Columns = ["a", "b"],
        Scaler = new FeatureScaler([1f, 2f], [3f, 4f]),
    };

    private static string ModelSpecJson() => TableSpec().ToJson();

    /// <summary>Valid weights of the table model, optionally of another size, without one tensor, or with an extra one.</summary>
    /// <summary>A safetensors file of zero-filled tensors with the given names and shapes, as a PyTorch state_dict would be.</summary>
    private static string StateDict(string dir, params (string Name, int[] Shape)[] tensors)
    {
        string path = Path.Combine(dir, "state.safetensors");
        SafeTensors.Write(path, [.. tensors.Select(t => (t.Name, t.Shape, new float[t.Shape.Aggregate(1, (a, b) => a * b)]))]);
        return path;
    }

    private static byte[] Weights(string dir, int hidden = 3, string? drop = null, string? extra = null, float? poison = null)
    {
        var model = ModelFactory.Create(TableSpec(hidden), new CpuBackend(), new SeededRandom(0));
        var tensors = model.NamedParameters().Where(p => p.Name != drop).Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.ToArray())).ToList();
        if (poison is { } value) tensors[0].Item3[1] = value;
        if (extra != null) tensors.Add((extra, [1], [0f]));
        string path = Path.Combine(dir, "w.tmp.safetensors");
        SafeTensors.Write(path, tensors);
        var bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return bytes;
    }

    /// <summary>An untrained VQ-VAE model directory (and, with <paramref name="prior"/>, an untrained prior in it).</summary>
    private static string VqModel(string dir, bool prior = false)
    {
        string m = Path.Combine(dir, "vq");
        var backend = new CpuBackend();
        var spec = new ModelSpec { Kind = "vqvae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 16 * 49, Loss = "mse", Vq = new VqSettings(), Data = "mnist" };
        var model = (VqVae)ModelFactory.Create(spec, backend, new NeuralCore.SeededRandom(0));
        ModelStore.Save(model, m);
        if (prior) PriorTraining.Save(new PixelCnnPrior(new PriorSpec { CodebookSize = 64, Height = 7, Width = 7 }, backend, new NeuralCore.SeededRandom(0)), m);
        return m;
    }

    /// <summary>A model directory DIR/m of the table model with its weights file changed by <paramref name="corrupt"/>; runs eval on it.</summary>
    private static string[] Model(string dir, Func<byte[], byte[]> corrupt, string? spec = null)
    {
        string m = Path.Combine(dir, "m");
        Directory.CreateDirectory(m);
        File.WriteAllBytes(Path.Combine(m, ModelStore.WeightsFile), corrupt(Weights(dir)));
        File.WriteAllText(Path.Combine(m, ModelStore.SpecFile), spec ?? ModelSpecJson());
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n");
        return ["eval", "--model", m, "--data", csv];
    }

    // Locks taken by cases, held until the process ends (as a run in another process would hold them).
    private static readonly List<FileStream> HeldLocks = [];

    /// <summary>Creates <paramref name="dir"/> and takes its run lock, as a running `train` does.</summary>
    private static void HoldLock(string dir)
    {
        Directory.CreateDirectory(dir);
        lock (HeldLocks)
            // shared, so the table can still read the file; a run's exclusive lock conflicts with it all the same
            HeldLocks.Add(new FileStream(Path.Combine(dir, NeuralCore.Cli.RunDirectory.LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read));
    }

    /// <summary>An untrained VAE on 4 x 4 images saved in DIR/vae; returns the directory.</summary>
    private static string ImageVae(string dir)
    {
        string m = Path.Combine(dir, "vae");
        var spec = new ModelSpec { Kind = "vae", InputFeatures = 16, ImageShape = [1, 4, 4], Latent = 2, Hidden = [3], Loss = "bce" };
        ModelStore.Save(ModelFactory.Create(spec, new CpuBackend(), new SeededRandom(0)), m);
        return m;
    }

    /// <summary>Replaces the JSON header of a safetensors file (the length is rewritten, the data kept).</summary>
    private static byte[] Header(byte[] file, Func<string, string> change)
    {
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var json = Encoding.UTF8.GetBytes(change(Encoding.UTF8.GetString(file, 8, length)));
        var result = new byte[8 + json.Length + file.Length - 8 - length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        file.AsSpan(8 + length).CopyTo(result.AsSpan(8 + json.Length));
        return result;
    }

    private static string ReplaceFirst(string text, string what, string with)
    {
        int i = text.IndexOf(what, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{what}' not in {text}");
        return text[..i] + with + text[(i + what.Length)..];
    }

    /// <summary>A checkpoint in DIR after one epoch on DIR/t.csv, with its metadata changed; runs train --resume DIR.</summary>
    private static string[] CheckpointCase(string dir, Action<Dictionary<string, string>> change, string? drop = null, string? poison = null)
    {
        string csv = Path.Combine(dir, "t.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,6\n7,8\n");
        var table = CsvTable.Read(csv);
        var data = NeuralCore.Cli.DataSource.FromTable(table, null, 0);
        var spec = new ModelSpec { Kind = "ae", InputFeatures = 2, Latent = 1, Hidden = [3], Loss = "mse", Columns = data.Columns, Scaler = data.Scaler, Data = csv };
        var trainer = new Trainer(ModelFactory.Create(spec, new CpuBackend(), new SeededRandom(0)), new TrainingOptions { Epochs = 3, BatchSize = 4 });
        var history = new List<EpochMetrics> { trainer.RunEpoch(data.Train, data.TrainCount, data.Test, data.TestCount) };
        string path = Path.Combine(dir, Checkpoint.FileName);
        Checkpoint.Save(path, trainer, history, new Dictionary<string, string> { ["data"] = csv, ["data_sha256"] = DataFingerprint.Sha256(csv) });
        var file = SafeTensors.Read(path);
        var metadata = file.Metadata.ToDictionary();
        change(metadata);
        if (poison != null) file.Tensors[poison].Data[0] = float.NaN;
        SafeTensors.Write(path, file.Names.Where(n => n != drop).Select(n => (n, file.Tensors[n].Shape, file.Tensors[n].Data)).ToList(), metadata);
        return ["train", "--resume", dir, "--quiet"];
    }

    /// <summary>Trains a small table model in DIR/m on DIR/t.csv, then changes one value of the CSV (ranges kept); runs
    /// <paramref name="command"/> on the model without --data.</summary>
    private static string[] TrainedThenChanged(string dir, string command)
    {
        string csv = CsvFile(dir, "a,b\n1,2\n3,4\n5,6\n7,8\n");
        string model = Path.Combine(dir, "m");
        var r = CliRunner.Run("train", "--model", "ae", "--data", csv, "--hidden", "3", "--latent", "1", "--epochs", "1", "--out", model, "--quiet");
        Assert.True(r.ExitCode == 0, r.Error);
        File.WriteAllText(csv, "a,b\n1,2\n3,5\n5,6\n7,8\n");
        return command == "eval" ? ["eval", "--model", model] : [command, "--model", model, "--out", Path.Combine(dir, "s.csv")];
    }

    private static string Snapshot(string dir) => string.Join("\n", Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Order()
        .Select(f => f + " " + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))));
}
