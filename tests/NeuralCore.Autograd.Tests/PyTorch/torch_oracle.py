#!/usr/bin/python3
"""PyTorch's answers for the differential test (PyTorchDifferentialTests.cs).

For every op of the engine's catalogue (TensorOps: unary, binary with broadcasting, matmul, linear, reductions,
shapes, convolutions, losses) on random values and on edge values (+-0, subnormals, +-88, +-1e20, +-3e38, +-Inf,
NaN), this computes with PyTorch in float32 the forward value and the gradients of every input for a random
upstream gradient, and writes them to the JSON file named on the command line.

Every array is written as the uint32 bit patterns of its float32 values (exact, and NaN/Inf survive JSON).
Each expected array comes with a "scale" array of the same shape: the magnitude its tolerance is relative to
(docs/design.md, "Differences from PyTorch"). For elementwise results that is |value|; for results that add many
terms (sums, products, convolutions, broadcast gradients, losses) it is the same computation on the terms'
absolute values, so a sum that cancels to near 0 is judged against the size of what was added.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
f32 = torch.float32

INF, NAN = math.inf, math.nan
# The edge values of the issue plus the points where formulas switch (softplus at 20, exp's overflow near 88.7).
EDGE = [0.0, -0.0, 1e-40, -1e-40, 1e-7, -1e-7, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 8.0, -8.0, 17.0, -17.0, 20.0, -20.0,
        21.0, -21.0, 88.0, -88.0, 88.7, -88.7, 100.0, -100.0, 1e20, -1e20, 3e38, -3e38, INF, -INF, NAN]
# For sums: no +-3e38 (whether a partial sum of them overflows depends on the summation order, PyTorch's too).
SUM_EDGE = [0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0, 1e20, -1e20, INF, -INF, NAN]

cases = []


def bits(t):
    t = t.detach().to(f32).contiguous().reshape(-1)
    return t.view(torch.int32).tolist()


def arr(t):
    t = t.detach().to(f32)
    return {"shape": list(t.shape), "bits": [b & 0xFFFFFFFF for b in bits(t)]}


def tensor(values, shape=None):
    t = torch.tensor(values, dtype=f32)
    return t.reshape(shape) if shape is not None else t


def run(fn, inputs, upstream=None):
    """fn(*inputs) and the inputs' gradients for the upstream gradient (random normal when None); zero gradients for
    an op that has none (argmin, one_hot: the engine records no backward for them either)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    y = fn(*leaves)
    if not y.requires_grad:
        return y.detach(), torch.zeros(y.shape, dtype=f32), [torch.zeros_like(x) for x in leaves]
    g = torch.randn(y.shape, dtype=f32) if upstream is None else upstream
    grads = torch.autograd.grad(y, leaves, g, allow_unused=True)
    grads = [torch.zeros_like(x) if d is None else d for d, x in zip(grads, leaves)]
    return y.detach(), g, [d.detach() for d in grads]


def add(name, op, inputs, fn, params=None, magnitude=None, upstream=None):
    """One case. magnitude(inputs, upstream) gives the scale arrays (output, grads); default |value|."""
    y, g, grads = run(fn, inputs, upstream)
    if magnitude is None:
        scale_y, scale_grads = y.abs(), [d.abs() for d in grads]
    else:
        scale_y, scale_grads = magnitude([x.detach() for x in inputs], g)
    cases.append({
        "name": name, "op": op, "params": params or {},
        "inputs": [arr(x) for x in inputs], "upstream": arr(g),
        "output": arr(y), "output_scale": arr(scale_y),
        "grads": [arr(d) for d in grads], "grad_scales": [arr(s) for s in scale_grads],
    })


def on_abs(fn):
    """Scale of a sum of products: the same computation on |inputs| and |upstream|."""
    def magnitude(inputs, g):
        y, _, grads = run(fn, [x.abs() for x in inputs], g.abs())
        return y.abs(), [d.abs() for d in grads]
    return magnitude


# ---- unary ops ---------------------------------------------------------------------------------------------------

K = math.sqrt(2 / math.pi)


