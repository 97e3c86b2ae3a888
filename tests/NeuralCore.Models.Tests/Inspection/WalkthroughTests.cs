using NeuralCore;
using NeuralCore.Kernels.Reference;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Layers;

namespace NeuralCore.Models.Tests.Inspection;

[CollectionDefinition("console", DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>
/// Runs docs/gradients-walkthrough.md: every ```csharp block of the walkthrough appears verbatim in this file
/// (indentation aside), the code below runs them in order, and every ```text block (printed output) must
/// appear in what they print. The numbers the text claims are asserted too.
/// </summary>
[Collection("console")]
public class WalkthroughTests
{
    private static readonly string DocPath = RepoData.Path("docs/gradients-walkthrough.md");

    [Fact]
    public void EveryCodeBlockOfTheWalkthrough_IsInThisFile()
    {
        var source = DocBlocks.NonEmptyTrimmedLines(File.ReadAllText(RepoData.Path("tests/NeuralCore.Models.Tests/Inspection/WalkthroughTests.cs")));
        var blocks = DocBlocks.Blocks(File.ReadAllText(DocPath), "csharp");
        Assert.True(blocks.Count >= 4, $"only {blocks.Count} csharp blocks");
        foreach (var block in blocks)
        {
            var lines = DocBlocks.NonEmptyTrimmedLines(block);
            bool found = Enumerable.Range(0, source.Count - lines.Count + 1).Any(start => lines.SequenceEqual(source.Skip(start).Take(lines.Count)));
            Assert.True(found, "this block of the walkthrough is not in WalkthroughTests.cs:\n" + block);
        }
    }

    [Fact]
    public void TheWalkthroughRuns_PrintsWhatItShows_AndTheKlGradientIsMuAndHalfExpLogVarMinusOne()
    {
        var oldOut = Console.Out;
        var printed = new StringWriter();
        Console.SetOut(printed);
        string dir = Directory.CreateTempSubdirectory("neuralcore-walkthrough").FullName;
        string oldDir = Environment.CurrentDirectory;
        Environment.CurrentDirectory = dir;
        try
        {
            // ---- part 1: the autoencoder
            var backend = new ReferenceBackend();                 // naive loops with double sums: the same digits on every machine
            var random = new SeededRandom(7);

            // 16 points on the unit sphere: a 2-D surface in 3-D
            var points = new float[16 * 3];
            random.FillNormal(points, 0f, 1f);
            for (int i = 0; i < 16; i++)
            {
                var p = points.AsSpan(3 * i, 3);
                float norm = MathF.Sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
                for (int j = 0; j < 3; j++) p[j] /= norm;
            }
            var x = Tensor.FromArray(backend, points, 16, 3);        // [batch 16, features 3]

            var encoder = new Sequential(new Linear(backend, random, 3, 2), new Tanh());   // 3 -> 2
            var decoder = new Sequential(new Linear(backend, random, 2, 3));               // 2 -> 3
            var code = encoder.Call(x, "encoder");                   // [16, 2]: the bottleneck
            var loss = decoder.Call(code, "decoder").MseLoss(x, Reduction.Sum);

            static string Show(float[] values) => string.Join("  ", values.Select(v => v.ToString("+0.0000;-0.0000")));

            GraphExport.RetainAll(loss);          // keep the gradient of every intermediate tensor
            loss.Backward(retainGraph: true);     // keep the graph itself for the export
            var names = encoder.NamedParameters("encoder.").Concat(decoder.NamedParameters("decoder."));
            var graph = GraphExport.Capture(loss, names);
            File.WriteAllText("ae.dot", graph.ToDot("3 -> 2 -> 3 autoencoder on the sphere"));
            Console.WriteLine($"{graph.OpCount} ops, {graph.ParameterCount} parameters, {graph.ConstantCount} constant; loss {loss.Item():F4}");
            Console.WriteLine($"dL/dcode, first point: {Show(code.Grad!.ToArray()[..2])}");
            Console.WriteLine($"dL/d encoder.0.weight: {Show(encoder.Parameters()[0].Grad!.ToArray())}");

            Assert.Equal((6, 4, 1), (graph.OpCount, graph.ParameterCount, graph.ConstantCount));
            Assert.StartsWith("digraph", File.ReadAllText("ae.dot"));
            Assert.Contains("encoder.0.weight", File.ReadAllText("ae.dot"));
            // the code's gradient is what the decoder sends back: 2 (y - x) W_dec, summed over the outputs
            var y = decoder.Call(code.Detach()).ToArray();
            var wDec = decoder.Parameters()[0].ToArray();           // [3, 2]
            for (int k = 0; k < 2; k++)
            {
                double expected = 0;
                for (int o = 0; o < 3; o++) expected += 2 * (y[o] - points[o]) * wDec[o * 2 + k];
                Assert.Equal(expected, code.Grad!.ToArray()[k], 5);
            }

            // ---- part 2: the VAE
            var spec = new ModelSpec { Kind = "vae", InputFeatures = 3, Hidden = [4], Latent = 2, Loss = "mse" };
            var vae = (VariationalAutoencoder)ModelFactory.Create(spec, backend, new SeededRandom(3));

            // catch mu and log-variance as the heads produce them, and keep their gradients
            Tensor? mu = null, logVar = null;
            using var muHook = vae.MuHead.RegisterForwardHook((_, _, output) => mu = output.RetainGrad());
            using var logVarHook = vae.LogVarHead.RegisterForwardHook((_, _, output) => logVar = output.RetainGrad());
            using var backwardHook = vae.MuHead.RegisterBackwardHook((_, g) => Console.WriteLine($"backward hook: gradient at mu, L2 {TensorStatistics.Of(g).L2Norm:F4}"));

            var parts = vae.ComputeLoss(x, new SeededRandom(11));   // z = mu + exp(logvar / 2) * eps; the seed fixes eps
            File.WriteAllText("vae-before.dot", GraphExport.ToDot(parts.Total, vae.NamedParameters(), "VAE before backward"));

            parts.Reconstruction.Backward(retainGraph: true);       // beta = 0: reconstruction only
            var muGrad0 = mu!.Grad!.ToArray();
            var logVarGrad0 = logVar!.Grad!.ToArray();

            mu.ZeroGrad();
            logVar.ZeroGrad();
            parts.Total.Backward(retainGraph: true);                // beta = 1: reconstruction + KL, same graph, same eps
            var muGrad1 = mu.Grad!.ToArray();
            var logVarGrad1 = logVar.Grad!.ToArray();
            var vaeNames = vae.NamedParameters().Append(("mu", mu)).Append(("logvar", logVar));
            File.WriteAllText("vae.dot", GraphExport.ToDot(parts.Total, vaeNames, "VAE after backward (beta = 1)"));

            var muValues = mu.ToArray();
            var logVarValues = logVar.ToArray();
            var klOnMu = muGrad1.Zip(muGrad0, (a, b) => a - b).ToArray();
            var klOnLogVar = logVarGrad1.Zip(logVarGrad0, (a, b) => a - b).ToArray();
            var halfExpMinusOne = logVarValues.Select(v => 0.5f * (MathF.Exp(v) - 1f)).ToArray();
            Console.WriteLine($"mu                  {Show(muValues[..4])}");
            Console.WriteLine($"dL/dmu   beta=0     {Show(muGrad0[..4])}");
            Console.WriteLine($"dL/dmu   beta=1     {Show(muGrad1[..4])}");
            Console.WriteLine($"KL part             {Show(klOnMu[..4])}");
            Console.WriteLine($"logvar              {Show(logVarValues[..4])}");
            Console.WriteLine($"dL/dlogvar beta=0   {Show(logVarGrad0[..4])}");
            Console.WriteLine($"dL/dlogvar beta=1   {Show(logVarGrad1[..4])}");
            Console.WriteLine($"KL part             {Show(klOnLogVar[..4])}");
            Console.WriteLine($"0.5 (exp(logvar)-1) {Show(halfExpMinusOne[..4])}");

            // what the walkthrough claims: the KL term adds exactly mu and 0.5 (exp(logvar) - 1), on every row
            Assert.Equal(32, klOnMu.Length);
            for (int i = 0; i < klOnMu.Length; i++)
            {
                Assert.Equal(muValues[i], klOnMu[i], 5);
                Assert.Equal(halfExpMinusOne[i], klOnLogVar[i], 5);
            }
            Assert.Contains("no gradients yet", File.ReadAllText("vae-before.dot"));
            Assert.Contains("reparameterize", File.ReadAllText("vae.dot"));
            Assert.Contains("add (mu)", File.ReadAllText("vae.dot"));

            // ---- part 4: the same numbers in PyTorch
            var torchRandom = SeededRandom.PyTorch(0);                  // torch.manual_seed(0)
            var layer = new Linear(backend, torchRandom, 4, 3);         // nn.Linear(4, 3): weight, then bias
            var input = Tensor.Normal(backend, torchRandom, 0f, 1f, 2, 4);   // torch.randn(2, 4)
            var prediction = layer.Call(input, "layer");
            var squares = prediction.Mul(prediction).Sum();             // (lin(x) ** 2).sum()
            squares.Backward();
            Console.WriteLine($"weight       {Show(layer.Weight.ToArray()[..4])}");
            Console.WriteLine($"x            {Show(input.ToArray()[..4])}");
            Console.WriteLine($"loss         {squares.Item():F4}");
            Console.WriteLine($"dL/dweight   {Show(layer.Weight.Grad!.ToArray()[..4])}");
            Console.WriteLine($"dL/dbias     {Show(layer.Bias!.Grad!.ToArray())}");

            // ---- part 5: through the quantiser of a VQ-VAE
            var quantizer = new VectorQuantizer(backend, new SeededRandom(0),
                new VqSettings { CodebookSize = 3, CodeDim = 2, Update = "loss", DeadCodeSteps = 0 });
            quantizer.Codebook.CopyFrom([1f, 0f, 0f, 1f, -1f, -1f]);             // three codes: e0, e1, e2
            var z = Tensor.FromArray(backend, [0.9f, 0.2f, 0.1f, 0.7f, -0.6f, -0.9f, 0.6f, 0.5f], 4, 2);   // 4 encoder outputs
            z.RequiresGrad = true;
            var target = Tensor.FromArray(backend, [1f, 0f, 0f, 1f, -1f, -1f, 1f, 1f], 4, 2);
            var q = quantizer.Quantize(z);                            // nearest code of each row, straight-through
            q.Quantized.RetainGrad();
            var reconstruction = q.Quantized.Mul(2f).MseLoss(target, Reduction.Sum);   // a stand-in decoder: x_hat = 2 e
            reconstruction.Backward();
            Console.WriteLine($"codes chosen          {string.Join("  ", q.Indices)}");
            Console.WriteLine($"quantized             {Show(q.Quantized.ToArray())}");
            Console.WriteLine($"dL/dquantized         {Show(q.Quantized.Grad!.ToArray())}");
            Console.WriteLine($"dL/dz  reconstruction {Show(z.Grad!.ToArray())}");
            Console.WriteLine($"dL/dcodebook          {(quantizer.Codebook.Grad == null ? "none" : Show(quantizer.Codebook.Grad.ToArray()))}");

            var straightThrough = z.Grad!.ToArray();
            z.Grad = null;
            q.Commitment.Backward();                                  // 0.25 mean((z - sg[e])^2)
            q.CodebookLoss!.Backward();                               // mean((sg[z] - e)^2)
            Console.WriteLine($"dL/dz  commitment     {Show(z.Grad!.ToArray())}");
            Console.WriteLine($"dL/dcodebook          {Show(quantizer.Codebook.Grad!.ToArray())}");

            // the straight-through gradient is the decoder's, unchanged; commitment is beta 2 (z - e) / numel, the
            // codebook's gradient 2 (e - z) / numel summed over the rows that chose each code
            Assert.Equal(q.Quantized.Grad!.ToArray(), straightThrough);
            var zv = z.ToArray();
            var ev = q.Quantized.ToArray();
            var commitment = z.Grad!.ToArray();
            var codebookGrad = new float[6];
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(0.25f * 2f * (zv[i] - ev[i]) / 8f, commitment[i], 1e-6f);
                codebookGrad[q.Indices[i / 2] * 2 + i % 2] += 2f * (ev[i] - zv[i]) / 8f;
            }
            var codebookActual = quantizer.Codebook.Grad!.ToArray();
            for (int i = 0; i < 6; i++) Assert.Equal(codebookGrad[i], codebookActual[i], 1e-6f);
        }
        finally
        {
            Console.SetOut(oldOut);
            Environment.CurrentDirectory = oldDir;
        }

        string output = printed.ToString().ReplaceLineEndings("\n");
        File.WriteAllText(Path.Combine(dir, "output.txt"), output);
        foreach (var block in DocBlocks.Blocks(File.ReadAllText(DocPath), "text"))
            Assert.True(output.Contains(block.Trim(), StringComparison.Ordinal),
                $"the walkthrough shows output the code does not print:\n{block}\n--- printed:\n{output}");
    }
}
