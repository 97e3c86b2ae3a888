using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text;
using NeuralCore.Kernels;

namespace NeuralCore.Benchmarks;

/// <summary>Measured FMA peak of this machine in GFLOP/s: one thread, and every core at once.</summary>
internal sealed record PeakResult(double OneThread, double AllThreads, int Threads, string Width);

/// <summary>One timed kernel. GFLOP/s for GEMM and convolution (with % of the measured peak), GB/s for elementwise ops.</summary>
/// <param name="Group">"gemm", "conv" or "elementwise".</param>
/// <param name="Key">Stable identifier, e.g. "sgemm_1024x1024x1024" (the peer's key) or "conv2_bwd_weight".</param>
/// <param name="Shape">Human-readable sizes.</param>
/// <param name="Milliseconds">Mean time per call.</param>
/// <param name="Gflops">GFLOP/s (NaN for elementwise ops).</param>
/// <param name="GBps">Bytes moved per second / 1e9 (NaN for GEMM and convolution).</param>
/// <param name="Note">What the kernel serves in training.</param>
internal sealed record KernelResult(string Group, string Key, string Shape, double Milliseconds, double Gflops, double GBps, string Note);

/// <summary>A backend's GEMM kernels that can be timed one by one: their names, and how to force one (null: the
/// backend's own choice by shape). The ILGPU backend has three (<c>IlgpuBackend.GemmKernels</c>).</summary>
internal sealed record GemmKernelChoice(IReadOnlyList<string> Kernels, Action<string?> Force);

/// <summary>
/// The kernel benchmarks, written once against <see cref="IBackend"/> so that the bench harness
/// (<c>bench/NeuralCore.Bench</c>) and <c>neuralcore bench --device NAME</c> run the same code on any device
/// (this file is compiled into both; it is tooling, not part of the engine):
/// <list type="bullet">
/// <item>GEMM at the peer's sizes (bench/peers/torch_cpu_ref.py: square 256/1024/2048 and the AE shapes
///   128x784x400, 128x400x784, measured like the peer: one warm-up call, then max(3, 2e10/flops) calls) and every
///   transpose variant a Linear layer uses in training;</item>
/// <item>conv2d forward, backward-data and backward-weight at the conv autoencoder's and the VQ-VAE's shapes (batch 128);</item>
/// <item>the main elementwise ops (add, mul, relu, sigmoid, exp, bias-add broadcast, fused Adam) in GB/s.</item>
/// </list>
/// Quick mode drops the big square GEMMs and the VQ-VAE's convolutions and shortens every timing (a smoke test, and bearable on the reference backend).
/// </summary>
internal static class KernelBenchmarks
{
    /// <summary>One GEMM case: op(A) is m x k, op(B) is k x n.</summary>
    private readonly record struct GemmCase(string Key, int M, int K, int N, bool TransA, bool TransB, string Note, bool Big = false,
        bool AcceleratorOnly = false);

    private static readonly GemmCase[] GemmCases =
    [
        new("sgemm_256x256x256", 256, 256, 256, false, false, "square (peer)"),
        new("sgemm_1024x1024x1024", 1024, 1024, 1024, false, false, "square (peer)", Big: true),
        new("sgemm_2048x2048x2048", 2048, 2048, 2048, false, false, "square (peer)", Big: true),
        new("sgemm_4096x4096x4096", 4096, 4096, 4096, false, false, "square (GPU acceptance vs cuBLAS)", Big: true, AcceleratorOnly: true),
        new("sgemm_128x784x400", 128, 784, 400, false, false, "AE shape (peer); fc4 dx = dy W"),
        new("sgemm_128x400x784", 128, 400, 784, false, false, "AE shape (peer); fc1 dx = dy W"),
        // A Linear layer y = x W^T with W [out, in] (PyTorch layout) in training:
        new("nt_128x784x400", 128, 784, 400, false, true, "fc1 forward x W^T"),
        new("nt_128x400x784", 128, 400, 784, false, true, "fc4 forward h W^T"),
        new("tn_400x128x784", 400, 128, 784, true, false, "fc1 dW = dy^T x"),
        new("tn_784x128x400", 784, 128, 400, true, false, "fc4 dW = dy^T h"),
        new("tt_400x128x784", 400, 128, 784, true, true, "A^T B^T"),
        new("nt_128x1568x32", 128, 1568, 32, false, true, "conv AE encoder linear"),
        new("nt_128x32x1568", 128, 32, 1568, false, true, "conv AE decoder linear"),
    ];

