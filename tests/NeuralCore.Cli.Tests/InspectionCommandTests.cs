using System.Text.RegularExpressions;
using NeuralCore.Cli;
using NeuralCore.Cli.Commands;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.CliTests;

/// <summary>`neuralcore graph`, `neuralcore gradcheck` and `neuralcore ptx`.</summary>
public class InspectionCommandTests
{
    private static int NodeCount(string dot) => Regex.Matches(dot, @"^\s*n\d+ \[label=", RegexOptions.Multiline).Count;

    private static void AssertParses(string dot)
    {
        Assert.StartsWith("digraph", dot);
        int depth = 0;
        foreach (char c in dot)
        {
            depth += c == '{' ? 1 : c == '}' ? -1 : 0;
            Assert.True(depth >= 0, "a '}' closes nothing");
        }
        Assert.Equal(0, depth);
        Assert.EndsWith("}", dot.TrimEnd());
    }

    [Fact]
    public void Graph_Vae_WritesADotWithEveryOpParameterAndGradient()
    {
        string dir = CliRunner.TempDir();
        string dot = Path.Combine(dir, "vae.dot");
        var r = CliRunner.Run("graph", "--model", "vae", "--out", dot, "--batch", "2", "--latent", "4", "--hidden", "16");
        Assert.True(r.ExitCode == 0, r.Error);
        string text = File.ReadAllText(dot);
        AssertParses(text);
        // 20 ops (encoder 3, mu 2, logvar 2, reparameterize 4, decoder 6, bce, kl, add), 10 parameters, 2 constants (batch, eps)
        Assert.True(NodeCount(text) >= 32, $"{NodeCount(text)} nodes");
        Assert.Equal(20.0, CliRunner.NumberAfter(r.Out, "vae loss:"));
        Assert.Equal(10.0, CliRunner.NumberAfter(r.Out, "ops,"));
        foreach (var name in new[] { "encoder.0.weight", "mu.bias", "logvar.weight", "decoder.2.bias", "gaussian_kl", "bce_loss", "reparameterize", "input batch" })
            Assert.Contains(name, text);
        Assert.Contains("grad:", text);
        Assert.DoesNotContain("no gradients yet", text);
        Assert.Contains("wrote " + dot, r.Out);
        // an SVG when Graphviz is installed, otherwise a hint how to get it
        if (File.Exists(Path.ChangeExtension(dot, ".svg"))) Assert.Contains("<svg", File.ReadAllText(Path.ChangeExtension(dot, ".svg")));
        else Assert.Contains("apt-get install graphviz", r.Out);
    }

    [Fact]
    public void Graph_NoBackward_SaysThereAreNoGradients()
    {
        string dot = Path.Combine(CliRunner.TempDir(), "ae.dot");
        var r = CliRunner.Run("graph", "--model", "ae", "--out", dot, "--no-backward", "--hidden", "8");
        Assert.True(r.ExitCode == 0, r.Error);
        string text = File.ReadAllText(dot);
        AssertParses(text);
        Assert.Contains("no gradients yet: run Backward(retainGraph: true) first", text);
        Assert.DoesNotContain("grad:", text);
        Assert.True(NodeCount(text) >= 11 + 8, $"{NodeCount(text)} nodes");   // 11 ops, 6 parameters, the batch
    }

