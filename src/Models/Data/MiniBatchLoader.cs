namespace NeuralCore.Models.Data;

/// <summary>
/// Iterates a row-major data set [count, features] in mini-batches, reshuffled every epoch by a seeded
/// <see cref="SeededRandom"/>, so the same seed gives the same batches (with <see cref="SeededRandom.PyTorch"/>, the
/// order of <c>torch.randperm</c>).
/// Every row appears exactly once per epoch; the last batch of an epoch may be smaller. Batches are copied
/// into a caller-provided buffer, so iteration allocates nothing.
/// <code>
/// var loader = new MiniBatchLoader(pixels, count, 784, batchSize: 64, seed: 42);
/// var batch = new float[loader.BatchSize * loader.Features];
/// for (int epoch = 0; epoch &lt; epochs; epoch++)
/// {
///     loader.StartEpoch();
///     while (loader.TryNextBatch(batch, out int rows)) { /* rows x 784 in batch; loader.CurrentIndices are the source rows */ }
/// }
/// </code>
/// </summary>
public sealed class MiniBatchLoader
{
    private readonly float[] _data;
    private readonly int[] _order;
    private readonly bool _shuffle;
    private int _position;
    private int _currentStart;
    private int _currentRows;

    /// <summary>Creates a loader over <paramref name="data"/> [count, features] with its own generator seeded by <paramref name="seed"/>.</summary>
    public MiniBatchLoader(float[] data, int count, int features, int batchSize, ulong seed, bool shuffle = true)
        : this(data, count, features, batchSize, new SeededRandom(seed), shuffle) { }

    /// <summary>
    /// Creates a loader over <paramref name="data"/> [count, features] that shuffles with <paramref name="random"/>
    /// (share or checkpoint the generator for resumable training: each epoch's order depends only on its state
    /// when <see cref="StartEpoch"/> is called).
    /// </summary>
    /// <param name="data">Row-major values, at least count * features long (the data is not copied).</param>
    /// <param name="count">Number of rows to iterate (rows 0..count-1).</param>
    /// <param name="features">Values per row.</param>
    /// <param name="batchSize">Rows per batch (the last batch of an epoch may be smaller).</param>
    /// <param name="random">The generator used for shuffling.</param>
    /// <param name="shuffle">False keeps rows in their original order (evaluation).</param>
    public MiniBatchLoader(float[] data, int count, int features, int batchSize, SeededRandom random, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if ((long)count * features > data.Length)
            throw new ArgumentException($"data has {data.Length} values but [count={count}, features={features}] needs {(long)count * features}", nameof(data));
        _data = data;
        _order = new int[count];
        _shuffle = shuffle;
        Random = random;
        Count = count;
        Features = features;
        BatchSize = Math.Min(batchSize, count);   // a batch larger than the data is the whole data (and needs no larger buffer)
        _position = -1;
    }

    /// <summary>Number of rows per epoch.</summary>
    public int Count { get; }
    /// <summary>Values per row.</summary>
    public int Features { get; }
    /// <summary>Maximum rows per batch (the batch size asked for, at most <see cref="Count"/>); a batch buffer needs BatchSize * Features floats.</summary>
    public int BatchSize { get; }
    /// <summary>Batches per epoch, ceil(Count / BatchSize).</summary>
    public int BatchesPerEpoch => (Count + BatchSize - 1) / BatchSize;
    /// <summary>Number of epochs started so far.</summary>
    public int Epoch { get; private set; }
    /// <summary>The generator used for shuffling.</summary>
    public SeededRandom Random { get; }

    /// <summary>Original row indices of the most recent batch, [rows]; use them to gather labels or paired data.</summary>
    public ReadOnlySpan<int> CurrentIndices => _order.AsSpan(_currentStart, _currentRows);

    /// <summary>The row order of the current epoch, [Count].</summary>
    public ReadOnlySpan<int> EpochOrder => _order;

    /// <summary>Starts a new epoch: resets the order to 0..Count-1 and, if shuffling, permutes it.</summary>
    public void StartEpoch()
    {
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_shuffle) Random.Shuffle(_order);
        _position = 0;
        _currentStart = 0;
        _currentRows = 0;
        Epoch++;
    }

    /// <summary>
    /// Copies the next batch into <paramref name="batch"/> as [rows, Features] (row-major, from the start).
    /// </summary>
    /// <param name="batch">Destination, at least BatchSize * Features long; values past rows * Features are untouched.</param>
    /// <param name="rows">Rows in this batch: BatchSize, or fewer for the last batch.</param>
    /// <returns>False when the epoch is exhausted (call <see cref="StartEpoch"/> again).</returns>
    /// <exception cref="InvalidOperationException"><see cref="StartEpoch"/> was never called.</exception>
    public bool TryNextBatch(Span<float> batch, out int rows)
    {
        if (_position < 0) throw new InvalidOperationException("call StartEpoch() before TryNextBatch()");
        if (batch.Length < BatchSize * Features)
            throw new ArgumentException($"batch buffer has {batch.Length} floats but [BatchSize={BatchSize}, Features={Features}] needs {BatchSize * Features}", nameof(batch));
        rows = Math.Min(BatchSize, Count - _position);
        if (rows <= 0)
        {
            rows = 0;
            _currentRows = 0;
            return false;
        }
        _currentStart = _position;
        _currentRows = rows;
        Gather(_data, Features, CurrentIndices, batch);
        _position += rows;
        return true;
    }

    /// <summary>
    /// Copies rows <paramref name="indices"/> of <paramref name="source"/> [*, width] into
    /// <paramref name="destination"/> [indices.Length, width]. Use it with <see cref="CurrentIndices"/> to gather
    /// labels (width 1) or a paired array (e.g. clean targets for noisy inputs).
    /// </summary>
    public static void Gather<T>(ReadOnlySpan<T> source, int width, ReadOnlySpan<int> indices, Span<T> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (destination.Length < indices.Length * width)
            throw new ArgumentException($"destination has {destination.Length} elements but {indices.Length} rows of {width} need {indices.Length * width}", nameof(destination));
        for (int r = 0; r < indices.Length; r++)
            source.Slice(indices[r] * width, width).CopyTo(destination.Slice(r * width, width));
    }
}