    /// <summary>The conv autoencoder's and the VQ-VAE's convolutions at batch 128 (MNIST 28x28). A transposed convolution
    /// runs on the geometry of the convolution it inverts: its forward is that geometry's backward data, its backward data
    /// that geometry's forward, its backward weight that geometry's backward weight (with x and dy swapped).</summary>
    private static readonly (string Key, ConvGeometry G)[] ConvCases =
    [
        ("conv1 1->16 28->14", new ConvGeometry(128, 1, 28, 28, 16, 3, 3, 2, 2, 1, 1)),
        ("conv2 16->32 14->7", new ConvGeometry(128, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1)),
        ("vq_enc1 VQ-VAE conv 1->32 28->14", new ConvGeometry(128, 1, 28, 28, 32, 3, 3, 2, 2, 1, 1)),
        ("vq_enc2 VQ-VAE conv 32->64 14->7", new ConvGeometry(128, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1)),
        ("vq_enc3 VQ-VAE conv 64->16 1x1 7x7", new ConvGeometry(128, 64, 7, 7, 16, 1, 1, 1, 1, 0, 0)),
        ("vq_dec1 VQ-VAE convT 16->64 7->14, as conv 64->16 14->7", new ConvGeometry(128, 64, 14, 14, 16, 3, 3, 2, 2, 1, 1)),
        ("vq_dec2 VQ-VAE convT 64->32 14->28, as conv 32->64 28->14", new ConvGeometry(128, 32, 28, 28, 64, 3, 3, 2, 2, 1, 1)),
        ("vq_dec3 VQ-VAE conv 32->1 28x28", new ConvGeometry(128, 32, 28, 28, 1, 3, 3, 1, 1, 1, 1)),
    ];

    /// <summary>Runs every kernel benchmark on <paramref name="backend"/>; <paramref name="onResult"/> sees each result as
    /// it comes. With <paramref name="gemmKernels"/>, each of the backend's GEMM kernels is also timed alone at the
    /// accelerator-only size.</summary>
    public static List<KernelResult> Run(IBackend backend, bool quick, GemmKernelChoice? gemmKernels = null, Action<KernelResult>? onResult = null)
    {
        var results = new List<KernelResult>();
        void Add(KernelResult r) { results.Add(r); onResult?.Invoke(r); }
        double budget = quick ? 0.05 : 0.5;   // seconds of timed calls per kernel (GEMM: at least the peer's rep count)
        var rng = new Random(42);
        RunGemm(backend, quick, gemmKernels, budget, rng, Add);
        RunConvolution(backend, quick, budget, rng, Add);
        RunElementwise(backend, quick, budget, rng, Add);
        return results;
    }

    private static void RunGemm(IBackend backend, bool quick, GemmKernelChoice? gemmKernels, double budget, Random rng, Action<KernelResult> Add)
    {
        foreach (var c in GemmCases)
        {
            if (quick && c.Big) continue;
            if (c.AcceleratorOnly && backend.Name is "cpu" or "reference") continue;
            using var a = Upload(backend, rng, c.M * c.K, 0f, 1f);
            using var b = Upload(backend, rng, c.K * c.N, 0f, 1f);
            using var y = backend.Allocate(c.M * c.N);
            double flops = 2.0 * c.M * c.N * c.K;
            int peerReps = Math.Max(3, (int)(2e10 / flops));
            double s = Time(backend, () => backend.MatMul(a, b, y, c.M, c.N, c.K, c.TransA, c.TransB, false), quick ? Math.Min(peerReps, 3) : peerReps, budget);
            string op = (c.TransA ? "T" : "N") + (c.TransB ? "T" : "N");
            Add(new KernelResult("gemm", c.Key, $"{op} {c.M}x{c.K}x{c.N}", s * 1e3, flops / s / 1e9, double.NaN, c.Note));
            // at the accelerator-only size, also time each of the backend's GEMM kernels by itself
            if (c.AcceleratorOnly && gemmKernels is not null)
            {
                foreach (string kernel in gemmKernels.Kernels)
                {
                    gemmKernels.Force(kernel);
                    try
                    {
                        double sk = Time(backend, () => backend.MatMul(a, b, y, c.M, c.N, c.K, c.TransA, c.TransB, false), peerReps, budget);
                        Add(new KernelResult("gemm", $"{c.Key}_{kernel}", $"{op} {c.M}x{c.K}x{c.N}", sk * 1e3, flops / sk / 1e9, double.NaN,
                            $"the {kernel} kernel alone"));
                    }
                    finally { gemmKernels.Force(null); }
                }
            }
        }
    }

