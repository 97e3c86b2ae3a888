using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NeuralCore.Models.Training;

/// <summary>
/// The seam between the <see cref="Trainer"/> and a data-parallel runtime: sums the gradients of a step's shards over
/// every process. A global batch is cut into <see cref="TrainingOptions.GradientShards"/> fixed shards (contiguous rows;
/// <see cref="GradientShards.Rows"/>); each process computes the gradients of its own shards
/// (<see cref="GradientShards.Owned"/>, contiguous shard ranges in rank order), and <see cref="Reduce"/> folds the shard
/// gradients of all processes in shard order: <c>sum = ((g0 + g1) + g2) + ... + g(S-1)</c>, element by element in
/// float. Because that fold does not depend on how many processes hold the shards, N processes end a step with the
/// same bits as one process with the same shard count. A single process uses <see cref="LocalGradientReducer"/>.
/// <para>A step's gradient is a list of segments (one per parameter, then the loss), so that the reducer reads and
/// writes the gradients where the backend keeps them, without gathering them into one vector first.</para>
/// </summary>
public interface IGradientReducer
{
    /// <summary>This process's index, 0 to <see cref="WorldSize"/> - 1; process 0 writes the run's files.</summary>
    int Rank { get; }

    /// <summary>Number of processes training the model together.</summary>
    int WorldSize { get; }

    /// <summary>
    /// Folds a step's shard gradients over all processes, in shard order, into <paramref name="sum"/> (the same on
    /// every process). Every process calls it once per step with the same <paramref name="step"/> and segment lengths.
    /// </summary>
    /// <param name="local">This process's shards, in shard order (those of <see cref="GradientShards.Owned"/>): for each,
    /// its segments, as long as those of <paramref name="sum"/>.</param>
    /// <param name="sum">Receives the fold of every shard of the step, segment by segment. On the process that holds
    /// shard 0, a segment of <paramref name="sum"/> may be the same memory as that of <c>local[0]</c> (the fold then
    /// starts in place).</param>
    /// <param name="step">The step's number in the run (counted from 1), checked by processes that compare notes.</param>
    void Reduce(IReadOnlyList<Memory<float>[]> local, Memory<float>[] sum, long step);
}

/// <summary>The reducer of a single process: it holds every shard and folds them in order.</summary>
public sealed class LocalGradientReducer : IGradientReducer
{
    /// <summary>The one instance.</summary>
    public static LocalGradientReducer Instance { get; } = new();

    private LocalGradientReducer() { }

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int WorldSize => 1;

    /// <inheritdoc />
    public void Reduce(IReadOnlyList<Memory<float>[]> local, Memory<float>[] sum, long step)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(sum);
        for (int s = 0; s < sum.Length; s++)
            GradientShards.FoldFirst(local, s, sum[s].Span, 0, sum[s].Length);
    }
}

/// <summary>How a global batch is cut into shards and the shards into processes; the fold every reducer uses.</summary>
public static class GradientShards
{
    /// <summary>The most shards a batch may be cut into.</summary>
    public const int Max = 1024;

    /// <summary>The rows [Start, Start + Count) of shard <paramref name="shard"/> of a batch of <paramref name="rows"/> rows (a shard may be empty).</summary>
    public static (int Start, int Count) Rows(int rows, int shards, int shard)
    {
        int start = (int)((long)rows * shard / shards), end = (int)((long)rows * (shard + 1) / shards);
        return (start, end - start);
    }

    /// <summary>The shards [First, First + Count) that process <paramref name="rank"/> of <paramref name="worldSize"/> computes.</summary>
    public static (int First, int Count) Owned(int shards, int rank, int worldSize)
    {
        int first = (int)((long)shards * rank / worldSize), end = (int)((long)shards * (rank + 1) / worldSize);
        return (first, end - first);
    }

    // Folds a block at a time, so that each pass over the shards reads every value once from memory: the block stays
    // in the first-level cache while the shards are added to it.
    private const int FoldBlock = 2048;

    /// <summary>
    /// <c>sum[i] = ((sum[i] + shard0[i]) + shard1[i]) + ...</c> over <paramref name="shards"/> (segment
    /// <paramref name="segment"/> of each, elements [<paramref name="start"/>, <paramref name="start"/> +
    /// <paramref name="sum"/>.Length)): one float addition per element and shard, in shard order, the fold every
    /// reducer applies.
    /// </summary>
    public static void Fold(Span<float> sum, IReadOnlyList<Memory<float>[]> shards, int segment, int start)
    {
        ArgumentNullException.ThrowIfNull(shards);
        Fold(sum, shards, 0, segment, start);
    }

    private static void Fold(Span<float> sum, IReadOnlyList<Memory<float>[]> shards, int from, int segment, int start)
    {
        for (int k = from; k < shards.Count; k++)
            if (shards[k][segment].Length < start + sum.Length)
                throw new ArgumentException($"segment {segment} of a shard holds {shards[k][segment].Length} values, the sum needs {start + sum.Length}", nameof(shards));
        for (int at = 0; at < sum.Length; at += FoldBlock)
        {
            int n = Math.Min(FoldBlock, sum.Length - at);
            var block = sum.Slice(at, n);
            for (int k = from; k < shards.Count; k++)
                System.Numerics.Tensors.TensorPrimitives.Add(block, shards[k][segment].Span.Slice(start + at, n), block);
        }
    }

    /// <summary>
    /// The fold of the shards of process 0, which starts from shard 0: <c>sum = (shard0 + shard1) + ...</c> over
    /// elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of segment
    /// <paramref name="segment"/>, where <paramref name="sum"/> is that range (it may be shard 0's own memory).
    /// </summary>
    public static void FoldFirst(IReadOnlyList<Memory<float>[]> shards, int segment, Span<float> sum, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(shards);
        if (shards.Count == 0) { sum.Slice(0, count).Clear(); return; }
        var first = shards[0][segment].Span.Slice(start, count);
        if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(first), ref MemoryMarshal.GetReference(sum))) first.CopyTo(sum);
        Fold(sum.Slice(0, count), shards, 1, segment, start);
    }
}