def gelu_magnitude(inputs, g):
    # 0.5 x (1 + t): 1 + t cancels for x << 0, in PyTorch's float formula too; judged against 0.5 |x| (1 + |t|).
    # y' = 0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3c x^2): judged against the sum of the two terms' sizes.
    x = inputs[0].double()
    t = torch.tanh(K * (x + 0.044715 * x ** 3))
    y = 0.5 * x.abs() * (1 + t.abs())
    d = 0.5 * (1 + t.abs()) + (0.5 * x * (1 - t * t) * K * (1 + 3 * 0.044715 * x * x)).abs()
    return y.nan_to_num(nan=0.0), [(d * g.double().abs()).nan_to_num(nan=0.0)]


def silu_magnitude(inputs, g):
    # y' = s (1 + x (1 - s)) cancels where 1 + x (1 - s) = 0 (x near -1.28): judged against s (1 + |x| (1 - s)).
    x = inputs[0].double()
    s = torch.sigmoid(x)
    d = s * (1 + x.abs() * (1 - s))
    return (x * s).abs().nan_to_num(nan=0.0), [(d * g.double().abs()).nan_to_num(nan=0.0)]


UNARY = [
    # op, torch function of (x, alpha), alphas, positive random values
    ("neg", lambda x, a: -x, [0.0], False),
    ("exp", lambda x, a: torch.exp(x), [0.0], False),
    ("log", lambda x, a: torch.log(x), [0.0], True),
    ("sqrt", lambda x, a: torch.sqrt(x), [0.0], True),
    ("abs", lambda x, a: torch.abs(x), [0.0], False),
    ("relu", lambda x, a: F.relu(x), [0.0], False),
    ("leaky_relu", lambda x, a: F.leaky_relu(x, a), [0.01, 0.2, 1.5], False),
    ("sigmoid", lambda x, a: torch.sigmoid(x), [0.0], False),
    ("tanh", lambda x, a: torch.tanh(x), [0.0], False),
    ("softplus", lambda x, a: F.softplus(x), [0.0], False),
    ("pow", lambda x, a: x.pow(a), [0.0, 1.0, 2.0, 3.0, 0.5, -1.0, 2.5, -0.5], True),
    ("scale", lambda x, a: x * a, [-1.5, 0.0, 1e30], False),
    ("add_scalar", lambda x, a: x + a, [0.75, -1e20], False),
    ("silu", lambda x, a: F.silu(x), [0.0], False),
    ("gelu", lambda x, a: F.gelu(x, approximate="tanh"), [0.0], False),
]


def unary_magnitude(op):
    if op == "gelu":
        return gelu_magnitude
    if op == "silu":
        return silu_magnitude
    if op in ("sigmoid", "tanh"):
        # y' = y - y^2 resp. 1 - y^2, from the rounded y (PyTorch's formula too), cancels as |y| -> 1: judged against
        # the terms' sizes, |y| + y^2 resp. 1 + y^2
        def magnitude(inputs, g):
            x = inputs[0].double()
            y = torch.sigmoid(x) if op == "sigmoid" else torch.tanh(x)
            d = y.abs() + y * y if op == "sigmoid" else 1 + y * y
            return y.abs().nan_to_num(nan=0.0), [(d * g.double().abs()).nan_to_num(nan=0.0)]
        return magnitude
    return None


def unary_cases():
    random = torch.cat([torch.randn(64) * 3, torch.randn(16) * 1e-3, torch.rand(16) * 40 - 20]).to(f32)
    for op, fn, alphas, positive in UNARY:
        for alpha in alphas:
            tag = op if len(alphas) == 1 else f"{op} {alpha:g}"
            params = {"alpha": alpha}
            f = (lambda a: (lambda x: fn(x, a)))(alpha)
            magnitude = unary_magnitude(op)
            values = random.abs() if positive else random
            add(f"{tag} random", op, [values], f, params, magnitude)
            add(f"{tag} edges", op, [tensor(EDGE)], f, params, magnitude)
            # three at a time: the CPU backend runs spans shorter than a vector through the scalar forms
            for i in range(0, len(EDGE), 3):
                add(f"{tag} edges[{i}..] short", op, [tensor(EDGE[i:i + 3])], f, params, magnitude)


