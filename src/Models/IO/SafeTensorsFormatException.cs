namespace NeuralCore.Models.IO;

/// <summary>
/// A safetensors file is malformed or holds something this engine cannot load (a dtype other than F32,
/// an unexpected tensor shape). The message is one line naming the file and the problem.
/// </summary>
public sealed class SafeTensorsFormatException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public SafeTensorsFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and the low-level cause.</summary>
    public SafeTensorsFormatException(string message, Exception innerException) : base(message, innerException) { }
}
