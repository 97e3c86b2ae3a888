namespace NeuralCore.Models.Training;

/// <summary>
/// The seam between the <see cref="Trainer"/> and a data-parallel runtime: sums the gradients of a step's shards over
/// every process. A global batch is cut into <see cref="TrainingOptions.GradientShards"/> fixed shards (contiguous rows;
/// <see cref="GradientShards.Rows"/>); each process computes the gradients of its own shards
/// (<see cref="GradientShards.Owned"/>, contiguous shard ranges in rank order), and <see cref="Reduce"/> folds the shard
/// vectors of all processes in shard order: <c>sum = ((0 + g0) + g1) + ... + g(S-1)</c>, element by element in float.
/// Because that fold does not depend on how many processes hold the shards, N processes end a step with the same bits
/// as one process with the same shard count. A single process uses <see cref="LocalGradientReducer"/>.
/// </summary>
public interface IGradientReducer
{
    /// <summary>This process's index, 0 to <see cref="WorldSize"/> - 1; process 0 writes the run's files.</summary>
    int Rank { get; }

    /// <summary>Number of processes training the model together.</summary>
    int WorldSize { get; }

    /// <summary>
    /// Folds a step's shard vectors over all processes, in shard order, into <paramref name="sum"/> (the same on every
    /// process). Every process calls it once per step with the same <paramref name="step"/>.
    /// </summary>
    /// <param name="local">This process's shard vectors, in shard order (those of <see cref="GradientShards.Owned"/>), each as long as <paramref name="sum"/>.</param>
    /// <param name="sum">Receives the fold of every shard vector of the step.</param>
    /// <param name="step">The step's number in the run (counted from 1), checked by processes that compare notes.</param>
    void Reduce(IReadOnlyList<float[]> local, Span<float> sum, long step);
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
    public void Reduce(IReadOnlyList<float[]> local, Span<float> sum, long step)
    {
        ArgumentNullException.ThrowIfNull(local);
        sum.Clear();
        foreach (var shard in local) GradientShards.Fold(sum, shard);
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

    /// <summary><c>sum[i] += shard[i]</c>, one float addition per element: the fold every reducer applies in shard order.</summary>
    public static void Fold(Span<float> sum, ReadOnlySpan<float> shard)
    {
        if (shard.Length != sum.Length) throw new ArgumentException($"a shard vector holds {shard.Length} values, the sum {sum.Length}", nameof(shard));
        System.Numerics.Tensors.TensorPrimitives.Add(sum, shard, sum);
    }
}
