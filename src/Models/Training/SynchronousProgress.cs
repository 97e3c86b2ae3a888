namespace NeuralCore.Models.Training;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its action at once, on the reporting thread, in order. (The framework's
/// <see cref="Progress{T}"/> posts each report to the thread pool or the captured synchronization context, so in
/// a console program its reports can arrive late and out of order.)
/// </summary>
/// <typeparam name="T">The report type, e.g. <see cref="TrainingProgress"/>.</typeparam>
/// <param name="report">Called with every report.</param>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    private readonly Action<T> _report = report ?? throw new ArgumentNullException(nameof(report));

    /// <inheritdoc/>
    public void Report(T value) => _report(value);
}
