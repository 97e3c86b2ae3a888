using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Autoencoders;

namespace NeuralCore.Models.Tests.Autoencoders;

public class RowInferenceTests
{
    private static (Autoencoder Model, CpuBackend Backend) Model(string kind, int features, int[] hidden, int latent, string loss, int threads)
    {
        var backend = new CpuBackend(threads);
        var spec = new ModelSpec { Kind = kind, InputFeatures = features, Hidden = hidden, Latent = latent, Loss = loss };
        var model = ModelFactory.Create(spec, backend, new SeededRandom(7));
        model.Eval();
        return (model, backend);
    }

    private static float[] Rows(int count, int features, ulong seed)
    {
        var random = new SeededRandom(seed);
        var rows = new float[count * features];
        for (int i = 0; i < rows.Length; i++) rows[i] = random.NextFloat();
        return rows;
    }

    private static float[] Batched(Func<Tensor, Tensor> f, CpuBackend backend, float[] rows, int count, int features)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        return f(Tensor.FromArray(backend, rows, new Shape(count, features))).ToArray();
    }

    [Theory]
    [InlineData("ae", 784, new[] { 400 }, 20, "bce", 1)]      // the MNIST scoring model; k = 784 spans four GEMM k blocks
    [InlineData("ae", 784, new[] { 400 }, 20, "bce", 2)]
    [InlineData("ae", 13, new[] { 64, 64 }, 4, "mse", 2)]      // a table model: no output sigmoid, narrow layers
    [InlineData("vae", 784, new[] { 400 }, 20, "bce", 2)]
    public void EachRow_HasTheBitsOfTheBatchedForward(string kind, int features, int[] hidden, int latent, string loss, int threads)
    {
        var (model, backend) = Model(kind, features, hidden, latent, loss, threads);
        const int count = 70;   // more than one GEMM row strip, and enough flops for the threaded GEMM
        float[] rows = Rows(count, features, 3);
        float[] reconstructed = Batched(model.Forward, backend, rows, count, features);
        float[] codes = Batched(model.Encode, backend, rows, count, features);
        var rowPath = RowInference.Create(model);
        var output = new float[features];
        var code = new float[latent];
        for (int r = 0; r < count; r++)
        {
            var row = rows.AsSpan(r * features, features);
            rowPath.Reconstruct(row, output);
            Assert.Equal(reconstructed.AsSpan(r * features, features).ToArray(), output);
            rowPath.Encode(row, code);
            Assert.Equal(codes.AsSpan(r * latent, latent).ToArray(), code);
        }
        // and a batch of one through the model itself
        Assert.Equal(Batched(model.Forward, backend, rows[..features], 1, features), reconstructed[..features]);
    }

    [Fact]
    public void AfterTheFirstCall_ARowAllocatesNothing()
    {
        var (model, _) = Model("ae", 784, [400], 20, "bce", 2);
        var rowPath = RowInference.Create(model);
        float[] rows = Rows(16, 784, 5);
        var output = new float[784];
        var code = new float[20];
        rowPath.Reconstruct(rows.AsSpan(0, 784), output);
        rowPath.Encode(rows.AsSpan(0, 784), code);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            rowPath.Reconstruct(rows.AsSpan(i % 16 * 784, 784), output);
            rowPath.Encode(rows.AsSpan(i % 16 * 784, 784), code);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ConvolutionalModels_AndWrongSizes_AreRefusedWithTheReason()
    {
        var backend = new CpuBackend(1);
        var conv = ModelFactory.Create(new ModelSpec { Kind = "conv-ae", InputFeatures = 784, ImageShape = [1, 28, 28], Latent = 8 }, backend, new SeededRandom(1));
        Assert.False(RowInference.Supports(conv));
        Assert.Contains("not supported", Assert.Throws<NotSupportedException>(() => RowInference.Create(conv)).Message);

        var (model, _) = Model("ae", 13, [8], 2, "mse", 1);
        var rowPath = RowInference.Create(model);
        var e = Assert.Throws<ArgumentException>(() => rowPath.Reconstruct(new float[12], new float[13]));
        Assert.Contains("row holds 12 values, the model needs 13", e.Message);
    }
}
