using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralCore.Kernels.Cpu;

// Unrolling image patches into col[CRS, nb*P] and adding col back into images, through a table of tap offsets.
internal static partial class CpuConvolution
{
    /// <summary>
    /// For every kernel tap t = r*S + s and output position p = oh*OW + ow: the offset in one input channel's H x W
    /// plane of the pixel the tap reads there, or -1 where it falls in the padding. [R*S, OH*OW], built once per
    /// geometry (batch and channel counts do not matter) and shared by all threads.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ConvGeometry, int[]> s_tapOffsets = new();

    private static int[] TapOffsets(in ConvGeometry g)
    {
        var key = g with { Batch = 1, InChannels = 1, OutChannels = 1 };
        if (s_tapOffsets.TryGetValue(key, out var table)) return table;
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth, plane = OH * OW;
        table = new int[R * S * plane];
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
        for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
        {
            int ih = oh * g.StrideH - g.PadH + r, iw = ow * g.StrideW - g.PadW + s;
            table[(r * S + s) * plane + oh * OW + ow] = ih >= 0 && ih < H && iw >= 0 && iw < W ? ih * W + iw : -1;
        }
        return s_tapOffsets.GetOrAdd(key, table);
    }

    /// <summary>Checks that images [n, n + nb) lie in <paramref name="images"/> and their col[CRS, nb*P] in <paramref name="col"/>.</summary>
    private static void CheckColRange(float[] images, int n, int nb, float[] col, int ldCol, in ConvGeometry g, string what)
    {
        long imageSize = (long)g.InChannels * g.InHeight * g.InWidth;
        long colSize = (long)g.InChannels * g.KernelHeight * g.KernelWidth * ldCol;
        if (n < 0 || nb < 1 || ldCol < (long)nb * g.OutHeight * g.OutWidth || (n + nb) * imageSize > images.Length || colSize > col.Length)
            throw new ArgumentOutOfRangeException(nameof(col), what + " out of range");
    }

    /// <summary>col[(c*R + r)*S + s, j*P + oh*OW + ow] = x[n + j, c, oh*sh - ph + r, ow*sw - pw + s] (0 outside the image)
    /// for the nb images from n: col is [CRS, nb*P]. Every col row of an image is a gather through
    /// <see cref="TapOffsets"/>: eight pixels per AVX2 gather, with the padding masked to 0 (output rows are 7 or 14
    /// floats with stride 2, too short for row-wise copies).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void Im2Col(float[] x, int n, int nb, float[] col, in ConvGeometry g) =>
        Im2Col(x, n, nb, col, nb * g.OutHeight * g.OutWidth, g);

    /// <summary>As <see cref="Im2Col(float[], int, int, float[], in ConvGeometry)"/> with col rows <paramref name="ldCol"/>
    /// (at least nb*P) floats apart; the columns beyond nb*P are left as they are.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Im2Col(float[] x, int n, int nb, float[] col, int ldCol, in ConvGeometry g)
    {
        CheckColRange(x, n, nb, col, ldCol, g, "im2col");
        int[] taps = TapOffsets(g);
        int channelSize = g.InHeight * g.InWidth, imageSize = g.InChannels * channelSize;
        int tapCount = g.KernelHeight * g.KernelWidth, plane = g.OutHeight * g.OutWidth;
        fixed (float* px = x, pcol = col)
        fixed (int* pt = taps)
        {
            bool narrow = IsNarrow(g);
            for (int j = 0; j < nb; j++)
            {
                float* image = px + (long)(n + j) * imageSize, columns = pcol + j * plane;
                if (narrow)
                {
                    Im2ColNarrow(image, columns, ldCol, g);
                    continue;
                }
                for (int c = 0; c < g.InChannels; c++)
                for (int t = 0; t < tapCount; t++)
                    Gather(image + (long)c * channelSize, pt + t * plane, columns + (long)(c * tapCount + t) * ldCol, plane);
            }
        }
    }

