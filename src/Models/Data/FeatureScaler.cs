using System.Text;
using System.Text.Json;

namespace NeuralCore.Models.Data;

/// <summary>
/// Per-feature min-max scaling to [0, 1]: <c>x' = (x - min) / (max - min)</c>, fitted on training data
/// [rows, features]. NaN (missing) values are ignored when fitting and stay NaN when transforming. A
/// constant column maps to 0 (and back to its constant); a column with no finite values gets min 0, max 1
/// (identity). Values outside the fitted range are not clipped, so test data may fall outside [0, 1].
/// Serialisable to JSON so it can be stored next to a model.
/// </summary>
public sealed class FeatureScaler
{
    private const string Kind = "minmax";
    private readonly float[] _min;
    private readonly float[] _max;

    /// <summary>Creates a scaler from known per-feature ranges, each [features], with min &lt;= max, all finite.</summary>
    public FeatureScaler(float[] min, float[] max)
    {
        ArgumentNullException.ThrowIfNull(min);
        ArgumentNullException.ThrowIfNull(max);
        if (min.Length != max.Length || min.Length == 0)
            throw new ArgumentException($"min has {min.Length} features and max has {max.Length}; both must have the same non-zero length");
        for (int f = 0; f < min.Length; f++)
        {
            if (!float.IsFinite(min[f]) || !float.IsFinite(max[f]) || min[f] > max[f])
                throw new ArgumentException($"feature {f}: range [{min[f]}, {max[f]}] is not a finite range with min <= max");
        }
        _min = (float[])min.Clone();
        _max = (float[])max.Clone();
    }

    /// <summary>Number of features.</summary>
    public int FeatureCount => _min.Length;
    /// <summary>Fitted minimum per feature, [FeatureCount].</summary>
    public IReadOnlyList<float> Min => _min;
    /// <summary>Fitted maximum per feature, [FeatureCount].</summary>
    public IReadOnlyList<float> Max => _max;

    /// <summary>Fits the per-feature range of <paramref name="data"/> [rows, features], ignoring NaN.</summary>
    /// <exception cref="ArgumentException">Length not a multiple of <paramref name="features"/>, or an infinity.</exception>
    public static FeatureScaler Fit(ReadOnlySpan<float> data, int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (data.Length % features != 0)
            throw new ArgumentException($"data has {data.Length} values, not a multiple of {features} features; expected [rows, {features}]", nameof(data));
        var min = new float[features];
        var max = new float[features];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        for (int i = 0; i < data.Length; i++)
        {
            float v = data[i];
            if (float.IsNaN(v)) continue;
            if (float.IsInfinity(v)) throw new ArgumentException($"row {i / features}, feature {i % features} is {v}; cannot scale infinities", nameof(data));
            int f = i % features;
            if (v < min[f]) min[f] = v;
            if (v > max[f]) max[f] = v;
        }
        for (int f = 0; f < features; f++)
        {
            if (min[f] > max[f]) { min[f] = 0f; max[f] = 1f; } // no finite values at all
        }
        return new FeatureScaler(min, max);
    }

    /// <summary>Scales <paramref name="data"/> [rows, FeatureCount] in place to the fitted [0, 1] range.</summary>
    public void Transform(Span<float> data)
    {
        CheckShape(data.Length);
        for (int i = 0; i < data.Length; i++)
        {
            int f = i % _min.Length;
            float range = _max[f] - _min[f];
            data[i] = range > 0f ? (data[i] - _min[f]) / range : data[i] - data[i]; // constant column -> 0, NaN stays NaN
        }
    }

    /// <summary>Maps scaled values [rows, FeatureCount] back to the original units, in place.</summary>
    public void InverseTransform(Span<float> data)
    {
        CheckShape(data.Length);
        for (int i = 0; i < data.Length; i++)
        {
            int f = i % _min.Length;
            data[i] = _min[f] + data[i] * (_max[f] - _min[f]);
        }
    }

    /// <summary>Returns a scaled copy of <paramref name="data"/> [rows, FeatureCount].</summary>
    public float[] Transformed(ReadOnlySpan<float> data)
    {
        float[] copy = data.ToArray();
        Transform(copy);
        return copy;
    }

    /// <summary>Writes the scaler as a JSON object <c>{"kind":"minmax","min":[...],"max":[...]}</c>
    /// (floats in shortest round-trip form) into an open writer, e.g. inside a model's metadata.</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("kind", Kind);
        writer.WriteStartArray("min");
        foreach (float v in _min) writer.WriteNumberValue(v);
        writer.WriteEndArray();
        writer.WriteStartArray("max");
        foreach (float v in _max) writer.WriteNumberValue(v);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The scaler as a compact JSON string (see <see cref="WriteJson"/>).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) WriteJson(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a scaler from a JSON element written by <see cref="WriteJson"/>.</summary>
    /// <exception cref="DataFormatException">Not a min-max scaler object, arrays of different length, bad values.</exception>
    public static FeatureScaler FromJson(JsonElement element)
    {
        try
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String || kind.GetString() != Kind)
                throw new DataFormatException($"feature scaler JSON: expected an object with \"kind\":\"{Kind}\"; the file was not written by FeatureScaler");
            float[] min = ReadFloats(element, "min");
            float[] max = ReadFloats(element, "max");
            return new FeatureScaler(min, max);
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException($"feature scaler JSON: {e.Message}; the stored scaler is corrupt, refit it", e);
        }
    }

    /// <summary>Reads a scaler from a JSON string written by <see cref="ToJson"/>.</summary>
    /// <exception cref="DataFormatException">Invalid JSON or not a scaler.</exception>
    public static FeatureScaler FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new DataFormatException($"feature scaler JSON is not valid JSON ({e.Message}); the stored scaler is corrupt, refit it", e);
        }
    }

    private static float[] ReadFloats(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new DataFormatException($"feature scaler JSON: missing array \"{name}\"; the stored scaler is corrupt, refit it");
        var result = new float[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetSingle(out result[i]))
                throw new DataFormatException($"feature scaler JSON: \"{name}\"[{i}] is not a float; the stored scaler is corrupt, refit it");
            i++;
        }
        return result;
    }

    private void CheckShape(int length)
    {
        if (length % _min.Length != 0)
            throw new ArgumentException($"data has {length} values, not a multiple of the scaler's {_min.Length} features; expected [rows, {_min.Length}]");
    }
}
