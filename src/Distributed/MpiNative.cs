using System.Runtime.InteropServices;

namespace NeuralCore.Distributed;

/// <summary>
/// The few MPI calls the reducer needs, bound to Open MPI's libmpi.so.40 (Debian's <c>libopenmpi3</c>). Open MPI's
/// handles (communicator, datatype, error handler) are addresses of global objects in libmpi, so they are looked up
/// by symbol name once libmpi is loaded. libmpi is loaded with RTLD_GLOBAL before the first call: Open MPI's
/// components are plugins that resolve libmpi's symbols from the global namespace.
/// </summary>
internal static partial class MpiNative
{
    private const string Library = "neuralcore-mpi";   // resolved by Load to the libmpi found
    public const int Success = 0;

    private static nint _handle;
    public static nint CommWorld { get; private set; }
    public static nint Float { get; private set; }
    public static nint Int { get; private set; }
    public static nint ErrorsReturn { get; private set; }

    /// <summary>The library names tried, in order (NEURALCORE_LIBMPI first when set).</summary>
    public static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("NEURALCORE_LIBMPI") is { Length: > 0 } given) yield return given;
        yield return "libmpi.so.40";
        yield return "libmpi.so";
    }

    /// <summary>Loads libmpi globally and finds Open MPI's predefined handles; throws a one-line error when it cannot.</summary>
    public static void Load()
    {
        if (_handle != 0) return;
        if (!OperatingSystem.IsLinux()) throw new MpiException("MPI training needs Linux with Open MPI (libmpi.so.40)");
        var tried = new List<string>();
        foreach (string name in Candidates())
        {
            _handle = dlopen(name, RtldNow | RtldGlobal);
            if (_handle != 0) break;
            tried.Add(name);
        }
        if (_handle == 0)
            throw new MpiException($"could not load libmpi ({string.Join(", ", tried)}); install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or set NEURALCORE_LIBMPI to its libmpi.so");
        NativeLibrary.SetDllImportResolver(typeof(MpiNative).Assembly, (name, _, _) => name == Library ? _handle : 0);
        CommWorld = Symbol("ompi_mpi_comm_world");
        Float = Symbol("ompi_mpi_float");
        Int = Symbol("ompi_mpi_int");
        ErrorsReturn = Symbol("ompi_mpi_errors_return");
    }

    private static nint Symbol(string name) => NativeLibrary.TryGetExport(_handle, name, out var address) ? address
        : throw new MpiException($"libmpi has no '{name}'; NeuralCore's MPI layer needs Open MPI (its handles are that library's objects)");

    private const int RtldNow = 2, RtldGlobal = 0x100;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlopen(string file, int mode);

    /// <summary>Sleeps <paramref name="microseconds"/> (a waiting rank's pause between polls: far finer than Thread.Sleep's millisecond).</summary>
    [LibraryImport("libc", EntryPoint = "usleep")] public static partial int usleep(uint microseconds);

    [LibraryImport(Library)] public static partial int MPI_Initialized(out int flag);
    [LibraryImport(Library)] public static partial int MPI_Init(nint argc, nint argv);
    [LibraryImport(Library)] public static partial int MPI_Finalize();
    [LibraryImport(Library)] public static partial int MPI_Comm_rank(nint comm, out int rank);
    [LibraryImport(Library)] public static partial int MPI_Comm_size(nint comm, out int size);
    [LibraryImport(Library)] public static partial int MPI_Comm_set_errhandler(nint comm, nint handler);
    [LibraryImport(Library)] public static partial int MPI_Abort(nint comm, int errorCode);
    [LibraryImport(Library)] public static unsafe partial int MPI_Isend(void* buffer, int count, nint datatype, int destination, int tag, nint comm, out nint request);
    [LibraryImport(Library)] public static unsafe partial int MPI_Irecv(void* buffer, int count, nint datatype, int source, int tag, nint comm, out nint request);
    [LibraryImport(Library)] public static unsafe partial int MPI_Ibcast(void* buffer, int count, nint datatype, int root, nint comm, out nint request);
    [LibraryImport(Library)] public static partial int MPI_Test(ref nint request, out int flag, nint status);
    [LibraryImport(Library)] public static unsafe partial int MPI_Error_string(int errorCode, byte* text, out int length);

    /// <summary>The text of an MPI error code.</summary>
    public static unsafe string ErrorText(int code)
    {
        var text = stackalloc byte[512];   // MPI_MAX_ERROR_STRING is 256 in Open MPI
        return MPI_Error_string(code, text, out int length) == Success ? System.Text.Encoding.UTF8.GetString(text, length) : $"MPI error {code}";
    }
}

/// <summary>A failure of MPI itself (no libmpi, a call that returned an error, a peer that stopped answering).</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception with its one-line message.</summary>
    public MpiException(string message) : base(message) { }

    /// <summary>Creates the exception with its message and the exception it adds to.</summary>
    public MpiException(string message, Exception? innerException) : base(message, innerException) { }
}
