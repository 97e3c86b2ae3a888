using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace NeuralCore.Kernels.Cpu;

/// <summary>One parallel loop body: <see cref="Invoke"/> runs iteration <c>index</c>. Implemented by small structs that
/// carry the loop's arguments, so that starting a loop allocates nothing (no closure, no delegate).</summary>
internal interface IParallelBody
{
    void Invoke(int index);
}

/// <summary>
/// An allocation-free parallel for over a few coarse iterations (GEMM strips, convolution batch chunks), owned by one
/// <see cref="CpuBackend"/>: its <see cref="Threads"/> is that backend's thread count, so two backends with different
/// counts run side by side, each on its own workers.
/// <para>Why not Parallel.For: it allocates on every call (options, closure, task and loop state), and a training
/// step makes many such calls. This pool keeps <c>Threads - 1</c> background workers,
/// started by the first parallel loop; the caller publishes a job (a pointer to its body struct on its own stack plus a
/// function pointer that invokes it), wakes the workers, takes iterations itself and returns when every iteration has
/// finished.</para>
/// <para>Iterations are claimed with a compare-exchange on one 64-bit word holding (job generation, next index), so
/// a worker that read the fields of an old job can never run an iteration of a newer one. The caller always takes
/// part, so the loop completes even if no worker wakes. Only one loop runs on the pool at a time: a second caller
/// (another thread using the same backend, or a nested loop inside a body) runs its iterations serially on its own
/// thread.</para>
/// <para>The workers reference this pool, never the backend, so a backend that is dropped without
/// <see cref="CpuBackend.Dispose"/> can still be finalized, and its finalizer stops them.</para>
/// </summary>
internal sealed unsafe class CpuParallel : IDisposable
{
    private readonly int _workerCount;
    private readonly SemaphoreSlim _wake = new(0);

    // Job state, published by the caller that holds _busy.
    private int _busy;
    private long _work;                                  // (generation << 32) | next index; index Closed = not open yet
    private delegate*<void*, int, void> _function;
    private void* _body;
    private int _count;
    private int _finished;                               // iterations completed in the current job
    private int _sleepers;                               // workers blocked on _wake
    private Exception? _error;
    private bool _started;
    private volatile bool _disposed;
    private readonly object _startLock = new();

    private const int Closed = int.MaxValue;

    /// <summary>How long a worker spins for the next job before it blocks. The loops of a training step are separated
    /// by serial work (elementwise ops, graph bookkeeping) of up to a millisecond or so, and waking a blocked thread
    /// costs tens of microseconds on the caller's side (a futex and, in a virtual machine, an inter-processor
    /// interrupt), so a worker that blocked between two loops of one step would cost more than it saves. Longer
    /// spinning would only take CPU from other processes between steps (OpenMP runtimes spin far longer by default).</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency * 2 / 1000;

    /// <summary>A pool where at most <paramref name="threads"/> threads (the caller and <c>threads - 1</c> workers)
    /// run one loop; 1 runs every loop on the calling thread.</summary>
    public CpuParallel(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        _workerCount = threads - 1;
    }

    /// <summary>The most threads that run one loop, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// How many chunks to cut <paramref name="items"/> independent items into: a few per thread, claimed as the threads
    /// come, so that a thread the system runs late (another process, a virtual machine's steal) takes fewer instead of
    /// holding up the others; one on a single thread.
    /// </summary>
    public int Chunks(int items) => Threads == 1 ? 1 : Math.Clamp(items, 1, 4 * Threads);

    /// <summary>Runs body.Invoke(i) for i in [0, count), in parallel when the pool is free. <paramref name="body"/>
    /// must be a local of the caller (it is read through a pointer while the call runs).</summary>
    public void For<T>(int count, ref T body) where T : struct, IParallelBody
    {
        if (count <= 0) return;
        if (count == 1 || _workerCount == 0 || _disposed || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body.Invoke(i);
            return;
        }
        try
        {
            EnsureStarted();
            long generation = (Volatile.Read(ref _work) >> 32) + 1;
            Volatile.Write(ref _work, (generation << 32) | Closed);
            _function = &Trampoline<T>;
            _body = Unsafe.AsPointer(ref body);
            _count = count;
            _finished = 0;
            _error = null;
            Volatile.Write(ref _work, generation << 32);          // open: iterations can be claimed from now on
            int sleepers = Interlocked.Exchange(ref _sleepers, 0);
            if (sleepers > 0) _wake.Release(Math.Min(sleepers, count - 1));
            RunIterations(generation, _function, _body, count);
            var spin = new SpinWait();
            while (Volatile.Read(ref _finished) < count) spin.SpinOnce(sleep1Threshold: -1);
            if (_error is { } error) throw new AggregateException("a parallel kernel iteration failed", error);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Stops the workers (each ends after the iteration it runs); later loops run on the calling thread.</summary>
    public void Dispose()
    {
        lock (_startLock)
        {
            if (_disposed) return;
            _disposed = true;
            // Wake every worker that sleeps or is about to: each sees _disposed and ends. A permit left over is harmless.
            if (_started) _wake.Release(_workerCount);
        }
    }

    private static void Trampoline<T>(void* body, int index) where T : struct, IParallelBody => Unsafe.AsRef<T>(body).Invoke(index);

    /// <summary>Claims and runs iterations of job <paramref name="generation"/> until none is left.</summary>
    private void RunIterations(long generation, delegate*<void*, int, void> function, void* body, int count)
    {
        while (true)
        {
            long w = Volatile.Read(ref _work);
            if (w >> 32 != generation) return;
            int index = (int)(w & 0xFFFFFFFF);
            if (index >= count) return;
            if (Interlocked.CompareExchange(ref _work, w + 1, w) != w) continue;
            try { function(body, index); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            Interlocked.Increment(ref _finished);
        }
    }

    private void EnsureStarted()
    {
        if (_started) return;
        lock (_startLock)
        {
            if (_started || _disposed) return;
            for (int i = 0; i < _workerCount; i++)
                new Thread(WorkerLoop) { IsBackground = true, Name = $"NeuralCore CPU worker {i + 1}" }.Start();
            _started = true;
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            // Wait for an open job newer than the last one seen: spin briefly, then block.
            long w;
            long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            while (true)
            {
                if (_disposed) return;
                w = Volatile.Read(ref _work);
                if (w >> 32 != seen && (int)(w & 0xFFFFFFFF) != Closed) break;
                if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(20); continue; }
                Interlocked.Increment(ref _sleepers);
                w = Volatile.Read(ref _work);               // re-check after announcing: no lost wake-up
                if (w >> 32 != seen && (int)(w & 0xFFFFFFFF) != Closed) break;   // a spurious Release later is harmless
                if (_disposed) return;
                _wake.Wait();
                spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            }
            long generation = w >> 32;
            seen = generation;
            // The fields were written before the job opened; if a newer job replaced them meanwhile, every claim
            // below fails on the generation check and nothing runs with mismatched fields.
            var function = _function;
            void* body = _body;
            int count = _count;
            if (Volatile.Read(ref _work) >> 32 != generation) continue;
            RunIterations(generation, function, body, count);
        }
    }
}