# ---- binary ops with broadcasting ----------------------------------------------------------------------------------

BINARY = [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]
SHAPES = [([3, 4], [3, 4]), ([3, 4], [4]), ([3, 1], [1, 4]), ([2, 3, 4], [3, 1]), ([4], [2, 3, 4]), ([2, 3], []), ([], [5])]


def binary_cases():
    for op, fn in BINARY:
        # |a| op |b| with sub taken as add: the size of the terms each gradient sums
        magnitude_fn = torch.add if op == "sub" else fn
        for sa, sb in SHAPES:
            a = torch.randn(sa, dtype=f32) * 2
            b = torch.randn(sb, dtype=f32) * 2
            if op == "div":
                b = b.sign() * (b.abs() + 0.5)
            add(f"{op} {sa} {sb}", op, [a, b], fn, magnitude=on_abs(magnitude_fn))
        # every pair of edge values, elementwise (no reduction in the gradients) and as an outer broadcast
        e = len(EDGE)
        a = tensor(EDGE).repeat_interleave(e)
        b = tensor(EDGE).repeat(e)
        add(f"{op} edge pairs", op, [a, b], fn, magnitude=on_abs(magnitude_fn))
        add(f"{op} edge outer", op, [tensor(SUM_EDGE, [len(SUM_EDGE), 1]), tensor(SUM_EDGE, [1, len(SUM_EDGE)])], fn,
            magnitude=on_abs(magnitude_fn))


# ---- matrix products, reductions, shapes, convolutions ------------------------------------------------------------------


def sprinkle(t, count):
    """t with count elements replaced by edge values suitable for sums, at random positions."""
    t = t.clone().reshape(-1)
    idx = torch.randperm(t.numel())[:count]
    for j, i in enumerate(idx.tolist()):
        t[i] = SUM_EDGE[j % len(SUM_EDGE)]
    return t


def product_cases():
    for ta in (False, True):
        for tb in (False, True):
            m, k, n = 5, 7, 4
            a = torch.randn([k, m] if ta else [m, k], dtype=f32)
            b = torch.randn([n, k] if tb else [k, n], dtype=f32)

            def f(a, b, ta=ta, tb=tb):
                return (a.t() if ta else a) @ (b.t() if tb else b)
            name = f"matmul {'A^T' if ta else 'A'} {'B^T' if tb else 'B'}"
            add(name, "matmul", [a, b], f, {"transpose_a": ta, "transpose_b": tb}, on_abs(f))
    a, b = torch.randn(6, 9, dtype=f32), torch.randn(9, 5, dtype=f32)
    a = sprinkle(a, 8).reshape(6, 9)
    add("matmul edges", "matmul", [a, b], lambda a, b: a @ b, {"transpose_a": False, "transpose_b": False},
        on_abs(lambda a, b: a @ b))
    x, w, bias = torch.randn(4, 3, dtype=f32), torch.randn(5, 3, dtype=f32), torch.randn(5, dtype=f32)
    add("linear", "linear", [x, w, bias], F.linear, magnitude=on_abs(F.linear))


REDUCTIONS = [
    ("sum all", "sum", {}, lambda x: x.sum()),
    ("sum axis 1", "sum", {"axes": [1]}, lambda x: x.sum(1)),
    ("sum axis -1 keepdim", "sum", {"axes": [-1], "keepdim": True}, lambda x: x.sum(-1, keepdim=True)),
    ("sum axes 0,2", "sum", {"axes": [0, 2]}, lambda x: x.sum([0, 2])),
    ("sum axes 2,0 keepdim", "sum", {"axes": [2, 0], "keepdim": True}, lambda x: x.sum([2, 0], keepdim=True)),
    ("mean all", "mean", {}, lambda x: x.mean()),
    ("mean axis 0", "mean", {"axes": [0]}, lambda x: x.mean(0)),
    ("mean axes 1,2", "mean", {"axes": [1, 2]}, lambda x: x.mean([1, 2])),
    ("mean axes -1,0 keepdim", "mean", {"axes": [-1, 0], "keepdim": True}, lambda x: x.mean([-1, 0], keepdim=True)),
]


