using System.Numerics.Tensors;

namespace NeuralCore.Models.Applications;

/// <summary>
/// Eigenvalues and eigenvectors of real symmetric matrices, in double precision: the cyclic Jacobi method for
/// small matrices (all pairs) and subspace iteration with Rayleigh-Ritz for the top few of a large one
/// (e.g. the leading 32 principal directions of a [784, 784] covariance).
/// </summary>
internal static class SymmetricEigen
{
    /// <summary>
    /// All eigenpairs of the symmetric [n, n] <paramref name="matrix"/> (row-major; only read), by the cyclic
    /// Jacobi method. Returns eigenvalues in decreasing order and the matching unit eigenvectors as rows [n, n].
    /// O(n³) per sweep: meant for n up to a few hundred.
    /// </summary>
    public static (double[] Values, double[] Vectors) Jacobi(ReadOnlySpan<double> matrix, int n, int maxSweeps = 100)
    {
        if (matrix.Length != n * n) throw new ArgumentException($"eigen: expected a [{n}, {n}] matrix, got {matrix.Length} values");
        RequireFinite(matrix);
        var a = matrix.ToArray();
        var v = new double[n * n];   // columns accumulate the rotations: A = V diag V^T
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        for (int sweep = 0; sweep < maxSweeps; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { double x = a[i * n + j] * a[i * n + j]; total += x; if (i != j) off += x; }
            if (off <= 1e-30 * Math.Max(total, 1e-300)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p * n + q];
                    if (apq == 0) continue;
                    // rotation angle that zeroes a[p, q] (Golub & Van Loan, Algorithm 8.4.1)
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
        }
        var order = Enumerable.Range(0, n).OrderByDescending(i => a[i * n + i]).ToArray();
        var values = order.Select(i => a[i * n + i]).ToArray();
        var vectors = new double[n * n];
        for (int r = 0; r < n; r++)
            for (int k = 0; k < n; k++) vectors[r * n + k] = v[k * n + order[r]];
        return (values, vectors);
    }

