#!/usr/bin/env bash
# The VQ-VAE comparison in one go: trains the PyTorch peer (../shared/peers/torch_vqvae_ref.py: VQ-VAE, then a
# PixelCNN prior over its codes) and NeuralCore's `train --model vqvae` + `train-prior` with default settings, same
# seed and epochs, back to back on this machine, then prints both sides' figures and the ratios ours / PyTorch:
# test MSE per pixel, codebook perplexity and codes used, prior test NLL (nats per code and against the entropy of
# the code frequencies, ln perplexity), and the median seconds per epoch of each stage.
#
#   bench/vqvae_compare.sh                       # 10 + 10 epochs, seed 0 (the acceptance run)
#   EPOCHS=2 PRIOR_EPOCHS=2 bench/vqvae_compare.sh   # a quick look
#
# Environment: PEER (default <repo>/../shared/peers/torch_vqvae_ref.py), PYTHON (default /usr/bin/python3), DATA
# (default <repo>/data/mnist-10k), EPOCHS, PRIOR_EPOCHS (default 10 each), SEED (default 0), OUT (default
# <repo>/bench/results/vqvae: torch.json, our run directory and compare.txt). PEER_OPENBLAS_CORETYPE picks the peer's
# OpenBLAS kernels (default: SkylakeX with AVX-512, Haswell with AVX2), as in bench/compare.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER:-$ROOT/../shared/peers/torch_vqvae_ref.py}"
PY="${PYTHON:-/usr/bin/python3}"
DATA="${DATA:-$ROOT/data/mnist-10k}"
EPOCHS="${EPOCHS:-10}"
PRIOR_EPOCHS="${PRIOR_EPOCHS:-10}"
SEED="${SEED:-0}"
OUT="${OUT:-$ROOT/bench/results/vqvae}"
mkdir -p "$OUT"

if [[ ! -f "$PEER" ]]; then echo "vqvae_compare.sh: $PEER not found (set PEER)" >&2; exit 1; fi
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "vqvae_compare.sh: '$PY -c \"import torch\"' fails; install python3-torch (apt-get install -y python3-torch libopenblas0-pthread)" >&2
  exit 1
fi
if [[ -n "${PEER_OPENBLAS_CORETYPE:-}" ]]; then export OPENBLAS_CORETYPE="$PEER_OPENBLAS_CORETYPE"
elif grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell
else unset OPENBLAS_CORETYPE
fi
echo "peer OpenBLAS kernels: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

dotnet build -c Release "$ROOT/src/Cli" -v q -nologo > /dev/null
NC=(dotnet "$ROOT/src/Cli/bin/Release/net10.0/neuralcore.dll")
RUN="$OUT/neuralcore"

echo "== NeuralCore: train --model vqvae ($EPOCHS epochs), train-prior ($PRIOR_EPOCHS epochs), seed $SEED =="
"${NC[@]}" train --model vqvae --data "$DATA" --epochs "$EPOCHS" --seed "$SEED" --out "$RUN" --overwrite --quiet
"${NC[@]}" train-prior --model "$RUN" --epochs "$PRIOR_EPOCHS" --seed "$SEED" --overwrite --quiet
"${NC[@]}" eval --model "$RUN" | tee "$OUT/eval.txt"

echo "== PyTorch: $(basename "$PEER") =="
"$PY" "$PEER" "$DATA" --epochs "$EPOCHS" --prior-epochs "$PRIOR_EPOCHS" --seed "$SEED" --json "$OUT/torch.json" > /dev/null

"$PY" - "$RUN" "$OUT/torch.json" <<'EOF' | tee "$OUT/compare.txt"
import json, math, statistics, sys
run, torch_path = sys.argv[1], sys.argv[2]
ours = json.load(open(f"{run}/metrics.json"))
prior = json.load(open(f"{run}/prior-metrics.json"))
torch = json.load(open(torch_path))
tv, tp = torch["vqvae"], torch["prior"]
o_mse, o_ppl, o_used = ours["test_mse_per_pixel"], ours["test_perplexity"], ours["test_codes_used"]
o_nll = prior["test_nll_nats_per_code"]
o_vq_s = statistics.median(e["seconds"] for e in ours["history"])
o_pr_s = statistics.median(e["seconds"] for e in prior["history"])
def row(name, a, b, fmt="{:.5f}"):
    ratio = a / b if b else float("nan")
    print(f"{name:<34} {fmt.format(a):>10} {fmt.format(b):>10} {ratio:>8.2f}x")
print(f"{'':<34} {'ours':>10} {'torch':>10} {'ours/torch':>9}")
row("test MSE per pixel", o_mse, tv["test_mse_per_pixel"])
row("codebook perplexity", o_ppl, tv["perplexity"], "{:.2f}")
row("codes used (of %d)" % tv["codebook"], o_used, tv["codes_used"], "{:.0f}")
row("prior test NLL (nats per code)", o_nll, tp["test_nll_nats_per_code"], "{:.4f}")
o_rel = o_nll / math.log(o_ppl)
t_rel = tp["test_nll_nats_per_code"] / math.log(tv["perplexity"])
row("prior NLL / ln(perplexity)", o_rel, t_rel, "{:.3f}")
row("VQ-VAE s/epoch (median)", o_vq_s, tv["epoch_s_median"], "{:.3f}")
row("prior s/epoch (median)", o_pr_s, tp["epoch_s_median"], "{:.3f}")
ok = [o_mse <= 0.9 * tv["test_mse_per_pixel"], o_ppl >= 25, o_rel <= 0.7, o_vq_s <= 0.5 * tv["epoch_s_median"], o_pr_s <= 0.5 * tp["epoch_s_median"]]
print("targets (MSE <= 0.9x, perplexity >= 25, NLL <= 0.7 ln ppl, both epochs <= 0.5x):", " ".join("met" if x else "MISSED" for x in ok))
EOF