def reduction_cases():
    x = torch.randn(2, 3, 4, dtype=f32)
    for name, op, params, fn in REDUCTIONS:
        add(name, op, [x], fn, params, on_abs(fn))
        add(name + " edges", op, [sprinkle(x, 11).reshape(2, 3, 4)], fn, params, on_abs(fn))


def shape_cases():
    x = sprinkle(torch.randn(2, 3, 4, dtype=f32), 11).reshape(2, 3, 4)
    add("reshape [2,3,4] -> [4,6]", "reshape", [x], lambda x: x.reshape(4, 6), {"shape": [4, 6]})
    add("reshape [2,3,4] -> [-1,3]", "reshape", [x], lambda x: x.reshape(-1, 3), {"shape": [-1, 3]})
    add("transpose [2,3,4]", "transpose", [x], lambda x: x.transpose(-1, -2))
    add("slice axis 1", "slice", [x], lambda x: x[:, 1:3], {"axis": 1, "start": 1, "length": 2})
    add("slice axis -1", "slice", [x], lambda x: x[..., 3:4], {"axis": -1, "start": 3, "length": 1})
    add("slice rows", "slice", [x], lambda x: x[1:2], {"axis": 0, "start": 1, "length": 1})
    y = torch.randn(2, 2, 4, dtype=f32)
    add("concat axis 1", "concat", [x, y], lambda x, y: torch.cat([x, y], 1), {"axis": 1})
    z = torch.randn(1, 3, 4, dtype=f32)
    add("concat axis 0", "concat", [x, z, x], lambda x, z, w: torch.cat([x, z, w], 0), {"axis": 0})


def convolution_cases():
    for stride, pad in [(1, 0), (1, 1), (2, 1)]:
        x, w, b = torch.randn(2, 2, 5, 5, dtype=f32), torch.randn(3, 2, 3, 3, dtype=f32), torch.randn(3, dtype=f32)

        def f(x, w, b, s=stride, p=pad):
            return F.conv2d(x, w, b, stride=s, padding=p)
        params = {"stride": stride, "padding": pad}
        add(f"conv2d s={stride} p={pad}", "conv2d", [x, w, b], f, params, on_abs(f))
        # edge values in the input only: PyTorch multiplies padding zeros by the weights, the engine skips them,
        # so an infinite weight would differ at the border (documented)
        xe = sprinkle(x, 11).reshape(x.shape)
        add(f"conv2d s={stride} p={pad} edges", "conv2d", [xe, w, b], f, params, on_abs(f))
    for stride, pad, out_pad in [(1, 0, 0), (2, 1, 1), (2, 0, 1)]:
        x, w, b = torch.randn(2, 3, 3, 3, dtype=f32), torch.randn(3, 2, 3, 3, dtype=f32), torch.randn(2, dtype=f32)

        def f(x, w, b, s=stride, p=pad, o=out_pad):
            return F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=o)
        params = {"stride": stride, "padding": pad, "output_padding": out_pad}
        add(f"conv_transpose2d s={stride} p={pad} op={out_pad}", "conv_transpose2d", [x, w, b], f, params, on_abs(f))


# ---- permutation, indexing, masked convolution, softmax cross-entropy ------------------------------------------------
# Indices (gather's rows, one_hot's and cross_entropy's classes) go in the parameters: the engine holds them as floats
# in a tensor, PyTorch as int64. PyTorch refuses invalid indices, so only valid ones are compared here; the conformance
# suite covers what the engine does with invalid ones (NaN).


