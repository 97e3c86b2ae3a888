using System.Buffers;
using System.Diagnostics;
using NeuralCore.Models.Training;

namespace NeuralCore.Distributed;

/// <summary>
/// Sums the shard gradients of every process in shard order, so that the sum has the same bits whatever the number of
/// processes (<see cref="IGradientReducer"/>). A left fold in shard order is a chain: process 0 folds its shards into
/// zeros and passes the partial sum to process 1, which folds its shards onto it and passes it on; the last process
/// holds the sum and broadcasts it. The vector travels in chunks, so the chain is a pipeline: while process r folds
/// chunk k, process r + 1 folds chunk k - 1. Per step each process sends and receives the vector about once on the
/// chain and once in the broadcast: the bytes of a ring allreduce (2 (N-1)/N of the vector per process), with a
/// latency of N - 1 + chunks hops instead of 2 (N - 1).
/// <para>Every wait has a deadline. Process 0 also receives two tokens from every process in each step, one as it
/// enters the exchange and one once it has passed its partial sum on, so when the exchange stalls it names the rank at
/// fault: the first that has not arrived, or else the first that has not passed the sum on.</para>
/// </summary>
public sealed class MpiGradientReducer : IGradientReducer
{
    private const int ChainTag = 1, ArrivedTag = 2, PassedTag = 3;
    // 64 Ki floats (256 KiB) per message: enough to keep the pipeline busy, small enough to overlap the hops
    private const int ChunkFloats = 1 << 16;

    // MPI moves a message only while a rank calls into it, so a waiting rank polls. A poll that finds nothing costs
    // a core for as long as it spins or yields, and the waits are most of a step for the rank that computes less; each
    // wake-up from a sleep costs too (a pass through the scheduler and MPI's progress engine). So a wait spins only
    // for the few microseconds of a hand-shake, then sleeps a quarter of what it has waited so far (50 us to 1 ms)
    // between polls: it notices a message at most a quarter late, in a few dozen wake-ups per wait.
    private const int SpinRounds = 20;
    private static readonly double MicrosecondsPerTick = 1e6 / Stopwatch.Frequency;

    private readonly MpiWorld _world;
    private readonly int[] _tokens;             // pinned: process 0 receives each rank's two tokens here, [arrived..., passed...]
    private readonly int[] _myTokens = GC.AllocateArray<int>(2, pinned: true);
    private nint[] _requests = [];
    private MemoryHandle[] _pins = [];
    private readonly nint[] _tokenRequests;     // process 0: [arrived from rank r, passed from rank r]; the others: their two sends

    internal MpiGradientReducer(MpiWorld world)
    {
        _world = world;
        _tokens = GC.AllocateArray<int>(2 * world.Size, pinned: true);
        _tokenRequests = new nint[2 * world.Size];
    }

    /// <inheritdoc />
    public int Rank => _world.Rank;

    /// <inheritdoc />
    public int WorldSize => _world.Size;

    /// <summary>Steps reduced so far.</summary>
    public long Steps { get; private set; }

    /// <summary>Seconds spent in <see cref="Reduce"/> so far: sending, receiving, folding, and waiting for slower processes.</summary>
    public double Seconds { get; private set; }

