using NeuralCore.Models.Applications;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli.Commands;

/// <summary><c>neuralcore eval</c>: test loss per sample of a saved model (and denoising quality for a DAE).</summary>
internal static class EvalCommand
{
    public const string Help = """
        neuralcore eval - evaluate a saved model on the test split

        usage: neuralcore eval --model DIR [--data SOURCE] [--seed N] [--device NAME]

          --model DIR         a directory written by `neuralcore train`
          --data SOURCE       mnist, a directory of IDX files, or FILE.csv (all rows are scored); default: the data the
                              model was trained on (for a table: its file, minus the columns the model does not use)
            --drop COLS         CSV: columns to ignore
          --seed N            seed of the VAE's latent sampling and the denoising noise (default 0)
          --device NAME       cpu (default) | reference | cuda | opencl | ilgpu-cpu
          --threads N         CPU threads with --device cpu (default: every core)

        prints the test loss per sample (summed BCE + KL for a VAE); for a denoising model also the mean squared
        error of noisy inputs and of their denoised reconstructions against the clean images.
        """;

    public static int Run(CommandLine cl)
    {
        string dir = cl.Required("model");
        ulong seed = (ulong)cl.Int("seed", 0, 0);
        var backend = Devices.Open(cl);
        var spec = ModelStore.LoadSpec(dir);
        var data = DataSource.Load(cl, spec, seed);
        cl.RejectUnknown();
        var model = ModelStore.Load(dir, backend);
        var e = Trainer.Evaluate(model, data.Test, data.TestCount, 500, seed);
        Console.WriteLine($"model {spec.Kind} from {dir} on {data.Description} ({data.TestCount} test rows)");
        Console.WriteLine($"test loss per sample: {e.Loss:F4}" + (spec.IsVariational ? $" (reconstruction {e.Reconstruction:F4} + KL {e.Kl:F4})" : ""));
        if (spec.IsDenoising)
        {
            var d = Denoising.Measure(model, data.Test, data.TestCount, seed);
            Console.WriteLine($"denoising ({spec.Noise} {spec.NoiseLevel}): noisy input MSE {d.NoisyMse:F5}, denoised MSE {d.DenoisedMse:F5}, {d.Improvement:F2}x closer to the clean data");
        }
        return 0;
    }
}