def indexing_cases():
    x = sprinkle(torch.randn(2, 3, 4, 5, dtype=f32), 13).reshape(2, 3, 4, 5)
    for axes in ([0, 2, 3, 1], [0, 3, 1, 2], [3, 1, 0, 2], [-1, 0, 1, -2]):
        add(f"permute {axes} edges", "permute", [x], (lambda a: (lambda x: x.permute(*a)))(axes), {"axes": axes})

    table = sprinkle(torch.randn(6, 4, dtype=f32), 9).reshape(6, 4)
    for shape in ([7], [2, 5]):
        n = math.prod(shape)
        idx = torch.randint(0, 6, [n])
        idx[:3] = torch.tensor([5, 0, 5])   # a repeated row and both ends
        f = (lambda i, s: (lambda t: t[i.reshape(s)]))(idx, shape)
        add(f"gather {shape} edges", "gather", [table], f, {"indices": idx.tolist(), "indices_shape": shape},
            on_abs(f))

    # embedding_bag in sum mode: taps rows of the table summed per result row (repeats, both ends, +-Inf meeting NaN)
    for shape in ([4, 3], [2, 3, 5]):
        n = math.prod(shape)
        idx = torch.randint(0, 6, [n])
        idx[:4] = torch.tensor([5, 5, 0, 0])
        f = (lambda i, s: (lambda t: F.embedding_bag(i.reshape(-1, s[-1]), t, mode="sum").reshape(*s[:-1], t.shape[1])))(idx, shape)
        add(f"gather_sum {shape} edges", "gather_sum", [table], f, {"indices": idx.tolist(), "indices_shape": shape},
            on_abs(f))

    for k in (1, 5):
        idx = torch.randint(0, k, [2, 3])
        f = (lambda i, k: (lambda x: F.one_hot(i, k).to(f32) + 0 * x.sum()))(idx, k)
        add(f"one_hot {k} classes edges", "one_hot", [torch.zeros(1, dtype=f32)], lambda x, f=f: f(x).detach(),
            {"indices": idx.reshape(-1).tolist(), "indices_shape": [2, 3], "classes": k})

    # ties (few distinct values), +-0, +-Inf and NaN, along every axis
    v = torch.randint(-2, 3, [4, 5, 6]).to(f32)
    v.view(-1)[torch.randperm(v.numel())[:12]] = tensor([0.0, -0.0, INF, -INF, NAN, 0.0, -0.0, INF, -INF, 1e-40, 3e38, -3e38])
    v[0, 0, 0] = NAN
    v[1, :, 2] = NAN
    for op in ("argmin", "argmax"):
        for axis, keep in ((0, False), (1, True), (-1, False), (2, True)):
            f = (lambda op, a, k: (lambda x: getattr(torch, op)(x, a, keepdim=k).to(f32)))(op, axis, keep)
            add(f"{op} axis {axis} keepdim={keep} edges", op, [v], f, {"axis": axis, "keepdim": keep})

    for kind in ("A", "B"):
        for ks in (3, 5):
            x, w, b = torch.randn(2, 3, 6, 6, dtype=f32), torch.randn(4, 3, ks, ks, dtype=f32), torch.randn(4, dtype=f32)
            c = ks // 2
            mask = torch.ones(ks, ks)
            mask[c, c + (1 if kind == "B" else 0):] = 0
            mask[c + 1:, :] = 0

            def f(x, w, b, m=mask, p=c):
                return F.conv2d(x, w * m, b, padding=p)
            params = {"mask": kind, "kernel": ks, "padding": c}
            add(f"masked_conv2d {kind} {ks}x{ks}", "masked_conv2d", [x, w, b], f, params, on_abs(f))
            xe = sprinkle(x, 11).reshape(x.shape)
            add(f"masked_conv2d {kind} {ks}x{ks} edges", "masked_conv2d", [xe, w, b], f, params, on_abs(f))

    cross_entropy_cases()


