using System.Numerics;

namespace NeuralCore.Kernels.Cpu;

/// <summary>Fused optimiser steps: one pass over parameters, gradients and state, SIMD-wide.</summary>
internal static class CpuOptimizers
{
    public static void Adam(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamParameters h)
    {
        float b1 = h.Beta1, b2 = h.Beta2, lr = h.LearningRate, eps = h.Epsilon, wd = h.WeightDecay;
        float bc1 = 1f / (1f - MathF.Pow(b1, h.Step));
        float bc2 = 1f / (1f - MathF.Pow(b2, h.Step));
        float decay = h.DecoupledWeightDecay ? 1f - lr * wd : 1f;   // AdamW shrinks p first
        float l2 = h.DecoupledWeightDecay ? 0f : wd;                 // Adam adds wd p to the gradient
        int i = 0, w = Vector<float>.Count;
        var vb1 = new Vector<float>(b1); var vb1c = new Vector<float>(1 - b1);
        var vb2 = new Vector<float>(b2); var vb2c = new Vector<float>(1 - b2);
        var vbc1 = new Vector<float>(bc1); var vbc2 = new Vector<float>(bc2);
        var vlr = new Vector<float>(lr); var veps = new Vector<float>(eps);
        var vdecay = new Vector<float>(decay); var vl2 = new Vector<float>(l2);
        for (; i <= p.Length - w; i += w)
        {
            var vp = new Vector<float>(p.Slice(i));
            var vg = new Vector<float>(g.Slice(i)) + vl2 * vp;
            vp *= vdecay;
            var vm = vb1 * new Vector<float>(m.Slice(i)) + vb1c * vg;
            var vv = vb2 * new Vector<float>(v.Slice(i)) + vb2c * vg * vg;
            vm.CopyTo(m.Slice(i));
            vv.CopyTo(v.Slice(i));
            vp -= vlr * (vm * vbc1) / (Vector.SquareRoot(vv * vbc2) + veps);
            vp.CopyTo(p.Slice(i));
        }
        for (; i < p.Length; i++)
        {
            float gi = g[i] + l2 * p[i];
            float pi = p[i] * decay;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] = pi - lr * (m[i] * bc1) / (MathF.Sqrt(v[i] * bc2) + eps);
        }
    }

    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> velocity, float lr, float momentum, float wd)
    {
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] + wd * p[i];
            velocity[i] = momentum * velocity[i] + gi;
            p[i] -= lr * velocity[i];
        }
    }
}
