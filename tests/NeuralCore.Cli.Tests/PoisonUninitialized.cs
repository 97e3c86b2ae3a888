using System.Runtime.CompilerServices;

namespace NeuralCore.CliTests;

internal static class PoisonUninitialized
{
    // Every test runs with uninitialised CPU buffers filled with NaN, so an op that reads an output it did not write
    // in full fails here instead of passing on memory that happened to be zero.
#pragma warning disable CA2255 // a test assembly's own set-up, not a library's
    [ModuleInitializer]
    internal static void Enable() => Environment.SetEnvironmentVariable("NEURALCORE_POISON_UNINITIALIZED", "1");
#pragma warning restore CA2255
}
