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
/// writes the gradients where the backend keeps them, without gathering them into one vector first. The fold is a
/// left fold, so a process adds its shards onto the sum of the shards before them: the reducer hands it that partial
/// sum, segment by segment, and the process folds its shards onto it (<see cref="LocalFold"/>), which lets a process
/// compute its shards' gradients straight into the sum instead of keeping each shard's apart.</para>
/// </summary>
public interface IGradientReducer
{
    /// <summary>This process's index, 0 to <see cref="WorldSize"/> - 1; process 0 writes the run's files.</summary>
    int Rank { get; }

    /// <summary>Number of processes training the model together.</summary>
    int WorldSize { get; }

    /// <summary>
    /// Folds a step's shard gradients over all processes, in shard order, into <paramref name="sum"/> (the same on
    /// every process when it returns). For each segment in turn, the fold of the shards before this process's arrives
    /// in the segment (on process 0, nothing does), <paramref name="fold"/> adds this process's shards onto it, and
    /// the result goes on. Every process calls it once per step with the same <paramref name="step"/> and segment lengths.
    /// </summary>
    /// <param name="sum">The segments, one per parameter and one for the loss.</param>
    /// <param name="fold">Folds this process's shards, in shard order, onto a segment of <paramref name="sum"/>.</param>
    /// <param name="step">The step's number in the run (counted from 1), checked by processes that compare notes.</param>
    void Reduce(Memory<float>[] sum, LocalFold fold, long step);
}

/// <summary>
/// Folds a process's shards of a step, in shard order, onto segment <paramref name="segment"/> of the sum:
/// <c>sum = ((sum + g_first) + ...) + g_last</c> when <paramref name="accumulate"/> (the partial sum of the shards
/// before this process's is there), <c>sum = (g_first + ...) + g_last</c> otherwise (on process 0).
/// </summary>
public delegate void LocalFold(int segment, bool accumulate);

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
    public void Reduce(Memory<float>[] sum, LocalFold fold, long step)
    {
        ArgumentNullException.ThrowIfNull(sum);
        ArgumentNullException.ThrowIfNull(fold);
        for (int s = 0; s < sum.Length; s++) fold(s, accumulate: false);
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
    /// The <see cref="LocalFold"/> of shards kept apart, each with its own segments (as long as those of
    /// <paramref name="sum"/>): <see cref="Fold(Span{float}, IReadOnlyList{Memory{float}[]}, int, int)"/> onto a partial
    /// sum, <see cref="FoldFirst"/> on process 0.
    /// </summary>
    public static LocalFold FoldOnto(IReadOnlyList<Memory<float>[]> shards, Memory<float>[] sum)
    {
        ArgumentNullException.ThrowIfNull(shards);
        ArgumentNullException.ThrowIfNull(sum);
        return (segment, accumulate) =>
        {
            var target = sum[segment].Span;
            if (accumulate) Fold(target, shards, segment, 0);
            else FoldFirst(shards, segment, target, 0, target.Length);
        };
    }

    /// <summary>The fold of shards that are all empty (zeros): <c>sum + 0</c> (which turns -0 into +0), or zeros.</summary>
    public static void AddZeros(Span<float> sum, bool accumulate)
    {
        if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(sum, 0f, sum);
        else sum.Clear();
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
