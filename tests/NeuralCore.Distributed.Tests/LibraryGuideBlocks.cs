using NeuralCore.Distributed;
using NeuralCore.Kernels;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Distributed.Tests;

/// <summary>
/// The MPI block of docs/library.md, compiled against the packages' API (the guide test in NeuralCore.Models.Tests
/// looks for it here; it runs only under mpirun, which MpiTrainingTests drive through the command line).
/// </summary>
internal static class LibraryGuideBlocks
{
    internal static TrainingRunResult TrainOnEveryProcess(ModelSpec spec, IBackend backend, TrainingOptions options, IdxImages train, IdxImages test)
    {
        using var world = MpiWorld.Start();
        var trainer = Trainer.ForNewModel(spec, backend, options with { GradientShards = 6 });
        trainer.GradientReducer = world.CreateReducer();
        var run = TrainingRun.Fit(trainer, train.Pixels, train.Count, test.Pixels, test.Count, "digits-vae");
        world.Finish();   // on an exception: world.Abort(1), which stops every process
        return run;
    }
}