    /// <summary>Whether <see cref="Im2ColNarrow"/> handles the geometry: input rows of at most 32 floats (two vectors),
    /// output rows of at most 32 (two vectors), kernels at most 8 wide (the MNIST layers: 28 -> 14, 14 -> 7, 28 -> 28).</summary>
    private static bool IsNarrow(in ConvGeometry g) =>
        Avx512F.IsSupported && g.InWidth <= 32 && g.OutWidth <= 32 && g.KernelWidth <= 8;

    /// <summary>
    /// im2col of one image, row by row: an input row is loaded once into two vectors and every kernel column s picks
    /// its output row out of them with one two-source permute (lanes ow*sw - pw + s), padding masked to 0; one masked
    /// store writes the OW floats. Per image and channel this is R*OH loads and R*S*OH permutes, where the gather path
    /// needs R*S*P/8 gathers of eight single loads each (most of the forward time of a one-channel layer).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Im2ColNarrow(float* image, float* columns, int ldCol, in ConvGeometry g)
    {
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth;
        if (W <= 16 && OW <= 8)
        {
            Im2ColRowPairs(image, columns, ldCol, g);
            return;
        }
        int sh = g.StrideH, ph = g.PadH;
        var lanes = Vector512<int>.Indices;
        // per kernel column s: the input lanes of output columns 0..15 (index[2s]) and 16..31 (index[2s + 1]), and which are inside the row
        Vector512<int>* index = stackalloc Vector512<int>[16];
        Vector512<float>* valid = stackalloc Vector512<float>[16];
        for (int s = 0; s < S; s++)
        for (int half = 0; half < 2; half++)
        {
            var i = (lanes + Vector512.Create(16 * half)) * g.StrideW + Vector512.Create(s - g.PadW);
            index[2 * s + half] = i;
            valid[2 * s + half] = (Vector512.GreaterThanOrEqual(i, Vector512<int>.Zero) & Vector512.LessThan(i, Vector512.Create(W))).AsSingle();
        }
        var outMask = Vector512.LessThan(lanes, Vector512.Create(OW)).AsSingle();
        var outMask2 = Vector512.LessThan(lanes, Vector512.Create(OW - 16)).AsSingle();
        bool twoHalves = OW > 16;
        var loMask = Vector512.LessThan(lanes, Vector512.Create(W)).AsSingle();
        var hiMask = Vector512.LessThan(lanes, Vector512.Create(W - 16)).AsSingle();
        for (int c = 0; c < g.InChannels; c++)
        {
            float* channel = image + (long)c * H * W;
            for (int r = 0; r < R; r++)
            {
                float* taps = columns + (long)(c * R + r) * S * ldCol;
                for (int oh = 0; oh < OH; oh++)
                {
                    int ih = oh * sh - ph + r;
                    float* dst = taps + oh * OW;
                    if ((uint)ih >= (uint)H)
                    {
                        for (int s = 0; s < S; s++)
                        {
                            Avx512F.MaskStore(dst + (long)s * ldCol, outMask, Vector512<float>.Zero);
                            if (twoHalves) Avx512F.MaskStore(dst + (long)s * ldCol + 16, outMask2, Vector512<float>.Zero);
                        }
                        continue;
                    }
                    float* row = channel + ih * W;
                    var lo = Avx512F.MaskLoad(row, loMask, Vector512<float>.Zero);
                    var hi = Avx512F.MaskLoad(row + 16, hiMask, Vector512<float>.Zero);
                    for (int s = 0; s < S; s++)
                    {
                        var v = Avx512F.PermuteVar16x32x2(lo, index[2 * s], hi) & valid[2 * s];
                        Avx512F.MaskStore(dst + (long)s * ldCol, outMask, v);
                        if (twoHalves)
                        {
                            var v2 = Avx512F.PermuteVar16x32x2(lo, index[2 * s + 1], hi) & valid[2 * s + 1];
                            Avx512F.MaskStore(dst + (long)s * ldCol + 16, outMask2, v2);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Im2ColNarrow"/> for input rows of at most 16 floats and output rows of at most 8 (conv2 of the MNIST
    /// autoencoder: 14 -> 7): two output rows per vector, taken by one two-source permute from the two input rows they
    /// read, so every permute and store moves 2*OW floats instead of OW.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Im2ColRowPairs(float* image, float* columns, int ldCol, in ConvGeometry g)
    {
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth;
        int sh = g.StrideH, ph = g.PadH;
        var lanes = Vector512<int>.Indices;
        // lanes [0, OW) read the first row, [OW, 2*OW) the second (lanes 16.. of the permute's second source)
        var second = Vector512.GreaterThanOrEqual(lanes, Vector512.Create(OW));
        var column = Vector512.ConditionalSelect(second, lanes - Vector512.Create(OW), lanes);
        Vector512<int>* index = stackalloc Vector512<int>[8];
        Vector512<float>* valid = stackalloc Vector512<float>[8];
        for (int s = 0; s < S; s++)
        {
            var i = column * g.StrideW + Vector512.Create(s - g.PadW);
            index[s] = i + (second & Vector512.Create(16));
            valid[s] = (Vector512.GreaterThanOrEqual(i, Vector512<int>.Zero) & Vector512.LessThan(i, Vector512.Create(W))
                & Vector512.LessThan(lanes, Vector512.Create(2 * OW))).AsSingle();
        }
        var rowMask = Vector512.LessThan(lanes, Vector512.Create(W)).AsSingle();
        var pairMask = Vector512.LessThan(lanes, Vector512.Create(2 * OW)).AsSingle();
        var oneMask = Vector512.LessThan(lanes, Vector512.Create(OW)).AsSingle();
        var z = Vector512<float>.Zero;
        for (int c = 0; c < g.InChannels; c++)
        {
            float* channel = image + (long)c * H * W;
            for (int r = 0; r < R; r++)
            {
                float* taps = columns + (long)(c * R + r) * S * ldCol;
                for (int oh = 0; oh < OH; oh += 2)
                {
                    int ih0 = oh * sh - ph + r, ih1 = ih0 + sh;
                    var a = (uint)ih0 < (uint)H ? Avx512F.MaskLoad(channel + ih0 * W, rowMask, z) : z;
                    var b = oh + 1 < OH && (uint)ih1 < (uint)H ? Avx512F.MaskLoad(channel + ih1 * W, rowMask, z) : z;
                    var store = oh + 1 < OH ? pairMask : oneMask;
                    float* dst = taps + oh * OW;
                    for (int s = 0; s < S; s++)
                        Avx512F.MaskStore(dst + (long)s * ldCol, store, Avx512F.PermuteVar16x32x2(a, index[s], b) & valid[s]);
                }
            }
        }
    }

    /// <summary>destination[i] = offsets[i] &lt; 0 ? 0 : source[offsets[i]].</summary>
    private static unsafe void Gather(float* source, int* offsets, float* destination, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            var none = Vector256.Create(-1);
            for (; i + 8 <= count; i += 8)
            {
                var index = Avx.LoadVector256(offsets + i);
                var inside = Avx2.CompareGreaterThan(index, none).AsSingle();
                Avx.Store(destination + i,
                    Avx2.GatherMaskVector256(Vector256<float>.Zero, source, index, inside, 4));
            }
        }
        for (; i < count; i++)
        {
            int offset = offsets[i];
            destination[i] = offset >= 0 ? source[offset] : 0f;
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col(float[], int, int, float[], in ConvGeometry)"/>: dx[n + j, c, ih, iw] += col[(c*R + r)*S + s, j*P + oh*OW + ow], same col
    /// layout, image by image.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void Col2ImAdd(float[] col, float[] dx, int n, int nb, in ConvGeometry g) =>
        Col2ImAdd(col, nb * g.OutHeight * g.OutWidth, dx, n, nb, g);

    /// <summary>As <see cref="Col2ImAdd(float[], float[], int, int, in ConvGeometry)"/> for one image whose col rows are
    /// <paramref name="ldCol"/> (at least P) floats apart.</summary>
    private static void Col2ImAdd(float[] col, int ldCol, float[] dx, int n, in ConvGeometry g) => Col2ImAdd(col, ldCol, dx, n, 1, g);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Col2ImAdd(float[] col, int ldCol, float[] dx, int n, int nb, in ConvGeometry g)
    {
        CheckColRange(dx, n, nb, col, ldCol, g, "col2im");
        int[] taps = TapOffsets(g);
        int channelSize = g.InHeight * g.InWidth, imageSize = g.InChannels * channelSize;
        int tapCount = g.KernelHeight * g.KernelWidth, plane = g.OutHeight * g.OutWidth;
        fixed (float* pdx = dx, pcol = col)
        fixed (int* pt = taps)
        {
            if (IsNarrow(g))
            {
                for (int j = 0; j < nb; j++) Col2ImAddNarrow(pcol + j * plane, ldCol, pdx + (long)(n + j) * imageSize, g);
                return;
            }
            for (int j = 0; j < nb; j++)
            for (int c = 0; c < g.InChannels; c++)
            {
                float* channel = pdx + (long)(n + j) * imageSize + (long)c * channelSize;
                for (int t = 0; t < tapCount; t++)
                {
                    float* source = pcol + j * plane + (long)(c * tapCount + t) * ldCol;
                    int* offsets = pt + t * plane;
                    for (int p = 0; p < plane; p++)
                    {
                        int offset = offsets[p];
                        if (offset >= 0) channel[offset] += source[p];
                    }
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2ColNarrow"/> for one image: for every kernel row r and output row oh, the input row
    /// it touches is loaded once into two vectors, each kernel column s adds its OW values at lanes ow*sw - pw + s (one
    /// permute and a masked add per half row), and the row is stored back. Every pixel receives its terms in increasing
    /// tap order r*S + s, as in the scalar loop, so the sums have the same bits.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Col2ImAddNarrow(float* columns, int ldCol, float* image, in ConvGeometry g)
    {
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth;
        int sh = g.StrideH, sw = g.StrideW, ph = g.PadH, pw = g.PadW;
        // for kernel column s and input column iw: the output column ow that reads it (iw = ow*sw - pw + s), if any
        int* source = stackalloc int[8 * 32];
        for (int s = 0; s < S; s++)
        for (int iw = 0; iw < 32; iw++)
        {
            int q = iw + pw - s;
            source[s * 32 + iw] = iw < W && q >= 0 && q % sw == 0 && q / sw < OW ? q / sw : -1;
        }
        if (W <= 16 && OW <= 8)
        {
            Col2ImAddRowPairs(columns, ldCol, image, g, source);
            return;
        }
        var lanes = Vector512<int>.Indices;
        var outMask = Vector512.LessThan(lanes, Vector512.Create(OW)).AsSingle();
        var outMask2 = Vector512.LessThan(lanes, Vector512.Create(OW - 16)).AsSingle();
        bool twoHalves = OW > 16;
        var loMask = Vector512.LessThan(lanes, Vector512.Create(W)).AsSingle();
        var hiMask = Vector512.LessThan(lanes, Vector512.Create(W - 16)).AsSingle();
        // per kernel column, hoisted out of the pixel loops: the permutes' lane indices and which lanes they fill
        Vector512<int>* index = stackalloc Vector512<int>[16];
        Vector512<float>* take = stackalloc Vector512<float>[16];
        for (int s = 0; s < S; s++)
        {
            index[2 * s] = Vector512.Load(source + s * 32);
            index[2 * s + 1] = Vector512.Load(source + s * 32 + 16);
            take[2 * s] = Vector512.GreaterThanOrEqual(index[2 * s], Vector512<int>.Zero).AsSingle();
            take[2 * s + 1] = Vector512.GreaterThanOrEqual(index[2 * s + 1], Vector512<int>.Zero).AsSingle();
        }
        bool wide = W > 16;
        for (int c = 0; c < g.InChannels; c++)
        {
            float* channel = image + (long)c * H * W;
            for (int r = 0; r < R; r++)
            {
                float* taps = columns + (long)(c * R + r) * S * ldCol;
                for (int oh = 0; oh < OH; oh++)
                {
                    int ih = oh * sh - ph + r;
                    if ((uint)ih >= (uint)H) continue;
                    float* row = channel + ih * W;
                    var lo = Avx512F.MaskLoad(row, loMask, Vector512<float>.Zero);
                    // the upper half row exists only for rows wider than one vector
                    var hi = wide ? Avx512F.MaskLoad(row + 16, hiMask, Vector512<float>.Zero) : default;
                    for (int s = 0; s < S; s++)
                    {
                        var v = Avx512F.MaskLoad(taps + (long)s * ldCol + oh * OW, outMask, Vector512<float>.Zero);
                        var v2 = twoHalves ? Avx512F.MaskLoad(taps + (long)s * ldCol + oh * OW + 16, outMask2, Vector512<float>.Zero) : default;
                        lo = Vector512.ConditionalSelect(take[2 * s], lo + Avx512F.PermuteVar16x32x2(v, index[2 * s], v2), lo);
                        if (wide) hi = Vector512.ConditionalSelect(take[2 * s + 1], hi + Avx512F.PermuteVar16x32x2(v, index[2 * s + 1], v2), hi);
                    }
                    Avx512F.MaskStore(row, loMask, lo);
                    if (wide) Avx512F.MaskStore(row + 16, hiMask, hi);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Col2ImAddNarrow"/> for input rows of at most 16 floats and output rows of at most 8: one load brings the
    /// col values of two output rows, and each is permuted into the input row it adds to. Every pixel still receives its
    /// terms in increasing tap order, so the sums have the same bits.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Col2ImAddRowPairs(float* columns, int ldCol, float* image, in ConvGeometry g, int* source)
    {
        int H = g.InHeight, W = g.InWidth, R = g.KernelHeight, S = g.KernelWidth, OH = g.OutHeight, OW = g.OutWidth;
        int sh = g.StrideH, ph = g.PadH;
        Vector512<int>* index = stackalloc Vector512<int>[16];
        Vector512<float>* take = stackalloc Vector512<float>[8];
        for (int s = 0; s < S; s++)
        {
            var i = Vector512.Load(source + s * 32);
            index[2 * s] = i;                                  // first output row: col lanes [0, OW)
            index[2 * s + 1] = i + Vector512.Create(OW);       // second: [OW, 2*OW)
            take[s] = Vector512.GreaterThanOrEqual(i, Vector512<int>.Zero).AsSingle();
        }
        var lanes = Vector512<int>.Indices;
        var rowMask = Vector512.LessThan(lanes, Vector512.Create(W)).AsSingle();
        var pairMask = Vector512.LessThan(lanes, Vector512.Create(2 * OW)).AsSingle();
        var oneMask = Vector512.LessThan(lanes, Vector512.Create(OW)).AsSingle();
        var z = Vector512<float>.Zero;
        for (int c = 0; c < g.InChannels; c++)
        {
            float* channel = image + (long)c * H * W;
            for (int r = 0; r < R; r++)
            {
                float* taps = columns + (long)(c * R + r) * S * ldCol;
                for (int oh = 0; oh < OH; oh += 2)
                {
                    int ih0 = oh * sh - ph + r, ih1 = ih0 + sh;
                    bool first = (uint)ih0 < (uint)H, other = oh + 1 < OH && (uint)ih1 < (uint)H;
                    if (!first && !other) continue;
                    float* rowA = channel + ih0 * W, rowB = channel + ih1 * W;
                    var a = first ? Avx512F.MaskLoad(rowA, rowMask, z) : z;
                    var b = other ? Avx512F.MaskLoad(rowB, rowMask, z) : z;
                    var load = oh + 1 < OH ? pairMask : oneMask;
                    float* src = taps + oh * OW;
                    for (int s = 0; s < S; s++)
                    {
                        var v = Avx512F.MaskLoad(src + (long)s * ldCol, load, z);
                        a = Vector512.ConditionalSelect(take[s], a + Avx512F.PermuteVar16x32(v, index[2 * s]), a);
                        b = Vector512.ConditionalSelect(take[s], b + Avx512F.PermuteVar16x32(v, index[2 * s + 1]), b);
                    }
                    if (first) Avx512F.MaskStore(rowA, rowMask, a);
                    if (other) Avx512F.MaskStore(rowB, rowMask, b);
                }
            }
        }
    }
}
