using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Training;

namespace NeuralCore.Cli;

/// <summary>What a command that uses a trained model starts from: --model DIR, the device, the model's description and its data.</summary>
internal sealed record SavedModel(string Directory, IBackend Backend, ModelSpec Spec, Dataset Data)
{
    /// <summary>Opens the device, reads DIR/model.json and loads --data (default: the data the model was trained on).</summary>
    public static SavedModel Open(Args args, ulong seed = 0)
    {
        string dir = args.Get(CommonOptions.ModelDirectory);
        var backend = Devices.Open(args);
        var spec = ModelStore.LoadSpec(dir);
        return new SavedModel(dir, backend, spec, DataSource.Load(args, spec, seed));
    }
}