    private static void RunConvolution(IBackend backend, bool quick, double budget, Random rng, Action<KernelResult> Add)
    {
        foreach (var (key, g) in ConvCases)
        {
            if (quick && key.StartsWith("vq_", StringComparison.Ordinal)) continue;   // the smoke test keeps to the conv AE's shapes
            int crs = g.InChannels * g.KernelHeight * g.KernelWidth, plane = g.OutHeight * g.OutWidth;
            double flops = 2.0 * g.Batch * g.OutChannels * crs * plane;
            using var x = Upload(backend, rng, g.InputSize, -0.5f, 0.5f);
            using var w = Upload(backend, rng, g.WeightSize, -0.5f, 0.5f);
            using var y = Upload(backend, rng, g.OutputSize, -0.5f, 0.5f);
            using var dx = backend.Allocate(g.InputSize);
            using var dw = backend.Allocate(g.WeightSize);
            string prefix = key[..key.IndexOf(' ')];
            string shape = $"N{g.Batch} {g.InChannels}x{g.InHeight}x{g.InWidth} -> {g.OutChannels}x{g.OutHeight}x{g.OutWidth}";
            double f = Time(backend, () => backend.Conv2dForward(x, w, y, g), 3, budget);
            Add(new KernelResult("conv", prefix + "_fwd", shape, f * 1e3, flops / f / 1e9, double.NaN, key + " forward"));
            double d = Time(backend, () => backend.Conv2dBackwardData(y, w, dx, g), 3, budget);
            Add(new KernelResult("conv", prefix + "_bwd_data", shape, d * 1e3, flops / d / 1e9, double.NaN, key + " backward data (= transposed conv forward)"));
            double wt = Time(backend, () => backend.Conv2dBackwardWeight(x, y, dw, g), 3, budget);
            Add(new KernelResult("conv", prefix + "_bwd_weight", shape, wt * 1e3, flops / wt / 1e9, double.NaN, key + " backward weight"));
        }
    }

    private static void RunElementwise(IBackend backend, bool quick, double budget, Random rng, Action<KernelResult> Add)
    {
        foreach (int n in quick ? new[] { 128 * 784 } : new[] { 128 * 784, 1 << 22 })
        {
            string size = n == 128 * 784 ? "128x784" : $"{n >> 20}M";
            using var a = Upload(backend, rng, n, -1f, 1f);
            using var b = Upload(backend, rng, n, 0.1f, 1f);
            using var c = backend.Allocate(n);
            using var m = backend.Allocate(n);
            using var v = backend.Allocate(n);
            int rows = n / 784;
            using var bias = Upload(backend, rng, 784, -1f, 1f);
            int[] full = [n], matrix = [rows, 784], row = [784];
            void Elementwise(string key, double bytesPerElement, Action op, string note)
            {
                double s = Time(backend, op, 3, budget);
                Add(new KernelResult("elementwise", $"{key}_{size}", $"{n:N0} floats", s * 1e3, double.NaN, bytesPerElement * n / s / 1e9, note));
            }
            Elementwise("add", 12, () => backend.Binary(BinaryOp.Add, a, full, b, full, c, full), "c = a + b");
            Elementwise("mul", 12, () => backend.Binary(BinaryOp.Mul, a, full, b, full, c, full), "c = a * b");
            Elementwise("relu", 8, () => backend.Unary(UnaryOp.Relu, a, c, n), "y = max(x, 0)");
            Elementwise("sigmoid", 8, () => backend.Unary(UnaryOp.Sigmoid, a, c, n), "y = 1 / (1 + e^-x)");
            Elementwise("exp", 8, () => backend.Unary(UnaryOp.Exp, a, c, n), "y = e^x");
            Elementwise("bias_add", 8, () => backend.Binary(BinaryOp.Add, a, matrix, bias, row, c, matrix), "[N, 784] + [784] broadcast");
            int step = 0;
            Elementwise("adam", 28, () => backend.AdamStep(c, b, m, v, n, new AdamParameters(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, ++step)),
                "fused Adam: read p, g, m, v; write p, m, v");
        }
    }