def cross_entropy_magnitude(targets, reduction):
    """Per position, the loss ln(s) - (x_t - m) is judged against 1 + |ln s| + |x_t - m|: s = sum exp(x - m) >= 1 is
    rounded to float, so ln s carries an absolute error of a few ulps of 1 even where the loss is near 0 (the target's
    logit far above the rest). The gradient g (p - onehot) is judged against |g| (p + onehot) (its form g p - g
    cancels at the target). In double."""
    def magnitude(inputs, g):
        x = inputs[0].double()
        t = targets
        m = x.amax(1, keepdim=True)
        e = torch.exp(x - m)
        s = e.sum(1, keepdim=True)
        xt = x.gather(1, t.unsqueeze(1))
        per = (1 + torch.log(s).abs() + (xt - m).abs()).squeeze(1)
        n = t.numel() if reduction == "mean" else 1
        onehot = F.one_hot(t, x.shape[1]).movedim(-1, 1).double()
        gp = g.double().abs() if reduction == "none" else g.double().abs().expand(t.shape) / n
        dx = gp.unsqueeze(1) * (e / s + onehot)
        y = per if reduction == "none" else per.sum() / n
        return y.nan_to_num(nan=0.0, posinf=0.0), [dx.nan_to_num(nan=0.0, posinf=0.0)]
    return magnitude


def cross_entropy_cases():
    rows = [[1.0, 2.0, 3.0, 0.5], [3e38, -3e38, 0.0, 1.0], [1e20, 1e20, -1e20, 0.0], [-INF, 0.0, 1.0, 2.0],
            [-INF, -INF, -INF, -INF], [INF, 1.0, 2.0, 3.0], [NAN, 1.0, 2.0, 3.0], [88.7, -88.7, 0.0, 1e-40],
            [0.0, -0.0, 0.0, 0.0], [100.0, -100.0, 20.0, -20.0], [-INF, 5.0, -INF, -INF], [1e-7, -1e-7, 17.0, -17.0]]
    edge = tensor(rows)
    edge_targets = torch.tensor([2, 0, 1, 0, 1, 2, 3, 1, 3, 0, 1, 2])
    for reduction in ("none", "sum", "mean"):
        cases_ = [("random", torch.randn(6, 5, dtype=f32) * 3, torch.randint(0, 5, [6])),
                  ("edges", edge, edge_targets),
                  ("[2,4,3,3] random", torch.randn(2, 4, 3, 3, dtype=f32) * 2, torch.randint(0, 4, [2, 3, 3]))]
        for name, x, t in cases_:
            f = (lambda t, r: (lambda x: F.cross_entropy(x, t, reduction=r)))(t, reduction)
            add(f"cross_entropy {reduction} {name}", "cross_entropy", [x], f,
                {"targets": t.reshape(-1).tolist(), "reduction": reduction}, cross_entropy_magnitude(t, reduction))


# ---- losses ----------------------------------------------------------------------------------------------------------


def reduce(total, n, reduction):
    return total / n if reduction == "mean" else total


