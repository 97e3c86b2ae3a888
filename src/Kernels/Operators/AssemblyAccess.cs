using System.Runtime.CompilerServices;

// The GPU backend compiles its kernels from the operators in src/Kernels/Operators; ILGPU's CPU accelerator runs
// them from a dynamic assembly that must see those internal types too.
[assembly: InternalsVisibleTo("NeuralCore.Kernels.Gpu")]
[assembly: InternalsVisibleTo("ILGPURuntime")]