    private static DeviceBuffer Upload(IBackend backend, Random rng, int n, float low, float high)
    {
        var host = new float[n];
        for (int i = 0; i < n; i++) host[i] = low + (high - low) * rng.NextSingle();
        var buffer = backend.Allocate(n);
        backend.Upload(host, buffer);
        return buffer;
    }

    /// <summary>Mean seconds per call: one warm-up call, then at least <paramref name="minReps"/> calls and at most
    /// <paramref name="budgetSeconds"/> of calls. A warm-up slower than the budget is itself the measurement
    /// (the reference backend's big GEMMs). GPU backends queue work and return, so every timing ends with a
    /// Synchronize of <paramref name="backend"/>.</summary>
    private static double Time(IBackend backend, Action action, int minReps, double budgetSeconds)
    {
        // Untimed calls first, past the tiered JIT's promotion (30 calls, then a quiet 100 ms before the optimised code
        // is installed): a small kernel timed earlier runs the runtime's unoptimised vector math (Vector512.Exp and
        // friends are JIT-compiled, not precompiled) and reads ~10x slow. Capped at a second for the slow backends.
        var warm = Stopwatch.StartNew();
        int warmCalls = 0;
        do
        {
            action();
            backend.Synchronize();
            warmCalls++;
        } while ((warmCalls < 40 || warm.Elapsed.TotalSeconds < 0.3) && warm.Elapsed.TotalSeconds < 1.0);
        var sw = Stopwatch.StartNew();
        action();
        backend.Synchronize();
        double first = sw.Elapsed.TotalSeconds;
        if (first > budgetSeconds) return first;
        int reps = Math.Max(minReps, (int)Math.Min(100_000, budgetSeconds / Math.Max(first, 1e-7)));
        if (first * reps > 4 * budgetSeconds && reps > minReps) reps = Math.Max(minReps, (int)(4 * budgetSeconds / first));
        sw.Restart();
        for (int r = 0; r < reps; r++) action();
        backend.Synchronize();
        return sw.Elapsed.TotalSeconds / reps;
    }

    // ---- FMA peak ----------------------------------------------------------------------------------

    /// <summary>
    /// Measured FMA peak: a tight loop of 12 independent vector FMA chains (more than latency x throughput), on one
    /// thread and on every core at once; best of three trials each.
    /// </summary>
    public static PeakResult MeasurePeak(bool quick = false)
    {
        long iterations = quick ? 5_000_000 : 20_000_000;
        FmaLoop(1000); // JIT
        double one = 0, all = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            var sw = Stopwatch.StartNew();
            double flops = FmaLoop(iterations);
            one = Math.Max(one, flops / sw.Elapsed.TotalSeconds / 1e9);
        }
        int threads = Environment.ProcessorCount;
        for (int trial = 0; trial < 3; trial++)
        {
            var sw = Stopwatch.StartNew();
            var workers = new Thread[threads];
            double[] f = new double[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                workers[t] = new Thread(() => f[id] = FmaLoop(iterations));
                workers[t].Start();
            }
            foreach (var w in workers) w.Join();
            all = Math.Max(all, f.Sum() / sw.Elapsed.TotalSeconds / 1e9);
        }
        return new PeakResult(one, all, threads, Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256");
    }

    /// <summary>Runs the FMA loop at the widest vector size and returns the flops performed (2 per lane per FMA).</summary>
    private static double FmaLoop(long iterations) =>
        Vector512.IsHardwareAccelerated ? FmaLoop<Vector512<float>, Fma512>(iterations) : FmaLoop<Vector256<float>, Fma256>(iterations);

