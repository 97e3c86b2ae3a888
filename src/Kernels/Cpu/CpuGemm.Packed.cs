using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralCore.Kernels.Cpu;

public static unsafe partial class CpuGemm
{
    /// <summary>
    /// op(B) of a product packed once, whole, for products that reuse the same B (a weight read by several shards of
    /// a batch): per k block of <see cref="Blocked"/> (at k offset pc), all NR-column micro-panels of every column,
    /// starting at pc * <see cref="PaddedColumns"/>. Any block and column strip of a product is then a slice of it,
    /// the same values <see cref="PackB"/> would write, so products give the same bits either way.
    /// </summary>
    internal sealed class PackedOperand
    {
        private float[] _storage = [];

        /// <summary>Rows of op(B) (the product's depth).</summary>
        public int K { get; private set; }
        /// <summary>Columns of op(B).</summary>
        public int N { get; private set; }
        /// <summary>Columns rounded up to whole micro-panels.</summary>
        public int PaddedColumns { get; private set; }
        /// <summary>The 64-byte aligned start of the packing (the array is pinned).</summary>
        public float* Pointer { get; private set; }

        public bool Fits(int k, int n) => K == k && N == n;

        /// <summary>Floats of storage the packing of a [k, n] op(B) needs.</summary>
        public static long Length(int k, int n) => (long)k * ((n + NR - 1) / NR * NR) + 16;

        /// <summary>Floats of storage held.</summary>
        public long Capacity => _storage.Length;

        /// <summary>Packs op(B), B stored [k, n] (or [n, k] when <paramref name="transpose"/>), reusing the storage when it is large enough.</summary>
        public void Pack(float[] b, int k, int n, bool transpose)
        {
            CheckRange(b, 0, (long)k * n, nameof(b));
            int padded = (n + NR - 1) / NR * NR;
            long length = Length(k, n);
            if (length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), $"a packed {k}x{n} operand exceeds the largest array");
            if (_storage.Length < length)
            {
                _storage = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
                float* p = (float*)Unsafe.AsPointer(ref _storage[0]);
                Pointer = (float*)(((nint)p + 63) & ~(nint)63);
            }
            K = k; N = n; PaddedColumns = padded;
            if (k == 0 || n == 0) return;
            int ldb = transpose ? k : n, kStep = KStep(k);
            fixed (float* pb = b)
                for (int pc = 0; pc < k; pc += kStep)
                    PackB(pb, ldb, transpose, pc, 0, Math.Min(kStep, k - pc), n, Pointer + (long)pc * padded);
        }
    }

    /// <summary>Where a product finds its packed B (null <see cref="Pointer"/>: it packs B itself); <see cref="Column"/>
    /// is the first column of the strip being computed.</summary>
    private readonly struct PackedView(float* pointer, int paddedColumns, int column)
    {
        public float* Pointer { get; } = pointer;
        public int PaddedColumns { get; } = paddedColumns;
        public int Column { get; init; } = column;

        /// <summary>The micro-panels of the k block at <paramref name="pc"/> (depth <paramref name="kc"/>) from column <paramref name="column"/> on.</summary>
        public float* Panel(int pc, int column, int kc) => Pointer + (long)pc * PaddedColumns + (long)column * kc;
    }

    /// <summary>
    /// What a product does to each finished tile of C before moving on: add a bias row (bias[j] to column j) and then
    /// a ReLU, the numbers of a separate row-broadcast add and ReLU over C (the same float operations, in the same
    /// order), without reading C back from memory. The default does nothing.
    /// </summary>
    internal readonly struct Epilogue(float* bias, bool relu)
    {
        private readonly float* _bias = bias;
        private readonly bool _relu = relu;

        /// <summary>Whether it does anything.</summary>
        public bool Active => _bias != null || _relu;
        /// <summary>The bias of the first column (null: none).</summary>
        public float* Bias => _bias;
        /// <summary>Whether a ReLU follows the bias.</summary>
        public bool Relu => _relu;

        /// <summary>The ReLU of <see cref="Apply"/> on one vector: 0 where v &lt;= 0, v elsewhere (NaN stays NaN).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Relu512(Vector512<float> v) =>
            Vector512.ConditionalSelect(Vector512.LessThanOrEqual(v, Vector512<float>.Zero), Vector512<float>.Zero, v);

        /// <summary>The same epilogue for a product whose columns start at <paramref name="column"/> of this one's.</summary>
        public Epilogue From(int column) => _bias == null ? this : new Epilogue(_bias + column, _relu);

        /// <summary>Applies it to rows x cols of C at c (row stride ldc), whose first column is <paramref name="column"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(float* c, int ldc, int rows, int cols, int column)
        {
            if (_bias == null && !_relu) return;
            for (int i = 0; i < rows; i++, c += ldc)
            {
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; j + 16 <= cols; j += 16)
                    {
                        var v = Vector512.Load(c + j);
                        if (_bias != null) v += Vector512.Load(_bias + column + j);
                        if (_relu) v = Relu512(v);
                        v.Store(c + j);
                    }
                }
                for (; j < cols; j++)
                {
                    float v = c[j];
                    if (_bias != null) v += _bias[column + j];
                    if (_relu) v = v <= 0f ? 0f : v;
                    c[j] = v;
                }
            }
        }
    }
}