    /// <summary>
    /// The <paramref name="count"/> largest eigenpairs of the symmetric positive semi-definite [n, n]
    /// <paramref name="matrix"/> by subspace iteration: a block of count + oversampling vectors is multiplied by
    /// the matrix and re-orthonormalised each step, with a Rayleigh-Ritz rotation (Jacobi on the small projected
    /// matrix) so that each vector converges to one eigenvector. Stops when the top eigenvalues change by less
    /// than <paramref name="tolerance"/> (relative) between steps. Returns eigenvalues in decreasing order and unit
    /// eigenvectors as rows [count, n].
    /// </summary>
    public static (double[] Values, double[] Vectors) Top(double[] matrix, int n, int count, ulong seed = 0,
                                                          double tolerance = 1e-12, int maxIterations = 1000)
    {
        if (matrix.Length != n * n) throw new ArgumentException($"eigen: expected a [{n}, {n}] matrix, got {matrix.Length} values");
        if (count < 1 || count > n) throw new ArgumentOutOfRangeException(nameof(count), $"eigen: can find 1 to {n} eigenpairs, asked for {count}");
        RequireFinite(matrix);
        int block = Math.Min(n, Math.Max(count + 8, 2 * count));
        if (block == n && n <= 64)
        {
            var (allValues, allVectors) = Jacobi(matrix, n);
            return (allValues[..count], allVectors[..(count * n)]);
        }
        var random = SeededRandom.ForStream(seed, RandomStream.Eigen);
        var q = new double[block * n];   // rows are the current basis vectors
        for (int i = 0; i < q.Length; i++) q[i] = random.NextGaussian();
        Orthonormalize(q, block, n, random);
        var y = new double[block * n];
        var h = new double[block * block];
        double[] previous = new double[count];
        double[] values = [];
        double[] ritz = [];
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            Multiply(matrix, n, q, y, block);                       // y_j = A q_j
            for (int i = 0; i < block; i++)                          // h = Q^T A Q
                for (int j = i; j < block; j++)
                    h[i * block + j] = h[j * block + i] = TensorPrimitives.Dot<double>(q.AsSpan(i * n, n), y.AsSpan(j * n, n));
            (values, ritz) = Jacobi(h, block);
            bool converged = iteration > 0;
            for (int k = 0; k < count; k++)
                if (Math.Abs(values[k] - previous[k]) > tolerance * Math.Max(Math.Abs(values[0]), 1e-300)) converged = false;
            if (converged) break;
            Array.Copy(values, previous, count);
            Rotate(y, ritz, block, n, q);                            // q_k = sum_j ritz[k, j] y_j = A (Ritz vector k)
            Orthonormalize(q, block, n, random);
        }
        var vectors = new double[count * n];
        Rotate(q, ritz, count, n, vectors);                          // the Ritz vectors of the last projection
        for (int k = 0; k < count; k++)
        {
            var row = vectors.AsSpan(k * n, n);
            double norm = Math.Sqrt(TensorPrimitives.Dot<double>(row, row));
            TensorPrimitives.Multiply<double>(row, 1 / norm, row);
        }
        return (values[..count], vectors);
    }

    /// <summary>y_j = A x_j for the <paramref name="rows"/> vectors stored as rows of x and y (A symmetric, so rows of A serve as columns).</summary>
    private static void Multiply(double[] a, int n, double[] x, double[] y, int rows) =>
        Parallel.For(0, n, i =>
        {
            var ai = a.AsSpan(i * n, n);
            for (int j = 0; j < rows; j++) y[j * n + i] = TensorPrimitives.Dot<double>(ai, x.AsSpan(j * n, n));
        });

    /// <summary>target_k = sum_j weights[j, k] source_j for k &lt; <paramref name="count"/> (weights' columns are Ritz vectors).</summary>
    private static void Rotate(double[] source, double[] weightsAsRows, int count, int n, double[] target)
    {
        // Jacobi returns eigenvectors as rows, so the coefficient of source_j in Ritz vector k is weightsAsRows[k, j].
        int block = source.Length / n;
        Array.Clear(target, 0, count * n);
        for (int k = 0; k < count; k++)
        {
            var t = target.AsSpan(k * n, n);
            for (int j = 0; j < block; j++)
                TensorPrimitives.MultiplyAdd<double>(source.AsSpan(j * n, n), weightsAsRows[k * block + j], t, t);
        }
    }

    /// <summary>Modified Gram-Schmidt, twice for stability; a vector that collapses is replaced by a fresh random one.</summary>
    private static void Orthonormalize(double[] rows, int count, int n, SeededRandom random)
    {
        for (int k = 0; k < count; k++)
        {
            var v = rows.AsSpan(k * n, n);
            for (int attempt = 0; ; attempt++)
            {
                double before = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
                for (int pass = 0; pass < 2; pass++)
                    for (int j = 0; j < k; j++)
                    {
                        var u = rows.AsSpan(j * n, n);
                        TensorPrimitives.MultiplyAdd<double>(u, -TensorPrimitives.Dot<double>(u, v), v, v);
                    }
                double norm = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
                if (norm > 1e-10 * Math.Max(before, 1e-300) && norm > 1e-300)
                {
                    TensorPrimitives.Multiply<double>(v, 1 / norm, v);
                    break;
                }
                if (attempt > 5) throw new InvalidOperationException("eigen: could not extend the basis (matrix too small?)");
                for (int i = 0; i < n; i++) v[i] = random.NextGaussian();
            }
        }
    }

    /// <summary>Refuses NaN and infinities, on which the iterations would never converge (or would return NaN).</summary>
    private static void RequireFinite(ReadOnlySpan<double> matrix)
    {
        for (int i = 0; i < matrix.Length; i++)
        {
            if (!double.IsFinite(matrix[i])) throw new ArgumentException($"eigen: the matrix holds {matrix[i]} at index {i}; it needs finite values");
        }
    }
}
