using NeuralCore.Models.Applications;

namespace NeuralCore.Models.Tests.Applications;

public class PcaTests
{
    [Fact]
    public void Jacobi_KnownSymmetricMatrix()
    {
        // [[2, 1], [1, 2]] has eigenvalues 3 (vector (1, 1)/sqrt2) and 1 (vector (1, -1)/sqrt2)
        var (values, vectors) = SymmetricEigen.Jacobi([2, 1, 1, 2], 2);
        Assert.Equal(3, values[0], 12);
        Assert.Equal(1, values[1], 12);
        Assert.Equal(1 / Math.Sqrt(2), Math.Abs(vectors[0]), 12);
        Assert.Equal(vectors[0], vectors[1], 12);
        Assert.Equal(vectors[2], -vectors[3], 12);
    }

    [Fact]
    public void Top_MatchesAKnownSpectrumOfA200DimensionalMatrix()
    {
        // A = Q diag(λ) Qᵀ with a random orthonormal Q and λ_i = 100 · 0.9^i: the top 32 must come back exactly.
        const int n = 200, k = 32;
        var random = new SeededRandom(5);
        var q = new double[n * n];
        for (int i = 0; i < q.Length; i++) q[i] = random.NextGaussian();
        GramSchmidt(q, n);
        var lambda = Enumerable.Range(0, n).Select(i => 100 * Math.Pow(0.9, i)).ToArray();
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int m = 0; m < n; m++) s += q[m * n + i] * lambda[m] * q[m * n + j];
                a[i * n + j] = s;
            }
        var (values, vectors) = SymmetricEigen.Top(a, n, k);
        for (int i = 0; i < k; i++)
        {
            Assert.Equal(lambda[i], values[i], 8);
            double dot = 0;
            for (int m = 0; m < n; m++) dot += vectors[i * n + m] * q[i * n + m];
            Assert.Equal(1.0, Math.Abs(dot), 6);              // same direction up to sign
        }
    }

    [Fact]
    public void Fit_RecoversTheAxesAndVariancesOfAStretchedCloud()
    {
        // points along (3, 4)/5 with spread 10 and along (-4, 3)/5 with spread 1, centred at (1, 2)
        var random = new SeededRandom(1);
        const int count = 4000;
        var rows = new float[count * 2];
        for (int i = 0; i < count; i++)
        {
            float a = 10 * random.NextGaussian(), b = random.NextGaussian();
            rows[2 * i] = 1 + a * 0.6f - b * 0.8f;
            rows[2 * i + 1] = 2 + a * 0.8f + b * 0.6f;
        }
        var pca = Pca.Fit(rows, count, 2, 2);
        Assert.Equal(1, pca.Mean[0], 0.5);
        Assert.Equal(2, pca.Mean[1], 0.5);
        Assert.Equal(100, pca.ExplainedVariance[0], 100 * 0.08);
        Assert.Equal(1, pca.ExplainedVariance[1], 0.08);
        Assert.Equal(0.6, Math.Abs(pca.Components[0]), 0.01);
        Assert.Equal(0.8, Math.Abs(pca.Components[1]), 0.01);
        Assert.Equal(pca.TotalVariance, pca.ExplainedVariance.Sum(), 6);

        // all components: reconstruction is exact; one component: the error is the variance along the second axis
        Assert.True(pca.ReconstructionErrors(rows, count).Max() < 1e-8);
        var one = Pca.Fit(rows, count, 2, 1);
        Assert.Equal(one.TotalVariance - one.ExplainedVariance[0], one.ReconstructionErrors(rows, count).Average() * 2, 0.05);
    }

    private static void GramSchmidt(double[] rows, int n)
    {
        for (int k = 0; k < n; k++)
        {
            for (int j = 0; j < k; j++)
            {
                double dot = 0;
                for (int m = 0; m < n; m++) dot += rows[j * n + m] * rows[k * n + m];
                for (int m = 0; m < n; m++) rows[k * n + m] -= dot * rows[j * n + m];
            }
            double norm = Math.Sqrt(Enumerable.Range(0, n).Sum(m => rows[k * n + m] * rows[k * n + m]));
            for (int m = 0; m < n; m++) rows[k * n + m] /= norm;
        }
    }
}
