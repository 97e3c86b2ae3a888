#!/usr/bin/env bash
# The CPU comparison in one go: runs NeuralCore's benchmarks (bench/NeuralCore.Bench `all`: FMA peak, kernels, the VAE and conv-AE
# training workloads) and the PyTorch peer (bench/peers/torch_cpu_ref.py) back to back on this machine, then
# prints ours / PyTorch: seconds per epoch, test losses side by side, GEMM GFLOP/s, and our managed bytes per step.
#
#   bench/compare.sh                      # from anywhere; the repo root is found from this script's location
#   EPOCHS=3 bench/compare.sh             # shorter run (the acceptance numbers use the default 10)
#   SEEDS=0,1,2,3,4,5,6,7,8,9 bench/compare.sh   # also both workloads' test loss over these seeds, both sides
#   RNG=xoshiro bench/compare.sh          # our own random streams instead of PyTorch's generator (see below)
#
# By default our runs draw their initial weights, batch order and VAE noise with PyTorch's generator
# (SeededRandom.PyTorch): seed S starts from exactly the weights and batch order of the peer's torch.manual_seed(S),
# so a test-loss difference measures the engines, not two different random draws.
#
# Environment: PEER_DIR (default <repo>/bench/peers), PYTHON (default /usr/bin/python3), EPOCHS (default 10),
# OUT (default <repo>/bench/results: our results.json / results.md, torch.json and compare.txt are written there),
# TORCH_WAIT_TRIES (default 30 tries, 20 s apart, while torch is installing).
# PEER_OPENBLAS_CORETYPE (default: SkylakeX with AVX-512, Haswell with AVX2) picks the peer's OpenBLAS kernels; the
# core OpenBLAS used is printed and written into compare.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER_DIR="${PEER_DIR:-$ROOT/bench/peers}"
PY="${PYTHON:-/usr/bin/python3}"
EPOCHS="${EPOCHS:-10}"
OUT="${OUT:-$ROOT/bench/results}"
mkdir -p "$OUT"

if [[ ! -f "$PEER_DIR/torch_cpu_ref.py" ]]; then
  echo "compare.sh: $PEER_DIR/torch_cpu_ref.py not found (set PEER_DIR)" >&2
  exit 1
fi

tries="${TORCH_WAIT_TRIES:-30}"
until "$PY" -c 'import torch' 2>/dev/null; do
  tries=$((tries - 1))
  if (( tries <= 0 )); then echo "compare.sh: '$PY -c \"import torch\"' still fails; is python3-torch installed?" >&2; exit 1; fi
  echo "waiting for torch to be importable..."
  sleep 20
done

