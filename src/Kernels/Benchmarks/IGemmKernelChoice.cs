namespace NeuralCore.Kernels.Benchmarks;

/// <summary>
/// A backend with more than one GEMM kernel (e.g. the ILGPU backend's 64x64, 128x128 and 128x128 vector tiles)
/// lets benchmarks time each one at the same size, next to its own automatic choice.
/// </summary>
public interface IGemmKernelChoice
{
    /// <summary>Names of the kernels that <see cref="ForcedGemmKernel"/> accepts.</summary>
    IReadOnlyList<string> GemmKernels { get; }

    /// <summary>The kernel every GEMM uses from now on (where its shape allows), or null to choose by shape.</summary>
    string? ForcedGemmKernel { get; set; }
}