    [Fact]
    public void Graph_OfASavedModelDirectory_UsesItsParameterNames()
    {
        string dir = CliRunner.TempDir();
        var spec = new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 3, Data = "mnist" };
        ModelStore.Save(ModelFactory.Create(spec, new NeuralCore.Kernels.Reference.ReferenceBackend(), new SeededRandom(1)), dir);
        string dot = Path.Combine(dir, "g.dot");
        var r = CliRunner.Run("graph", "--model", dir, "--out", dot, "--batch", "1");
        Assert.True(r.ExitCode == 0, r.Error);
        string text = File.ReadAllText(dot);
        AssertParses(text);
        Assert.Contains("conv2d", text);
        Assert.Contains("conv_transpose2d", text);
        Assert.Contains("decoder.3.weight", text);
    }

    [Fact]
    public void Graph_RejectsAnUnknownModel_InOneLine()
    {
        var r = CliRunner.Run("graph", "--model", "nosuch");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error: graph: --model 'nosuch'", r.Error);
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.Contains("usage: neuralcore graph", CliRunner.Run("graph", "--help").Out);
    }

    [Fact]
    public void GradCheck_OneOp_PrintsATableAndPasses()
    {
        var r = CliRunner.Run("gradcheck", "--op", "matmul", "--device", "reference");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("check", r.Out);
        Assert.Contains("max abs err | max rel err | result", r.Out);
        Assert.Equal(4, Regex.Matches(r.Out, @"^matmul .*\| pass$", RegexOptions.Multiline).Count);
        Assert.Contains("all 4 checks passed", r.Out);
    }

    [Fact]
    public void GradCheck_Layers_PassOnTheCpuBackend()
    {
        var r = CliRunner.Run("gradcheck", "--op", "vae-loss");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("gradient checks on cpu: 2 checks", r.Out);
    }

    [Fact]
    public void GradCheck_FailsWithExitCode1_OnAWrongBackward()
    {
        var broken = new GradCheckCase("broken_exp", "broken_exp (2x gradient)", b =>
        {
            var x = Tensor.Uniform(b, new SeededRandom(30), 0.5f, 2f, 2, 3);
            x.RequiresGrad = true;
            return new GradCheckProblem(() =>
            {
                Tensor y;
                using (Autograd.NoGrad()) y = x.Exp();
                return Autograd.Record(y, "broken_exp", [x], (dy, gradOf) =>
                {
                    if (gradOf(x) is not { } dx) return;
                    b.UnaryBackward(UnaryOp.Exp, x.Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
                    b.UnaryBackward(UnaryOp.Exp, x.Buffer, y.Buffer, dy.Buffer, dx.Buffer, y.Count);
                });
            }, [x]);
        });
        var r = CliRunner.Capture(() => GradCheckCommand.Run(Cli.Cli.Parse("gradcheck", "--op", "broken_exp", "--device", "reference"), [broken]));
        int code = r.ExitCode;
        Assert.Equal(1, code);
        Assert.Matches(@"broken_exp \(2x gradient\)\s+\|.*\| FAIL \(input 0\[\d+\]: analytic", r.Out);
        Assert.Equal("error: 1 of 1 gradient checks failed: broken_exp (2x gradient)", r.Error.Trim());
    }

    [Fact]
    public void GradCheck_UnknownOp_IsAUsageError()
    {
        var r = CliRunner.Run("gradcheck", "--op", "nosuch");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no gradient check named 'nosuch'", r.Error);
        Assert.Contains("conv_transpose2d", r.Error);
    }

    [Fact]
    public void Ptx_CountsTheVectorGemmsSixteenByteLoads_AndWritesAFile()
    {
        var r = CliRunner.Run("ptx", "--kernel", "Gemm128Vector", "--counts");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"(?m)^\s*4  ld\.shared\.v4\.f32$", r.Out);

        string file = Path.Combine(CliRunner.TempDir(), "adam.ptx");
        r = CliRunner.Run("ptx", "--kernel", "adam", "--out", file);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains(".entry", File.ReadAllText(file));

        r = CliRunner.Run("ptx", "--list");
        Assert.Contains("Gemm128Vector", r.Out);
    }

    [Theory]
    [InlineData("--kernel", "Gemm256")]
    [InlineData("--kernel", "Gemm64", "--sm", "nine")]
    [InlineData("--counts")]
    public void Ptx_BadArguments_AreOneLineUsageErrors(params string[] args)
    {
        var r = CliRunner.Run(["ptx", .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.StartsWith("error: ", r.Error);
    }
}
