using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore eval</c>: test loss per sample of a saved model (and denoising quality for a DAE).</summary>
internal static class EvalCommand
{
    public static CliCommand Create() => new CliCommand("eval", "test loss of a saved model (and denoising quality)", Run)
    {
        Title = "evaluate a saved model on the test split",
        Usage = ["--model DIR [--data SOURCE] [--seed N] [--device NAME]"],
        Notes = """
            prints the test loss per sample (summed BCE + KL for a VAE); for a denoising model also the mean squared
            error of noisy inputs and of their denoised reconstructions against the clean images; for a VQ-VAE the
            reconstruction MSE per pixel, the codebook perplexity and, once `train-prior` has run, the prior's NLL in
            nats per code.
            """,
    }.With([CommonOptions.ModelDirectory, .. CommonOptions.DataOptions, CommonOptions.Seed, .. CommonOptions.DeviceOptions]);

    private static int Run(Args args)
    {
        ulong seed = (ulong)args.Get(CommonOptions.Seed);
        var (dir, backend, spec, data) = SavedModel.Open(args, seed);
        var model = ModelStore.Load(dir, backend);
        var e = Trainer.Evaluate(model, data.Test, data.TestCount, 500, seed);
        Console.WriteLine($"model {spec.Kind} from {dir} on {data.Description} ({data.TestCount} test rows)");
        Console.WriteLine($"test loss per sample: {e.Loss:F4}" + (spec.IsVariational ? $" (reconstruction {e.Reconstruction:F4} + KL {e.Kl:F4})" : ""));
        if (model is VqVae vq)
        {
            Console.WriteLine($"reconstruction MSE per pixel: {e.Reconstruction / spec.InputFeatures:F5}");
            Console.WriteLine($"codebook perplexity: {e.Perplexity:F2} ({e.CodesUsed} of {vq.CodebookSize} codes used; entropy {Math.Log(e.Perplexity ?? 1):F4} nats)");
            if (File.Exists(Path.Combine(dir, PriorTraining.WeightsFile)))
            {
                var prior = PriorTraining.Load(dir, backend);
                double nll = prior.Nll(vq.CodesOf(data.Test, data.TestCount));
                double entropy = Math.Log(e.Perplexity ?? 1);
                Console.WriteLine($"prior NLL: {nll:F4} nats per code ({nll * vq.Cells / Math.Log(2):F1} bits per image" +
                                  (entropy > 0 ? $"; {nll / entropy:F3} x the code entropy)" : "; the test split uses a single code)"));
            }
            else Console.WriteLine($"prior NLL: no prior in {dir} (train one with `neuralcore train-prior --model {dir}`)");
        }
        if (spec.IsDenoising)
        {
            var d = Denoising.Measure(model, data.Test, data.TestCount, seed);
            Console.WriteLine($"denoising ({spec.Noise} {spec.NoiseLevel}): noisy input MSE {d.NoisyMse:F5}, denoised MSE {d.DenoisedMse:F5}, {d.Improvement:F2}x closer to the clean data");
        }
        return 0;
    }
}
