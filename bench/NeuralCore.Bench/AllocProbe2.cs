using NeuralCore.Kernels;
using NeuralCore.Kernels.Cpu;

namespace NeuralCore.Bench;

public static class AllocProbe2
{
    static void M(string name, Action a)
    {
        for (int i = 0; i < 20; i++) a();
        long t0 = GC.GetTotalAllocatedBytes(true);
        for (int i = 0; i < 50; i++) a();
        Console.WriteLine($"{name,-30} {(GC.GetTotalAllocatedBytes(true) - t0) / 50,8} B/call");
    }
    public static int Run(string[] args)
    {
        var cpu = new CpuBackend();
        var g1 = new ConvGeometry(128, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1);
        var g2 = new ConvGeometry(128, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1);
        foreach (var (n, g) in new[] { ("c1", g1), ("c2", g2) })
        {
            var x = cpu.Allocate(g.InputSize); var w = cpu.Allocate(g.WeightSize); var y = cpu.Allocate(g.OutputSize);
            M(n + " fwd", () => cpu.Conv2dForward(x, w, y, g));
            M(n + " bwd data", () => cpu.Conv2dBackwardData(y, w, x, g));
            M(n + " bwd weight", () => cpu.Conv2dBackwardWeight(x, y, w, g));
        }
        M("Parallel.For(2) empty", () => Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t => { }));
        var a = cpu.Allocate(128 * 784); var b = cpu.Allocate(784 * 400); var c = cpu.Allocate(128 * 400);
        M("gemm 128x784x400 nt", () => cpu.MatMul(a, b, c, 128, 400, 784, false, true, false));
        var bias = cpu.Allocate(400);
        M("binary bias add", () => cpu.Binary(BinaryOp.Add, c, [128, 400], bias, [400], c, [128, 400]));
        M("binarybwd bias add", () => cpu.BinaryBackward(BinaryOp.Add, c, [128, 400], bias, [400], c, [128, 400], c, bias));
        M("binarybwd mul", () => cpu.BinaryBackward(BinaryOp.Mul, c, [128, 400], c, [128, 400], c, [128, 400], c, c));
        var lo = cpu.Allocate(1);
        M("loss bce", () => cpu.Loss(LossKind.BinaryCrossEntropy, c, c, lo, 128 * 400));
        return 0;
    }
}
