namespace NeuralCore.Models.Layers;

/// <summary>Weight initialisation schemes.</summary>
public enum InitScheme
{
    /// <summary>PyTorch's default for Linear/Conv: weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Kaiming-uniform, a = sqrt 5).</summary>
    PyTorchDefault,
    /// <summary>Kaiming (He) normal for ReLU: N(0, 2/fan_in), zero bias.</summary>
    KaimingNormal,
    /// <summary>Xavier (Glorot) uniform: U(±sqrt(6/(fan_in+fan_out))), zero bias.</summary>
    XavierUniform,
}

/// <summary>Draws initial weights from the engine's seeded generator.</summary>
public static class Init
{
    /// <summary>Initial values for a weight with the given fans.</summary>
    public static float[] Weight(InitScheme scheme, SeededRandom random, int count, int fanIn, int fanOut)
    {
        var w = new float[count];
        switch (scheme)
        {
            case InitScheme.PyTorchDefault:
            {
                float bound = 1f / MathF.Sqrt(fanIn);
                random.FillUniform(w, -bound, bound);
                break;
            }
            case InitScheme.KaimingNormal:
                random.FillNormal(w, 0f, MathF.Sqrt(2f / fanIn));
                break;
            case InitScheme.XavierUniform:
            {
                float bound = MathF.Sqrt(6f / (fanIn + fanOut));
                random.FillUniform(w, -bound, bound);
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(scheme), scheme, null);
        }
        return w;
    }

    /// <summary>Initial bias values.</summary>
    public static float[] Bias(InitScheme scheme, SeededRandom random, int count, int fanIn)
    {
        var b = new float[count];
        if (scheme == InitScheme.PyTorchDefault)
        {
            float bound = 1f / MathF.Sqrt(fanIn);
            random.FillUniform(b, -bound, bound);
        }
        return b;
    }
}
