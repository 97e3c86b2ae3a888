using System.Diagnostics;
using Xunit.Abstractions;

namespace NeuralCore.Models.Tests.Fuzz;

/// <summary>
/// Seeded byte-level mutations of valid files: bit flips, byte insertions and deletions, truncation, interesting
/// byte values, duplicated slices, and a format-specific "field" mutation supplied by each reader's test.
/// </summary>
public sealed class Mutator(ulong seed)
{
    private static readonly byte[] InterestingBytes = [0x00, 0xFF, 0x7F, 0x80, (byte)'"', (byte)',', (byte)'{', (byte)'}', (byte)'\n', (byte)'-', (byte)'9', (byte)'e'];

    public SeededRandom Random { get; } = new(seed);

    /// <summary>Applies one to three mutations; <paramref name="field"/> changes a format field (header value, JSON token, CSV cell).</summary>
    public (byte[] Bytes, string Description) Mutate(byte[] input, Func<byte[], SeededRandom, (byte[], string)>? field = null)
    {
        var bytes = input;
        var steps = new List<string>();
        int count = 1 + Random.NextInt(3);
        for (int i = 0; i < count; i++)
        {
            var (next, what) = field != null && Random.NextInt(3) == 0 ? field(bytes, Random) : MutateBytes(bytes);
            bytes = next;
            steps.Add(what);
        }
        return (bytes, string.Join("; ", steps));
    }

    private (byte[], string) MutateBytes(byte[] b)
    {
        var r = Random;
        var list = new List<byte>(b);
        int pos = b.Length == 0 ? 0 : r.NextInt(b.Length);
        switch (r.NextInt(6))
        {
            case 0 when b.Length > 0:
                int bit = r.NextInt(8);
                list[pos] ^= (byte)(1 << bit);
                return (list.ToArray(), $"flip bit {bit} of byte {pos}");
            case 1:
                int n = 1 + r.NextInt(8);
                var inserted = new byte[n];
                for (int i = 0; i < n; i++) inserted[i] = (byte)r.NextUInt();
                list.InsertRange(pos, inserted);
                return (list.ToArray(), $"insert {n} bytes at {pos}");
            case 2 when b.Length > 0:
                int len = Math.Min(1 + r.NextInt(16), b.Length - pos);
                list.RemoveRange(pos, len);
                return (list.ToArray(), $"delete {len} bytes at {pos}");
            case 3:
                return (b[..pos], $"truncate to {pos} bytes");
            case 4 when b.Length > 0:
                byte v = InterestingBytes[r.NextInt(InterestingBytes.Length)];
                list[pos] = v;
                return (list.ToArray(), $"set byte {pos} to 0x{v:X2}");
            default:
                int start = b.Length == 0 ? 0 : r.NextInt(b.Length);
                int size = Math.Min(1 + r.NextInt(64), b.Length - start);
                list.InsertRange(b.Length == 0 ? 0 : r.NextInt(b.Length), b.Skip(start).Take(size));
                return (list.ToArray(), $"duplicate {size} bytes from {start}");
        }
    }
}

/// <summary>Runs a reader over many mutated inputs: each must be parsed or rejected with the reader's own exception type.</summary>
public static class FuzzLoop
{
    public sealed record Outcome(int Parsed, int Rejected, TimeSpan Elapsed);

    /// <param name="output">Receives the counts and time.</param>
    /// <param name="name">The reader, for the report.</param>
    /// <param name="cases">Number of mutated inputs.</param>
    /// <param name="seed">Seed of the mutations (failures name the case to replay).</param>
    /// <param name="next">Produces case i's input and a description, from the mutator.</param>
    /// <param name="parse">Parses one input and checks the invariants of an accepted one.</param>
    /// <param name="isOwnError">True for the reader's own exception type.</param>
    public static Outcome Run(ITestOutputHelper output, string name, int cases, ulong seed, Func<Mutator, int, (byte[] Bytes, string Description)> next,
        Action<byte[]> parse, Func<Exception, bool> isOwnError)
    {
        var mutator = new Mutator(seed);
        var clock = Stopwatch.StartNew();
        int parsed = 0, rejected = 0;
        var failures = new List<string>();
        for (int i = 0; i < cases; i++)
        {
            var (bytes, description) = next(mutator, i);
            try
            {
                parse(bytes);
                parsed++;
            }
            catch (Exception e) when (isOwnError(e))
            {
                rejected++;
                if (e.Message.Contains('\n') || e.Message.Length == 0) failures.Add($"case {i} ({description}): message is not one line: {e.Message}");
            }
            catch (Exception e)
            {
                failures.Add($"case {i} ({description}): {e.GetType().Name}: {e.Message} [input base64 {Convert.ToBase64String(bytes.Take(300).ToArray())}]");
            }
        }
        var outcome = new Outcome(parsed, rejected, clock.Elapsed);
        output.WriteLine($"{name}: {cases} mutated inputs, {parsed} parsed, {rejected} rejected cleanly, {outcome.Elapsed.TotalSeconds:F2} s");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} inputs failed with a foreign exception:\n" + string.Join("\n", failures.Take(10)));
        return outcome;
    }
}