# The peer at its best: PyTorch on OpenBLAS (Debian's default reference BLAS runs SGEMM at a few GFLOP/s), with the
# best kernels the CPU allows. OpenBLAS picks generic kernels on CPUs it does not recognise (virtual machines often
# report a generic model), so the core type is set from the CPU's flags unless the caller set it.
if [[ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing OpenBLAS for the peer (libopenblas0-pthread)"
  apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1 || echo "compare.sh: could not install libopenblas0-pthread; the peer runs on the reference BLAS" >&2
fi
# An OPENBLAS_CORETYPE inherited from the environment is replaced (it may name older kernels than the CPU has);
# PEER_OPENBLAS_CORETYPE chooses one on purpose.
if [[ -n "${PEER_OPENBLAS_CORETYPE:-}" ]]; then export OPENBLAS_CORETYPE="$PEER_OPENBLAS_CORETYPE"
elif grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell
else unset OPENBLAS_CORETYPE
fi
OPENBLAS_CORE="$(OPENBLAS_VERBOSE=2 "$PY" -c 'import torch; torch.ones(8, 8) @ torch.ones(8, 8)' 2>&1 | sed -n 's/^Core: //p' | head -n 1)"
echo "OpenBLAS core used by the peer: ${OPENBLAS_CORE:-unknown (not OpenBLAS?)} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"

echo "== NeuralCore (bench/NeuralCore.Bench all, $EPOCHS epochs) =="
dotnet build -c Release "$ROOT/bench/NeuralCore.Bench" -v q -nologo > /dev/null
RNG="${RNG:-pytorch}"
dotnet "$ROOT/bench/NeuralCore.Bench/bin/Release/net10.0/NeuralCore.Bench.dll" all --epochs "$EPOCHS" --out "$OUT" --rng "$RNG"

# Both sides read the repository's copy of MNIST-10k.
DATA_ARGS=("$ROOT/data/mnist-10k")

echo
echo "== PyTorch reference ($EPOCHS epochs) =="
BLAS="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p' || true)"
echo "BLAS behind torch: ${BLAS:-unknown}"
"$PY" "$PEER_DIR/torch_cpu_ref.py" "${DATA_ARGS[@]}" --epochs "$EPOCHS" --json "$OUT/torch.json" > /dev/null
echo "written $OUT/torch.json"

echo
"$PY" - "$OUT/results.json" "$OUT/torch.json" "$BLAS, OpenBLAS core ${OPENBLAS_CORE:-unknown}" "$RNG" <<'PYEOF' | tee "$OUT/compare.txt"
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
blas = sys.argv[3] or 'unknown BLAS'
print(f"NeuralCore ({ours.get('threads')} threads; {ours.get('machine')}) vs torch {torch.get('torch')} "
      f"({torch.get('threads')} threads, {blas}), {ours.get('date_utc')} UTC")
print(f"our random numbers: {sys.argv[4]} generator" + (" (the peer's weights and batch order)" if sys.argv[4] == 'pytorch' else ''))
print(f"measured FMA peak {ours['fma_peak_1thread_gflops']:.0f} GFLOP/s on 1 thread, {ours['fma_peak_all_gflops']:.0f} on all threads")
print()
print(f"{'workload':<8} {'ours s/epoch':>13} {'torch s/epoch':>14} {'ours/torch':>11} {'ours test loss':>15} {'torch test loss':>16} {'diff':>7} {'ours B/step':>12}")
for name in ('vae', 'convae'):
    o, t = ours.get(name), torch.get(name)
    if not o or not t:
        continue
    print(f"{name:<8} {o['epoch_s_median']:13.3f} {t['epoch_s_median']:14.3f} {o['epoch_s_median'] / t['epoch_s_median']:10.2f}x "
          f"{o['test_loss_per_sample']:15.3f} {t['test_loss_per_sample']:16.3f} {o['test_loss_per_sample'] - t['test_loss_per_sample']:+7.2f} "
          f"{o['alloc_bytes_per_step']:12.0f}")
for name in ('vae', 'convae'):
    o = ours.get(name)
    if o and 'gflops' in o:
        print(f"{name} epoch: {o['gflop_per_epoch']:.2f} GFLOP of matrix products (forward and backward, from the layer shapes), "
              f"{o['gflops']:.0f} GFLOP/s = {o['pct_peak_all']:.0f}% of the all-core FMA peak")
print()
print(f"{'GEMM (m x k x n)':<24} {'ours GFLOP/s':>13} {'torch GFLOP/s':>14} {'ours/torch':>11}")
for key, value in ours.items():
    if not key.endswith('_gflops') or key.startswith('fma_'):
        continue
    ref = torch.get(key)
    label = key[:-len('_gflops')].replace('sgemm_', 'NN ').replace('nt_', 'NT ').replace('tn_', 'TN ').replace('tt_', 'TT ').replace('nn_', 'NN ')
    if ref:
        print(f"{label:<24} {value:13.1f} {ref:14.1f} {value / ref:10.2f}x")
    else:
        print(f"{label:<24} {value:13.1f} {'-':>14} {'-':>11}")
PYEOF
echo "written $OUT/compare.txt"

# Optional: both workloads' test loss over several seeds on both sides (SEEDS=0,1,2,3,4,5,6,7,8,9 bench/compare.sh).
# One seed's figure is one draw of initial weights and batch order; the sweep compares the engines, not the draws.
if [[ -n "${SEEDS:-}" ]]; then
  echo
  echo "== VAE and conv AE over seeds $SEEDS ($EPOCHS epochs each side) =="
  dotnet "$ROOT/bench/NeuralCore.Bench/bin/Release/net10.0/NeuralCore.Bench.dll" train --epochs "$EPOCHS" --seeds "$SEEDS" --rng "$RNG" \
    | tee "$OUT/seeds-ours.txt"
  for model in vae convae; do
    "$PY" "$ROOT/bench/convae_seed_spread.py" --model "$model" --seeds "$SEEDS" --epochs "$EPOCHS" --threads 2 "${DATA_ARGS[@]}" \
      | tee "$OUT/seeds-torch-$model.txt"
  done
  "$PY" - "$OUT/seeds-ours.txt" "$OUT/seeds-torch-vae.txt" "$OUT/seeds-torch-convae.txt" <<'PYEOF' | tee -a "$OUT/compare.txt"
import re, statistics as st, sys
ours_text = open(sys.argv[1]).read()
for workload, torch_file in (("vae", sys.argv[2]), ("convae", sys.argv[3])):
    ours = [float(m) for m in re.findall(rf"seed \d+ {workload}: [^\n]*?test loss ([0-9.]+)/sample", ours_text)]
    torch = [float(m) for m in re.findall(r"test loss per sample ([0-9.]+)", open(torch_file).read())]
    print()
    print(f"{workload} test loss over {len(ours)} seeds (ours) and {len(torch)} seeds (torch):")
    for name, v in (("ours", ours), ("torch", torch)):
        if v:
            sd = st.stdev(v) if len(v) > 1 else 0.0
            print(f"  {name:<6} mean {st.mean(v):8.3f}  sd {sd:5.3f}  min {min(v):8.3f}  max {max(v):8.3f}  per seed: {', '.join(f'{x:.1f}' for x in v)}")
    if ours and torch:
        print(f"  difference of means (ours - torch): {st.mean(ours) - st.mean(torch):+.3f}")
    if len(ours) == len(torch) and ours:
        diffs = [o - t for o, t in zip(ours, torch)]
        print(f"  seed by seed (ours - torch): {', '.join(f'{d:+.2f}' for d in diffs)}; largest |difference| {max(abs(d) for d in diffs):.2f}")
PYEOF
fi