    /// <summary>
    /// 12 independent FMA chains, enough to keep both FMA units busy through their latency; the JIT compiles one copy
    /// per vector type (they are structs), so each runs at that width's peak.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double FmaLoop<TVector, TOps>(long iterations) where TVector : struct where TOps : struct, IFmaVector<TVector>
    {
        var x = TOps.Create(0.999999f);
        var y = TOps.Create(1e-7f);
        TVector a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < iterations; i++)
        {
            a0 = TOps.Fma(a0, x, y); a1 = TOps.Fma(a1, x, y);
            a2 = TOps.Fma(a2, x, y); a3 = TOps.Fma(a3, x, y);
            a4 = TOps.Fma(a4, x, y); a5 = TOps.Fma(a5, x, y);
            a6 = TOps.Fma(a6, x, y); a7 = TOps.Fma(a7, x, y);
            a8 = TOps.Fma(a8, x, y); a9 = TOps.Fma(a9, x, y);
            a10 = TOps.Fma(a10, x, y); a11 = TOps.Fma(a11, x, y);
        }
        Volatile.Write(ref s_sink, TOps.First(a0) + TOps.First(a1) + TOps.First(a2) + TOps.First(a3) + TOps.First(a4) + TOps.First(a5) +
                                   TOps.First(a6) + TOps.First(a7) + TOps.First(a8) + TOps.First(a9) + TOps.First(a10) + TOps.First(a11));
        return iterations * 12.0 * TOps.Lanes * 2;
    }

    /// <summary>The vector operations of the FMA loop, for one vector width.</summary>
    private interface IFmaVector<TVector>
    {
        static abstract int Lanes { get; }
        static abstract TVector Create(float value);
        static abstract TVector Fma(TVector a, TVector b, TVector c);
        static abstract float First(TVector v);
    }

    private readonly struct Fma512 : IFmaVector<Vector512<float>>
    {
        public static int Lanes => Vector512<float>.Count;
        public static Vector512<float> Create(float value) => Vector512.Create(value);
        public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
        public static float First(Vector512<float> v) => v.ToScalar();
    }

    private readonly struct Fma256 : IFmaVector<Vector256<float>>
    {
        public static int Lanes => Vector256<float>.Count;
        public static Vector256<float> Create(float value) => Vector256.Create(value);
        public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
        public static float First(Vector256<float> v) => v.ToScalar();
    }

    /// <summary>Keeps the FMA loop's result alive (so the JIT cannot drop the loop).</summary>
    private static float s_sink;

    // ---- formatting --------------------------------------------------------------------------------

    /// <summary>
    /// The results as a markdown table. On the CPU (<paramref name="onCpu"/>) GEMM and convolution show GFLOP/s and the
    /// share of this CPU's measured FMA peak they reach; on an accelerator they show TFLOP/s and how many times the
    /// CPU's all-core peak that is (CPU vs GPU at a glance).
    /// </summary>
    public static string FormatMarkdown(IReadOnlyList<KernelResult> results, PeakResult peak, bool onCpu = true)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Measured FMA peak ({peak.Width}): {peak.OneThread:F0} GFLOP/s on 1 thread, {peak.AllThreads:F0} GFLOP/s on {peak.Threads} threads.");
        sb.AppendLine();
        if (onCpu)
        {
            sb.AppendLine("| kernel | shape | ms/call | GFLOP/s | % peak 1T | % peak all | GB/s | serves |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        }
        else
        {
            sb.AppendLine("| kernel | shape | ms/call | TFLOP/s | x CPU peak (all cores) | GB/s | serves |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---|");
        }
        foreach (var r in results)
        {
            bool flops = !double.IsNaN(r.Gflops);
            string gbps = double.IsNaN(r.GBps) ? "" : r.GBps.ToString("F1", inv);
            if (onCpu)
                sb.AppendLine(inv, $"| {r.Key} | {r.Shape} | {r.Milliseconds:F3} | {(flops ? r.Gflops.ToString("F1", inv) : "")} | " +
                                   $"{(flops ? (100 * r.Gflops / peak.OneThread).ToString("F0", inv) + "%" : "")} | " +
                                   $"{(flops ? (100 * r.Gflops / peak.AllThreads).ToString("F0", inv) + "%" : "")} | {gbps} | {r.Note} |");
            else
                sb.AppendLine(inv, $"| {r.Key} | {r.Shape} | {r.Milliseconds:F3} | {(flops ? (r.Gflops / 1000).ToString("F2", inv) : "")} | " +
                                   $"{(flops ? (r.Gflops / peak.AllThreads).ToString("F1", inv) + "x" : "")} | {gbps} | {r.Note} |");
        }
        return sb.ToString();
    }
}
