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
        // the k-step loop body: a0, a1, b0, b1 as 16-byte shared loads for 64 multiply-adds (Gemm128: 16 scalar loads)
        Assert.Equal(4, counts.GetValueOrDefault("ld.shared.v4.f32"));
        Assert.Equal(0, counts.GetValueOrDefault("ld.shared.f32"));
        Assert.True(counts.GetValueOrDefault("ld.global.v4.f32") >= 4, "global loads of A and B should be 16-byte");
        Assert.True(counts.GetValueOrDefault("st.global.v4.f32") >= 16, "stores to C should be 16-byte");
        Assert.DoesNotContain(counts.Keys, op => op.Contains(".local"));
        // 64 multiply-adds per k (ILGPU emits mul + add; ptxas contracts them into FFMA)
        Assert.True(counts.GetValueOrDefault("mul.f32") >= 64, $"mul.f32: {counts.GetValueOrDefault("mul.f32")}");
    }

    [Theory]
    [InlineData("Gemm64")]
    [InlineData("Gemm128")]
    [InlineData("Gemm128Vector")]
    public void GemmTileReads_StayBetweenTheBarriers(string kernel)
    {
        // Each k-step stores a tile, waits (bar.sync), reads it, and waits again before the next store. If the reads
        // were placed after the second barrier (ILGPU 1.5.3 did that to straight-line code), a fast warp could
        // overwrite the tile while a slow one still reads it. In ILGPU's block order the reads then sit between
        // the first and the last bar.sync of the kernel's text.
        var lines = PtxInspector.Compile(kernel).Split('\n');
        int[] barriers = [.. Enumerable.Range(0, lines.Length).Where(i => lines[i].Contains("bar.sync"))];
        int[] reads = [.. Enumerable.Range(0, lines.Length).Where(i => lines[i].Contains("ld.shared"))];
        Assert.Equal(2, barriers.Length);
        Assert.NotEmpty(reads);
        Assert.All(reads, r => Assert.InRange(r, barriers[0], barriers[1]));
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
    public void EveryKernel_CallsNoExternalFunction()
    {
        // a .NET method ILGPU has no PTX for (MathF.FusedMultiplyAdd, for one) compiles to a call of an external
        // function that nothing defines: the PTX builds here, and a GPU driver refuses to load it
        var unresolved = PtxInspector.KernelNames.Where(name => PtxInspector.Compile(name).Contains(".extern .func", StringComparison.Ordinal)).ToList();
        Assert.Empty(unresolved);
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