    /// <inheritdoc />
    public void Reduce(Memory<float>[] sum, LocalFold fold, long step)
    {
        ArgumentNullException.ThrowIfNull(sum);
        ArgumentNullException.ThrowIfNull(fold);
        long started = Stopwatch.GetTimestamp();
        if (WorldSize == 1) LocalGradientReducer.Instance.Reduce(sum, fold, step);
        else Exchange(sum, fold, step, Rank, WorldSize);
        Steps++;
        Seconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    // The chain and the broadcast work in the sum's segments themselves (pinned for as long as requests are in flight:
    // every request is complete when Exchange returns), so the summed gradients need no copy out of a buffer of their own.
    private unsafe void Exchange(Memory<float>[] sum, LocalFold fold, long step, int rank, int size)
    {
        var comm = MpiNative.CommWorld;
        // the vector travels in pieces: each segment cut into chunks of at most ChunkFloats
        int pieces = 0;
        foreach (var segment in sum) pieces += Chunks(segment.Length);
        if (_requests.Length < 2 * pieces + sum.Length) _requests = new nint[2 * pieces + sum.Length];
        if (_pins.Length < sum.Length) _pins = new MemoryHandle[sum.Length];
        var receives = _requests.AsSpan(0, pieces);
        var sends = _requests.AsSpan(pieces, pieces);
        var broadcasts = _requests.AsSpan(2 * pieces, sum.Length);
        _requests.AsSpan().Clear();
        // process 0 waits first and names who is missing; the others give it time to do so
        var patience = rank == 0 ? _world.Timeout : _world.Timeout + TimeSpan.FromSeconds(10);
        long deadline = MpiWorld.Deadline(patience);
        _tokenRequests.AsSpan().Clear();
        for (int s = 0; s < sum.Length; s++) _pins[s] = sum[s].Pin();
        try
        {
            fixed (int* tokens = _tokens)
            fixed (int* myTokens = _myTokens)
            {
                if (rank == 0)
                {
                    for (int r = 1; r < size; r++)
                    {
                        Call(MpiNative.MPI_Irecv(tokens + r, 1, MpiNative.Int, r, ArrivedTag, comm, out _tokenRequests[r]), "receive the step of", r);
                        Call(MpiNative.MPI_Irecv(tokens + size + r, 1, MpiNative.Int, r, PassedTag, comm, out _tokenRequests[size + r]), "receive the step of", r);
                    }
                }
                else
                {
                    myTokens[0] = myTokens[1] = (int)step;
                    Call(MpiNative.MPI_Isend(myTokens, 1, MpiNative.Int, 0, ArrivedTag, comm, out _tokenRequests[0]), "tell its step to", 0);
                }
                if (rank > 0)
                {
                    int piece = 0;
                    for (int s = 0; s < sum.Length; s++)
                        for (int c = 0, chunks = Chunks(sum[s].Length); c < chunks; c++, piece++)
                        {
                            int start = c * ChunkFloats, count = Math.Min(ChunkFloats, sum[s].Length - start);
                            Call(MpiNative.MPI_Irecv(Address(s, start), count, MpiNative.Float, rank - 1, ChainTag, comm, out receives[piece]), "receive gradients from", rank - 1);
                        }
                }
                {
                    // segment by segment: the partial sum arrives (all its chunks), this process's shards are folded onto it, it goes on
                    int piece = 0;
                    for (int s = 0; s < sum.Length; s++)
                    {
                        int chunks = Chunks(sum[s].Length);
                        if (rank > 0) Wait(receives.Slice(piece, chunks), deadline, step, rank - 1, "gradients");
                        fold(s, accumulate: rank > 0);
                        for (int c = 0; c < chunks; c++, piece++)
                        {
                            int start = c * ChunkFloats, count = Math.Min(ChunkFloats, sum[s].Length - start);
                            if (rank < size - 1)
                                Call(MpiNative.MPI_Isend(Address(s, start), count, MpiNative.Float, rank + 1, ChainTag, comm, out sends[piece]), "send gradients to", rank + 1);
                        }
                    }
                }
                if (rank > 0)
                    Call(MpiNative.MPI_Isend(myTokens + 1, 1, MpiNative.Int, 0, PassedTag, comm, out _tokenRequests[1]), "tell its step to", 0);
                if (rank < size - 1) Wait(sends, deadline, step, rank + 1, "sent gradients");
                for (int s = 0; s < sum.Length; s++)
                    Call(MpiNative.MPI_Ibcast(Address(s, 0), sum[s].Length, MpiNative.Float, size - 1, comm, out broadcasts[s]), "receive the summed gradients from", size - 1);
                Wait(broadcasts, deadline, step, size - 1, "summed gradients");
                if (rank == 0)
                {
                    Wait(_tokenRequests.AsSpan(0, 2 * size), deadline, step, -1, "steps");
                    for (int r = 1; r < size; r++)
                        if (_tokens[r] != (int)step || _tokens[size + r] != (int)step)
                            throw new MpiException(_world.Describe($"rank {r} is at step {_tokens[r]} while rank 0 is at step {step}; the processes are not running the same training (same data, batch and options on every rank)"));
                }
                else Wait(_tokenRequests.AsSpan(0, 2), deadline, step, 0, "step tokens");
            }
        }
        finally
        {
            for (int s = 0; s < sum.Length; s++) _pins[s].Dispose();
        }

        float* Address(int segment, int start) => (float*)_pins[segment].Pointer + start;
    }

    private static int Chunks(int length) => Math.Max(1, (length + ChunkFloats - 1) / ChunkFloats);

    /// <summary>
    /// Waits until every request in <paramref name="requests"/> is done (a done request's slot becomes 0), spinning
    /// for a few microseconds, then sleeping 50 us to 1 ms between polls (longer as the wait grows). Past <paramref name="deadline"/>
    /// it throws, naming the rank at fault.
    /// </summary>
    private void Wait(Span<nint> requests, long deadline, long step, int peer, string what)
    {
        long started = Stopwatch.GetTimestamp();
        for (int round = 0; ; round++)
        {
            bool all = true;
            for (int i = 0; i < requests.Length; i++)
            {
                if (requests[i] == 0) continue;
                int code = MpiNative.MPI_Test(ref requests[i], out int done, 0);
                if (code != MpiNative.Success)
                    throw new MpiException(_world.Describe($"lost rank {(peer >= 0 ? peer : i + 1)} at step {step} ({what}): {MpiNative.ErrorText(code)}; stopping the job"));
                if (done != 0) requests[i] = 0;
                else all = false;
            }
            if (all) return;
            if (Stopwatch.GetTimestamp() > deadline) throw Stalled(requests, step, peer, what);
            if (round < SpinRounds) Thread.SpinWait(20);
            else
            {
                long waited = Stopwatch.GetTimestamp() - started;
                MpiNative.usleep((uint)Math.Clamp(waited * MicrosecondsPerTick / 4, 50, 1000));
            }
        }
    }

    private MpiException Stalled(Span<nint> requests, long step, int peer, string what)
    {
        int rank = Rank;
        double seconds = Math.Round((rank == 0 ? _world.Timeout : _world.Timeout + TimeSpan.FromSeconds(10)).TotalSeconds, 1);
        if (rank != 0)
            // process 0 would have stopped the job had it been waiting; it is the one not answering
            return new MpiException(_world.Describe($"rank 0 stopped answering: step {step} did not complete within {seconds} s; stopping the job"));
        int size = WorldSize;
        var notArrived = new List<int>();
        int notPassed = -1;
        for (int r = 1; r < size; r++)
        {
            if (Pending(r)) notArrived.Add(r);
            if (notPassed < 0 && Pending(size + r)) notPassed = r;
        }
        string who = notArrived.Count > 0
            ? $"rank {string.Join(", rank ", notArrived)} did not reach step {step} within {seconds} s"
            : notPassed > 0
                ? $"rank {notPassed} stopped answering in step {step}: it did not pass the gradients on within {seconds} s"
                : $"step {step} stalled for {seconds} s in the broadcast of the summed gradients from rank {size - 1} ({what})";
        return new MpiException(_world.Describe($"{who}; stopping the job"));

        bool Pending(int i) =>
            _tokenRequests[i] != 0 && MpiNative.MPI_Test(ref _tokenRequests[i], out int done, 0) == MpiNative.Success && done == 0;
    }

    private void Call(int code, string action, int peer)
    {
        if (code != MpiNative.Success)
            throw new MpiException(_world.Describe($"could not {action} rank {peer}: {MpiNative.ErrorText(code)}; stopping the job"));
    }
}
