using System.Diagnostics;
using System.Text.Json;

namespace NeuralCore.AutogradTests.PyTorch;

/// <summary>One float32 array of the oracle: its shape and values.</summary>
public sealed record OracleArray(int[] Shape, float[] Values);

/// <summary>One case of torch_oracle.py: an op, its parameters, inputs and upstream gradient, and PyTorch's answers with
/// the magnitudes their tolerances are relative to.</summary>
public sealed record OracleCase(
    string Name, string Op, JsonElement Parameters, OracleArray[] Inputs, OracleArray Upstream,
    OracleArray Output, OracleArray OutputScale, OracleArray[] Gradients, OracleArray[] GradientScales)
{
    public float Alpha => Parameters.TryGetProperty("alpha", out var a) ? a.GetSingle() : 0f;
    public int Int(string name) => Parameters.GetProperty(name).GetInt32();
    public bool Flag(string name) => Parameters.TryGetProperty(name, out var f) && f.GetBoolean();
    public int[]? Ints(string name) =>
        Parameters.TryGetProperty(name, out var a) ? a.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null;
    public string? Text(string name) => Parameters.TryGetProperty(name, out var t) ? t.GetString() : null;
}

/// <summary>
/// Runs tests/NeuralCore.Autograd.Tests/PyTorch/torch_oracle.py once per test process with <see cref="Python"/> and
/// reads its answers. Where PyTorch cannot be imported, the tests that need it are skipped with
/// the reason, except under CI=1, where they fail: CI installs python3-torch, so a missing one is a broken set-up.
/// </summary>
public static class TorchOracle
{
    /// <summary>/usr/bin/python3 (Debian's python3-torch), or the interpreter NEURALCORE_PYTHON names (e.g. a venv's).</summary>
    public static readonly string Python = Environment.GetEnvironmentVariable("NEURALCORE_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    private static readonly Lazy<string?> Missing = new(FindMissing);
    private static readonly Lazy<(string Version, IReadOnlyList<OracleCase> Cases)> Loaded = new(Load);

    /// <summary>Why the oracle cannot run here, or null when it can.</summary>
    public static string? MissingReason => Missing.Value;

    /// <summary>True when a missing PyTorch must fail the tests (CI=1) instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("CI") is "1" or "true";

    public static string TorchVersion => Loaded.Value.Version;

    public static IReadOnlyList<OracleCase> Cases => Loaded.Value.Cases;

    /// <summary>Skip reason for a test that needs PyTorch: null where it runs (PyTorch present, or CI=1).</summary>
    public static string? SkipReason => Missing.Value != null && !Required
        ? $"{Missing.Value}; install python3-torch to run the differential test against PyTorch (CI=1 makes this a failure)"
        : null;

    private static string? FindMissing()
    {
        if (!File.Exists(Python)) return $"{Python} not found";
        var (code, _, error) = RunPython(["-c", "import torch"], TimeSpan.FromSeconds(120));
        string why = error.Trim().Split('\n').Last();
        return code == 0 ? null : $"{Python} cannot import torch ({(why.Length > 0 ? why : $"exit code {code}")})";
    }

    private static (string, IReadOnlyList<OracleCase>) Load()
    {
        if (Missing.Value != null) throw new InvalidOperationException($"PyTorch is required here (CI=1) but {Missing.Value}");
        string script = FindUp("tests/NeuralCore.Autograd.Tests/PyTorch/torch_oracle.py");
        string output = Path.Combine(Path.GetTempPath(), $"neuralcore-torch-oracle-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            var (code, _, error) = RunPython([script, output], TimeSpan.FromMinutes(5));
            if (code != 0) throw new InvalidOperationException($"torch_oracle.py failed (exit {code}): {error}");
            using var document = JsonDocument.Parse(File.ReadAllBytes(output));
            var root = document.RootElement;
            var cases = root.GetProperty("cases").EnumerateArray().Select(ReadCase).ToList();
            return (root.GetProperty("torch").GetString()!, cases);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static OracleCase ReadCase(JsonElement c) => new(
        c.GetProperty("name").GetString()!, c.GetProperty("op").GetString()!, c.GetProperty("params").Clone(),
        c.GetProperty("inputs").EnumerateArray().Select(ReadArray).ToArray(), ReadArray(c.GetProperty("upstream")),
        ReadArray(c.GetProperty("output")), ReadArray(c.GetProperty("output_scale")),
        c.GetProperty("grads").EnumerateArray().Select(ReadArray).ToArray(),
        c.GetProperty("grad_scales").EnumerateArray().Select(ReadArray).ToArray());

    private static OracleArray ReadArray(JsonElement a) => new(
        a.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        a.GetProperty("bits").EnumerateArray().Select(e => BitConverter.UInt32BitsToSingle(e.GetUInt32())).ToArray());

    private static (int Code, string Output, string Error) RunPython(string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "", $"timed out after {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>The repository file at <paramref name="relative"/>, found from the test binaries upwards.</summary>
    public static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A theory that needs PyTorch: skipped with the reason where it is missing, unless CI=1 (then it fails).</summary>
public sealed class TorchTheoryAttribute : TheoryAttribute
{
    public TorchTheoryAttribute()
    {
        if (TorchOracle.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A fact that needs PyTorch: skipped with the reason where it is missing, unless CI=1 (then it fails).</summary>
public sealed class TorchFactAttribute : FactAttribute
{
    public TorchFactAttribute()
    {
        if (TorchOracle.SkipReason is { } reason) Skip = reason;
    }
}
