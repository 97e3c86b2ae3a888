using System.Runtime.InteropServices;

namespace NeuralCore.Models.IO;

/// <summary>What is at a path: nothing, a directory, a regular file, or a special file (FIFO, device, socket).</summary>
internal enum FileKind
{
    Missing,
    Directory,
    Regular,
    Special,
}

/// <summary>Reads the type of a file (stat's S_IFMT bits), which .NET does not expose: FileAttributes call a device "Normal".</summary>
internal static partial class FileKinds
{
    private const int TypeMask = 0xF000, TypeDirectory = 0x4000, TypeRegular = 0x8000;

    /// <summary>The kind of file at <paramref name="path"/> (links followed).</summary>
    public static FileKind Of(string path)
    {
        if (Directory.Exists(path)) return FileKind.Directory;
        if (!File.Exists(path)) return FileKind.Missing;
        if (OperatingSystem.IsWindows()) return FileKind.Regular;
        int? mode = Mode(path);
        if (mode == null)   // the runtime's native helper is not there (an unusual host): judge by the folder
            return path.StartsWith("/dev/", StringComparison.Ordinal) ? FileKind.Special : FileKind.Regular;
        return (mode.Value & TypeMask) switch
        {
            TypeRegular => FileKind.Regular,
            TypeDirectory => FileKind.Directory,
            _ => FileKind.Special,
        };
    }

    private static unsafe int? Mode(string path)
    {
        // System.Native is the runtime's own POSIX layer (what File and FileStream call); its FileStatus starts with
        // int32 Flags, int32 Mode on every platform. The buffer is larger than the struct has ever been.
        byte* status = stackalloc byte[512];
        try { return Stat(path, status) == 0 ? *(int*)(status + 4) : null; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    /// <summary>
    /// Whether descriptor <paramref name="fd"/> accepts writes. A closed standard output may hold another file by then
    /// (the runtime opens its own pipes on the lowest free descriptors), so being open is not enough: a write of zero
    /// bytes fails on a descriptor that is closed or open only for reading.
    /// </summary>
    public static unsafe bool IsWritable(int fd)
    {
        if (OperatingSystem.IsWindows()) return true;
        byte nothing = 0;
        try { return Write(fd, &nothing, 0) >= 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return true; }
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Write")]
    private static unsafe partial int Write(nint fd, byte* buffer, int count);

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* status);
}
