namespace NeuralCore.Models.Data;

/// <summary>
/// A data file (IDX, CSV, scaler JSON) is malformed. The message is one line naming the file, the problem
/// and what to do about it, so a command-line tool can print it as is.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public DataFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and the low-level cause.</summary>
    public DataFormatException(string message, Exception innerException) : base(message, innerException) { }
}
