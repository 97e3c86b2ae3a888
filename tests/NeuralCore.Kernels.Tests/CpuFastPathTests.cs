using NeuralCore.Kernels.Cpu;
using NeuralCore.Kernels.Reference;

namespace NeuralCore.Kernels.Tests;

/// <summary>
/// The allocation-free fast paths of issue 6 against the reference backend at odd sizes: the CpuParallel worker pool
/// (under GEMM and convolution, also with several callers at once), pooled buffer objects, inline broadcast walks
/// (every rank up to the maximum) and the broadcast backward passes that no longer wrap scratch arrays.
/// </summary>
public class CpuFastPathTests
{
    private struct MarkBody : IParallelBody
    {
        public int[] Hits;
        public readonly void Invoke(int index) => Interlocked.Increment(ref Hits[index]);
    }

    private struct NestedBody : IParallelBody
    {
        public int[] Hits;
        public CpuParallel Pool;
        public readonly void Invoke(int index)
        {
            var inner = new MarkBody { Hits = Hits };
            Pool.For(Hits.Length, ref inner);   // the pool is busy: runs serially on this thread
        }
    }

    private struct ThrowingBody : IParallelBody
    {
        public readonly void Invoke(int index)
        {
            if (index == 3) throw new InvalidOperationException("boom");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(64)]
    public void ParallelFor_RunsEveryIndexExactlyOnce(int count)
    {
        using var pool = new CpuParallel(4);
        for (int round = 0; round < 200; round++)
        {
            var body = new MarkBody { Hits = new int[count] };
            pool.For(count, ref body);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void ParallelFor_NestedAndConcurrentCallersComplete()
    {
        using var pool = new CpuParallel(3);
        var nested = new NestedBody { Hits = new int[5], Pool = pool };
        pool.For(4, ref nested);
        Assert.All(nested.Hits, h => Assert.Equal(4, h));

        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int round = 0; round < 300; round++)
            {
                var body = new MarkBody { Hits = new int[7] };
                pool.For(7, ref body);
                Assert.All(body.Hits, h => Assert.Equal(1, h));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
    }

    [Fact]
    public void ParallelFor_PropagatesAnExceptionAndStaysUsable()
    {
        using var pool = new CpuParallel(3);
        var throwing = new ThrowingBody();
        var e = Assert.Throws<AggregateException>(() => pool.For(8, ref throwing));
        Assert.IsType<InvalidOperationException>(e.InnerException);
        var body = new MarkBody { Hits = new int[9] };
        pool.For(9, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ParallelFor_AfterDispose_RunsOnTheCallingThread()
    {
        var pool = new CpuParallel(3);
        var body = new MarkBody { Hits = new int[6] };
        pool.For(6, ref body);   // starts the workers
        pool.Dispose();
        pool.Dispose();          // twice is harmless
        body = new MarkBody { Hits = new int[6] };
        pool.For(6, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(CpuBackend.MaxThreads + 1)]
    public void CpuBackend_RejectsAThreadCountOutOfRange(int threads)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(threads));
        Assert.Equal("threads", e.ParamName);
    }

    [Fact]
    public void CpuBackend_KeepsItsThreadCount()
    {
        using var one = new CpuBackend(threads: 1);
        using var three = new CpuBackend(threads: 3);
        using var every = new CpuBackend();
        Assert.Equal(1, one.Threads);
        Assert.Equal(3, three.Threads);
        Assert.Equal(Environment.ProcessorCount, every.Threads);
    }

    [Fact]
    public void ConcurrentGemmsAndConvolutions_MatchTheReference()
    {
        // Several threads run multi-threaded kernels at once, each on a backend of its own (with 1, 2 and 3 threads), and
        // two more share one backend: one of those owns its worker pool, the other runs serially.
        var g = new ConvGeometry(37, 3, 13, 11, 5, 3, 3, 2, 2, 1, 1);
        var failures = new List<string>();
        using var shared = new CpuBackend(threads: 2);
        var threads = Enumerable.Range(0, 5).Select(id => new Thread(() =>
        {
            using var own = id < 3 ? new CpuBackend(threads: id + 1) : null;
            var cpu = own ?? shared;
            using var reference = new ReferenceBackend();
            var rng = new Random(id);
            float[] a = Random(rng, 133 * 301), b = Random(rng, 301 * 97);
            float[] x = Random(rng, g.InputSize), w = Random(rng, g.WeightSize), dy = Random(rng, g.OutputSize);
            for (int round = 0; round < 5; round++)
            {
                Compare(failures, "gemm", cpu, reference, (be, bufs) => be.MatMul(bufs[0], bufs[1], bufs[2], 133, 97, 301, false, false, false),
                    [a, b, new float[133 * 97]], 2);
                Compare(failures, "conv fwd", cpu, reference, (be, bufs) => be.Conv2dForward(bufs[0], bufs[1], bufs[2], g),
                    [x, w, new float[g.OutputSize]], 2);
                Compare(failures, "conv bwd data", cpu, reference, (be, bufs) => be.Conv2dBackwardData(bufs[0], bufs[1], bufs[2], g),
                    [dy, w, new float[g.InputSize]], 2);
                Compare(failures, "conv bwd weight", cpu, reference, (be, bufs) => be.Conv2dBackwardWeight(bufs[0], bufs[1], bufs[2], g),
                    [x, dy, new float[g.WeightSize]], 2);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void ReleasedBuffers_AreReusedZeroedAndLive()
    {
        using var cpu = new CpuBackend();
        var first = cpu.Allocate(37);
        cpu.Upload(Enumerable.Repeat(5f, 37).ToArray(), first);
        first.Dispose();
        Assert.True(first.IsDisposed);
        var second = cpu.Allocate(37);
        Assert.Same(first, second);          // the buffer object itself is pooled
        Assert.False(second.IsDisposed);
        var values = new float[37];
        cpu.Download(second, values);
        Assert.All(values, v => Assert.Equal(0f, v));
        var other = cpu.Allocate(38);
        Assert.NotSame(second, other);
    }

    [Fact]
    public void UninitializedBuffers_AreNaNUnderTheTests_AndAllocateStillZeroes()
    {
        // the test assemblies poison uninitialised buffers (PoisonUninitialized.cs); an op that reads output it did not
        // write then sees NaN, whether the buffer is new or reused
        Assert.True(CpuBackend.PoisonUninitialized);
        using var cpu = new CpuBackend();
        var values = new float[29];
        var fresh = cpu.AllocateUninitialized(29);
        cpu.Download(fresh, values);
        Assert.All(values, v => Assert.True(float.IsNaN(v)));
        fresh.Dispose();
        var zeroed = cpu.Allocate(29);
        Assert.Same(fresh, zeroed);          // the same pooled buffer, cleared this time
        cpu.Download(zeroed, values);
        Assert.All(values, v => Assert.Equal(0f, v));
        zeroed.Dispose();
        var reused = cpu.AllocateUninitialized(29);
        cpu.Download(reused, values);
        Assert.All(values, v => Assert.True(float.IsNaN(v)));
    }

    public static TheoryData<int[], int[]> BroadcastShapes => new()
    {
        { [7, 5], [5] },
        { [7, 5], [7, 1] },
        { [3, 1, 5], [1, 4, 1] },
        { [2, 3, 1, 5, 1], [3, 4, 1, 2] },
        { [2, 1, 3, 1, 2, 1, 3, 2], [1, 2, 1, 3, 1, 2, 1, 2] },   // rank 8, the inline-array maximum
        { [], [3] },
        { [1100, 40], [40] },          // large enough to be shared among threads: a bias row over the rows
        { [64], [1, 600, 64] },        // the row on the other side
        { [300, 129], [300, 129] },    // same shapes, an odd length
    };

    [Fact]
    public void LargeElementwiseOps_GiveTheSameBitsOnOneAndTwoThreads()
    {
        // large spans are cut into chunks run by several threads; every element must come out as on one thread
        const int rows = 701, width = 77, n = rows * width;
        var rng = new Random(5);
        float[] x = Random(rng, n).Select(v => v * 4).ToArray(), dy = Random(rng, n), bias = Random(rng, width), dx0 = Random(rng, n);
        float[][] Run(int threads)
        {
            using var cpu = new CpuBackend(threads);
            var results = new List<float[]>();
            DeviceBuffer Up(float[] v) { var d = cpu.AllocateUninitialized(v.Length); cpu.Upload(v, d); return d; }
            float[] Down(DeviceBuffer d, int length) { var h = new float[length]; cpu.Download(d, h); return h; }
            foreach (var op in Enum.GetValues<UnaryOp>())
            {
                using DeviceBuffer bx = Up(x), by = cpu.AllocateUninitialized(n), bdy = Up(dy), bdx = Up(dx0);
                cpu.Unary(op, bx, by, n, 0.5f);
                cpu.UnaryBackward(op, bx, by, bdy, bdx, n, 0.5f);
                results.Add(Down(by, n));
                results.Add(Down(bdx, n));
            }
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div })
            {
                using DeviceBuffer bx = Up(x), bb = Up(bias), bc = cpu.AllocateUninitialized(n), bdc = Up(dy), bda = Up(dx0), bdb = Up(bias);
                cpu.Binary(op, bx, [rows, width], bb, [width], bc, [rows, width]);
                cpu.BinaryBackward(op, bx, [rows, width], bb, [width], bdc, [rows, width], bda, bdb);
                results.Add(Down(bc, n));
                results.Add(Down(bda, n));
                results.Add(Down(bdb, width));
            }
            return results.ToArray();
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++)
            Assert.True(one[i].AsSpan().SequenceEqual(two[i]), $"result {i} differs between one and two threads");
    }

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void BroadcastBinaryAndBackward_MatchTheReference(int[] aShape, int[] bShape)
    {
        int[] cShape = Broadcast.ResultShape(aShape, bShape);
        int na = Broadcast.Count(aShape), nb = Broadcast.Count(bShape), nc = Broadcast.Count(cShape);
        var rng = new Random(na * 31 + nb);
        float[] a = Random(rng, na), b = Random(rng, nb).Select(v => v + (v >= 0 ? 0.5f : -0.5f)).ToArray(), dc = Random(rng, nc);
        var failures = new List<string>();
        using var cpu = new CpuBackend();
        using var reference = new ReferenceBackend();
        foreach (var op in new[] { BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div })
        {
            Compare(failures, $"{op} forward", cpu, reference, (be, bufs) => be.Binary(op, bufs[0], aShape, bufs[1], bShape, bufs[2], cShape),
                [a, b, new float[nc]], 2);
            Compare(failures, $"{op} backward", cpu, reference, (be, bufs) => be.BinaryBackward(op, bufs[0], aShape, bufs[1], bShape, bufs[2], cShape, bufs[3], bufs[4]),
                [a, b, dc, Random(new Random(1), na), Random(new Random(2), nb)], 3, 4);
        }
        Assert.Empty(failures);
    }

    private static float[] Random(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextSingle() * 2 - 1;
        return v;
    }

    /// <summary>Runs <paramref name="kernel"/> on both backends with copies of <paramref name="inputs"/> and compares the
    /// buffers at <paramref name="outputs"/> with tolerance 1e-4 + 1e-4 |ref| (float vs double accumulation).</summary>
    private static void Compare(List<string> failures, string what, IBackend cpu, IBackend reference,
        Action<IBackend, DeviceBuffer[]> kernel, float[][] inputs, params int[] outputs)
    {
        float[][] Run(IBackend backend)
        {
            var buffers = inputs.Select(v => { var d = backend.Allocate(Math.Max(1, v.Length)); backend.Upload(v, d); return d; }).ToArray();
            kernel(backend, buffers);
            var result = outputs.Select(i => { var h = new float[inputs[i].Length]; backend.Download(buffers[i], h); return h; }).ToArray();
            foreach (var d in buffers) d.Dispose();
            return result;
        }
        var ours = Run(cpu);
        var expected = Run(reference);
        for (int o = 0; o < outputs.Length; o++)
        for (int i = 0; i < ours[o].Length; i++)
        {
            if (Math.Abs(ours[o][i] - expected[o][i]) <= 1e-4 + 1e-4 * Math.Abs(expected[o][i])) continue;
            lock (failures) failures.Add($"{what}: output {outputs[o]}[{i}] = {ours[o][i]}, reference {expected[o][i]}");
            break;
        }
    }
}
