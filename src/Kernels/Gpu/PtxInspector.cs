using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NeuralCore.Kernels.Gpu.Kernels;

namespace NeuralCore.Kernels.Gpu;

/// <summary>
/// Compiles the backend's kernels to NVIDIA PTX on any machine, no GPU or driver needed, with the options the
/// CUDA accelerator uses (O2). For reading what a kernel turns into: vector loads (<c>ld.shared.v4.f32</c>),
/// spills (<c>.local</c>), instruction counts. <c>neuralcore ptx --kernel Gemm128Vector</c> prints it.
/// <code>
/// string ptx = PtxInspector.Compile("Gemm128Vector");            // SM_90 (H100/H200), PTX ISA 8.8
/// var counts = PtxInspector.CountInstructions(ptx);             // e.g. counts["ld.shared.v4.f32"] == 4
/// </code>
/// </summary>
public static class PtxInspector
{
    private static readonly Type[] KernelClasses =
        [typeof(GemmKernels), typeof(ElementwiseKernels), typeof(ReductionKernels), typeof(ConvolutionKernels), typeof(IndexingKernels)];

    /// <summary>Every kernel's name: the C# method name (e.g. "Gemm128Vector"), with the op for the op kernels (e.g. "Unary&lt;Gelu&gt;").</summary>
    public static IReadOnlyList<string> KernelNames => [.. Kernels().Select(k => k.Name).Order(StringComparer.Ordinal)];

    /// <summary>The PTX of kernel <paramref name="name"/> for compute capability <paramref name="major"/>.<paramref name="minor"/>.</summary>
    public static string Compile(string name, int major = 9, int minor = 0)
    {
        var method = Kernels().FirstOrDefault(k => string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase)).Method
            ?? throw new ArgumentException($"unknown kernel '{name}'; choose one of {string.Join(", ", KernelNames)}", nameof(name));
        var architecture = new CudaArchitecture(major, minor);
        using var context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O2).EnableAlgorithms());
        var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, CudaInstructionSet.ISA_88, null);
        // kernels whose first parameter is an index are launched auto-grouped; the others take an explicit group size
        var entry = method.GetParameters()[0].ParameterType == typeof(Index1D)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
            : EntryPointDescription.FromExplicitlyGroupedKernel(method);
        return ((PTXCompiledKernel)backend.Compile(entry, default)).PTXAssembly;
    }

    /// <summary>How often each instruction (opcode with its modifiers, e.g. "ld.global.v4.f32") occurs in <paramref name="ptx"/>.</summary>
    public static SortedDictionary<string, int> CountInstructions(string ptx)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string raw in ptx.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '.' or '/' or '{' or '}' || line.EndsWith(':')) continue;
            if (line[0] == '@') line = line[(line.IndexOf(' ') + 1)..];   // predicate guard
            int end = line.IndexOfAny([' ', '\t', ';']);
            string opcode = end < 0 ? line : line[..end];
            if (opcode.Length == 0 || !char.IsLetter(opcode[0])) continue;
            counts[opcode] = counts.GetValueOrDefault(opcode) + 1;
        }
        return counts;
    }

    /// <summary>Every kernel; a kernel generic over an op's operator once per op, named e.g. "Unary&lt;Sigmoid&gt;".</summary>
    private static IEnumerable<(string Name, MethodInfo Method)> Kernels() =>
        KernelClasses.SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Length > 0)
            .SelectMany(m => m.IsGenericMethodDefinition
                ? OperatorTypes(m.GetGenericArguments()[0]).Select(op => ($"{m.Name}<{op.Name}>", m.MakeGenericMethod(op.Type)))
                : [(m.Name, m)]);

    private static IEnumerable<(string Name, Type Type)> OperatorTypes(Type parameter)
    {
        var constraint = parameter.GetGenericParameterConstraints().Single(c => c.IsInterface);
        var finder = new TypeFinder();
        if (constraint == typeof(IUnaryOperator))
            foreach (var op in Enum.GetValues<UnaryOp>()) { UnaryOperators.Visit(op, ref finder); yield return (op.ToString(), finder.Type!); }
        else if (constraint == typeof(IBinaryOperator))
            foreach (var op in Enum.GetValues<BinaryOp>()) { BinaryOperators.Visit(op, ref finder); yield return (op.ToString(), finder.Type!); }
        else
            foreach (var kind in Enum.GetValues<LossKind>()) { LossOperators.Visit(kind, ref finder); yield return (kind.ToString(), finder.Type!); }
    }

    private struct TypeFinder : IUnaryOperatorVisitor, IBinaryOperatorVisitor, ILossOperatorVisitor
    {
        public Type? Type;
        void IUnaryOperatorVisitor.Visit<TOp>() => Type = typeof(TOp);
        void IBinaryOperatorVisitor.Visit<TOp>() => Type = typeof(TOp);
        void ILossOperatorVisitor.Visit<TOp>() => Type = typeof(TOp);
    }
}
