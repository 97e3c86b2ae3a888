namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// What the GPU kernels compile to, checked without a GPU: the PTX that ILGPU generates for SM_90 (H100/H200).
/// Guards properties a refactoring could silently lose, such as the vector GEMM's 16-byte accesses.
/// </summary>
public sealed class PtxInspectorTests
{
    [Fact]
    public void VectorGemm_Uses16ByteAccesses_AndNoLocalMemory()
    {
        var counts = PtxInspector.CountInstructions(PtxInspector.Compile("Gemm128Vector"));
        // per k-step of 8: 2 x 4 shared-memory vector loads per thread (a0, a1, b0, b1 for each k)
        Assert.Equal(32, counts.GetValueOrDefault("ld.shared.v4.f32"));
        Assert.Equal(0, counts.GetValueOrDefault("ld.shared.f32"));
        Assert.True(counts.GetValueOrDefault("ld.global.v4.f32") >= 4, "global loads of A and B should be 16-byte");
        Assert.True(counts.GetValueOrDefault("st.global.v4.f32") >= 16, "stores to C should be 16-byte");
        Assert.DoesNotContain(counts.Keys, op => op.Contains(".local"));
        // 64 multiply-adds per k, 8 k per step (ILGPU emits mul + add; ptxas contracts them into FFMA)
        Assert.True(counts.GetValueOrDefault("mul.f32") >= 512, $"mul.f32: {counts.GetValueOrDefault("mul.f32")}");
    }

    [Fact]
    public void ScalarGemm_LoadsSharedMemoryOneFloatAtATime()
    {
        // the contrast that motivated the vector kernel: 16 scalar shared loads per k (not unrolled by ILGPU)
        var counts = PtxInspector.CountInstructions(PtxInspector.Compile("Gemm128"));
        Assert.Equal(0, counts.GetValueOrDefault("ld.shared.v4.f32"));
        Assert.Equal(16, counts.GetValueOrDefault("ld.shared.f32"));
    }

    [Fact]
    public void EveryKernel_Compiles()
    {
        Assert.True(PtxInspector.KernelNames.Count >= 18, string.Join(", ", PtxInspector.KernelNames));
        foreach (string name in PtxInspector.KernelNames)
            Assert.Contains(".entry", PtxInspector.Compile(name));
    }

    [Fact]
    public void UnknownKernel_NamesTheChoices()
    {
        var e = Assert.Throws<ArgumentException>(() => PtxInspector.Compile("Gemm256"));
        Assert.Contains("Gemm128Vector", e.Message);
    }

    [Fact]
    public void CountInstructions_ReadsOpcodesWithModifiers_AndSkipsDirectivesAndLabels()
    {
        const string ptx = ".version 8.0\n.target sm_90\n{\n\tld.param.b64\t%rd1, [a];\nL_1:\n\t@%p1 bra.uni\tL_1;\n\tadd.f32\t%f1, %f2, %f3;\n\tadd.f32\t%f4, %f1, %f1;\n\tret;\n}\n";
        var counts = PtxInspector.CountInstructions(ptx);
        Assert.Equal(new[] { "add.f32", "bra.uni", "ld.param.b64", "ret" }, counts.Keys);
        Assert.Equal(2, counts["add.f32"]);
    }
}