def loss_cases():
    for reduction in ("sum", "mean"):
        params = {"reduction": reduction}
        r = reduction

        # mse: terms >= 0; the gradients 2 (a - b) g are elementwise
        p, t = torch.randn(3, 4, dtype=f32) * 2, torch.rand(3, 4, dtype=f32)
        add(f"mse {r}", "mse", [p, t], lambda p, t: F.mse_loss(p, t, reduction=r), params)
        pe = tensor(EDGE)
        te = torch.rand(len(EDGE), dtype=f32)
        add(f"mse {r} edges", "mse", [pe, te], lambda p, t: F.mse_loss(p, t, reduction=r), params)

        # bce: PyTorch refuses probabilities outside [0, 1] (and NaN), so the edges are the ends of [0, 1]
        def bce_magnitude(inputs, g):
            p, t = inputs[0].double(), inputs[1].double()
            lp, lq = torch.log(p).clamp_min(-100), torch.log(1 - p).clamp_min(-100)
            terms = (t * lp).abs() + ((1 - t) * lq).abs()
            n = p.numel() if r == "mean" else 1
            y = terms.sum() / n
            dp = (p - t).abs() / ((1 - p) * p).clamp_min(1e-12) * g.double().abs() / n
            dt = (lp.abs() + lq.abs()) * g.double().abs() / n
            return y, [dp, dt]
        p, t = torch.rand(3, 4, dtype=f32) * 0.9 + 0.05, torch.rand(3, 4, dtype=f32)
        add(f"bce {r}", "bce", [p, t], lambda p, t: F.binary_cross_entropy(p, t, reduction=r), params, bce_magnitude)
        pe = tensor([0.0, 1.0, 1e-40, 1e-7, 0.5, 1 - 2 ** -24, 0.999, 0.25, 1e-30, 0.75])
        te = tensor([0.0, 1.0, 0.3, 0.0, 1.0, 1.0, 0.5, 0.25, 0.0, 1.0])
        add(f"bce {r} edges", "bce", [pe, te], lambda p, t: F.binary_cross_entropy(p, t, reduction=r), params,
            bce_magnitude)

        def logits_magnitude(inputs, g):
            a, t = inputs[0].double(), inputs[1].double()
            n = a.numel() if r == "mean" else 1
            terms = a.clamp_min(0) + (a * t).abs() + torch.log1p(torch.exp(-a.abs()))
            da = (torch.sigmoid(a) + t.abs()) * g.double().abs() / n
            return (terms.sum() / n).nan_to_num(nan=0.0), [da.nan_to_num(nan=0.0), (a * g.double() / n).abs()]
        a, t = torch.randn(3, 4, dtype=f32) * 3, torch.rand(3, 4, dtype=f32)
        f = (lambda r: (lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction=r)))(r)
        add(f"bce_with_logits {r}", "bce_with_logits", [a, t], f, params, logits_magnitude)
        add(f"bce_with_logits {r} edges", "bce_with_logits", [tensor(EDGE), torch.rand(len(EDGE), dtype=f32)], f, params,
            logits_magnitude)
        # every term finite, but max(a, 0) and a b summed apart would overflow
        huge = tensor([3e38, 3e38, -3e38, -3e38, 1e20, 1e20])
        add(f"bce_with_logits {r} huge", "bce_with_logits", [huge, tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])], f, params,
            logits_magnitude)

        # KL(N(mu, e^lv) || N(0, I)) = -0.5 sum(1 + lv - mu^2 - e^lv), written out as the engine defines it
        def kl(mu, lv, r=r):
            return reduce(-0.5 * (1 + lv - mu * mu - lv.exp()).sum(), mu.numel(), r)

        def kl_magnitude(inputs, g):
            mu, lv = inputs[0].double(), inputs[1].double()
            n = mu.numel() if r == "mean" else 1
            y = 0.5 * (1 + lv.abs() + mu * mu + lv.exp()).sum() / n
            gm = g.double().abs() / n
            return y.nan_to_num(nan=0.0), [(mu * gm).abs(), (0.5 * (lv.exp() + 1) * gm).nan_to_num(nan=0.0)]
        mu, lv = torch.randn(3, 2, dtype=f32), torch.randn(3, 2, dtype=f32)
        add(f"gaussian_kl {r}", "gaussian_kl", [mu, lv], kl, params, kl_magnitude)
        add(f"gaussian_kl {r} edges", "gaussian_kl", [torch.randn(len(EDGE), dtype=f32), tensor(EDGE)], kl, params,
            kl_magnitude)
        add(f"gaussian_kl {r} edge means", "gaussian_kl", [tensor(EDGE), torch.randn(len(EDGE), dtype=f32)], kl, params,
            kl_magnitude)
        # overflowing log-variances: +inf (sums of lv and exp(lv) taken apart would give inf - inf)
        add(f"gaussian_kl {r} huge", "gaussian_kl", [torch.randn(6, dtype=f32), tensor([3e38, 3e38, 88.7, 0.0, -1e20, 1.0])],
            kl, params, kl_magnitude)
        add(f"gaussian_kl {r} prior", "gaussian_kl", [torch.zeros(6, dtype=f32), torch.zeros(6, dtype=f32)], kl, params,
            kl_magnitude)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_oracle.py OUTPUT.json")
    unary_cases()
    binary_cases()
    product_cases()
    reduction_cases()
    shape_cases()
    convolution_cases()
    indexing_cases()
    loss_cases()
    with open(sys.argv[1], "w") as out:
        json.dump({"torch": torch.__version__, "cases": cases}, out)


if __name__ == "__main__":
    main()
