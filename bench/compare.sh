#!/usr/bin/env bash
# Runs NeuralCore's GEMM benchmark and the PyTorch peer reference (../shared/peers/torch_cpu_ref.py) back to back on
# this machine and prints ours / PyTorch for every GEMM shape both measure.
#
#   bench/compare.sh                      # from anywhere; the repo root is found from this script's location
#   PEER_DIR=/path/to/peers bench/compare.sh
#
# Environment: PEER_DIR (default <repo>/../shared/peers), PYTHON (default /usr/bin/python3),
# TORCH_JSON (default /tmp/torch.json), TORCH_WAIT_TRIES (default 30 tries, 20 s apart, while torch is installing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers}"
PY="${PYTHON:-/usr/bin/python3}"
TORCH_JSON="${TORCH_JSON:-/tmp/torch.json}"
OURS_JSON="$(mktemp /tmp/neuralcore-gemm.XXXXXX.json)"
trap 'rm -f "$OURS_JSON"' EXIT

if [[ ! -f "$PEER_DIR/torch_cpu_ref.py" ]]; then
  echo "compare.sh: $PEER_DIR/torch_cpu_ref.py not found (set PEER_DIR)" >&2
  exit 1
fi

echo "== NeuralCore gemm =="
dotnet run -c Release --project "$ROOT/bench/NeuralCore.Bench" -- gemm --json "$OURS_JSON"

tries="${TORCH_WAIT_TRIES:-30}"
until "$PY" -c 'import torch' 2>/dev/null; do
  tries=$((tries - 1))
  if (( tries <= 0 )); then echo "compare.sh: '$PY -c \"import torch\"' still fails; is python3-torch installed?" >&2; exit 1; fi
  echo "waiting for torch to be importable..."
  sleep 20
done

# The peer script defaults its data directory to <peers>/../data/mnist-10k; fall back to the repo's copy.
DATA_ARGS=()
if [[ ! -d "$PEER_DIR/../data/mnist-10k" && -d "$ROOT/data/mnist-10k" ]]; then DATA_ARGS=("$ROOT/data/mnist-10k"); fi

echo
echo "== PyTorch reference =="
"$PY" "$PEER_DIR/torch_cpu_ref.py" "${DATA_ARGS[@]}" --epochs 1 --json "$TORCH_JSON" > /dev/null
echo "written $TORCH_JSON"

echo
"$PY" - "$OURS_JSON" "$TORCH_JSON" <<'PYEOF'
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
print(f"torch {torch.get('torch')} ({torch.get('threads')} threads) vs NeuralCore ({ours.get('threads')} threads); "
      f"measured FMA peak {ours['fma_peak_1thread_gflops']:.0f} GFLOP/s 1 thread, {ours['fma_peak_all_gflops']:.0f} all threads")
print(f"{'shape (m x k x n)':<24} {'ours GFLOP/s':>13} {'torch GFLOP/s':>14} {'ours/torch':>11}")
for key, value in ours.items():
    if not key.endswith('_gflops') or key.startswith('fma_'):
        continue
    shape = key[:-len('_gflops')]
    ref = torch.get(key)
    label = shape.replace('sgemm_', 'NN ').replace('nt_', 'NT ').replace('tn_', 'TN ').replace('tt_', 'TT ').replace('nn_', 'NN ')
    if ref:
        print(f"{label:<24} {value:13.1f} {ref:14.1f} {value / ref:10.2f}x")
    else:
        print(f"{label:<24} {value:13.1f} {'-':>14} {'-':>11}")
PYEOF
