#!/usr/bin/env bash
# The GPU acceptance run in one call, on the GPU machine (NVIDIA driver + PyTorch, no .NET, no network).
#
# Here (with .NET), first:   bash bench/gpu/pack.sh src/Cli      # builds .gpu/app.tar.xz, .gpu/data, .gpu/torch_gpu_ref.py
# Then, with the device tool: run(command="bash bench/gpu-run.sh", carry=[".gpu"], timeout_s=600)
#
# Writes everything under $OUT (default /tmp/gpu-out):
#   devices.txt        nvidia-smi and what `neuralcore --device cuda` found
#   selfcheck.txt      gradcheck on cuda + one VAE epoch on cpu and cuda from the same seed (losses must agree)
#   bench-cuda.txt     neuralcore bench --device cuda: GEMM 256..4096 (GFLOP/s), conv (fwd/bwd), elementwise (GB/s)
#   vae-cuda/, convae-cuda/   neuralcore train on cuda (metrics.json: seconds per epoch, test loss), logs *.txt
#   torch.json, torch.txt     PyTorch on the same card: cuBLAS SGEMM FP32/TF32, VAE and conv-AE epoch times and losses
#   summary.txt        the acceptance figures side by side
# Each step has its own time limit and a failing step does not stop the others.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-out}"
EPOCHS="${EPOCHS:-10}"
APP=/tmp/neuralcore-app
mkdir -p "$OUT" "$APP"

if [[ ! -f .gpu/app.tar.xz ]]; then
  echo "gpu-run.sh: .gpu/app.tar.xz missing: run 'bash bench/gpu/pack.sh src/Cli' first and pass carry [\".gpu\"]" | tee "$OUT/error.txt" >&2
  exit 1
fi
tar xJf .gpu/app.tar.xz -C "$APP" || { echo "gpu-run.sh: unpacking failed" | tee "$OUT/error.txt"; exit 1; }
NC="$APP/neuralcore"
DATA=.gpu/data/mnist-10k

step() {   # step NAME LIMIT_SECONDS COMMAND...: runs COMMAND with a limit, output to $OUT/NAME.txt and the console tail
  local name=$1 limit=$2; shift 2
  echo "== $name ($*)"
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/$name.txt"
  tail -n 4 "$OUT/$name.txt" | sed 's/^/   /'
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1; } > "$OUT/devices.txt"

# 1. correctness first (llm.c's habit: check a kernel before timing it)
step gradcheck-cuda 120 "$NC" gradcheck --device cuda
step selfcheck-cpu 120 "$NC" train --model vae --device cpu --data "$DATA" --epochs 1 --seed 0 --quiet --out "$OUT/selfcheck-cpu"
step selfcheck-cuda 120 "$NC" train --model vae --device cuda --data "$DATA" --epochs 1 --seed 0 --quiet --out "$OUT/selfcheck-cuda"

# 2. kernels
step bench-cuda 240 "$NC" bench --device cuda

# 3. end to end, the peer's workloads (batch 128, Adam 1e-3)
step vae-cuda 240 "$NC" train --model vae --device cuda --data "$DATA" --epochs "$EPOCHS" --seed 0 --out "$OUT/vae-cuda"
step convae-cuda 180 "$NC" train --model conv-ae --device cuda --data "$DATA" --epochs 3 --latent 32 --seed 0 --out "$OUT/convae-cuda"

# 4. PyTorch on the same card
step torch 300 python3 .gpu/torch_gpu_ref.py "$DATA" "$OUT/torch.json"

# 5. summary
python3 - "$OUT" > "$OUT/summary.txt" 2>&1 <<'PY'
import json, os, re, sys
out = sys.argv[1]
def read(name):
    try: return open(os.path.join(out, name)).read()
    except OSError: return ""
def metrics(d):
    try: return json.load(open(os.path.join(out, d, "metrics.json")))
    except (OSError, ValueError): return None
torch = {}
try: torch = json.load(open(os.path.join(out, "torch.json")))
except (OSError, ValueError): pass
bench = read("bench-cuda.txt")
print("device:", read("devices.txt").splitlines()[1:2])
for n in (1024, 2048, 4096):
    m = re.search(rf"sgemm_{n}x{n}x{n}\s*\|[^\n]*", bench)
    print(f"GEMM {n}: ours:", m.group(0) if m else "n/a", "| cuBLAS fp32 TFLOP/s:", torch.get(f"sgemm_fp32_{n}", "n/a"))
for kernel, row in re.findall(r"sgemm_4096x4096x4096_(\w+)\s*\|([^\n]*)", bench):
    print(f"GEMM 4096, {kernel} kernel alone: |{row}")
for name, key in (("vae-cuda", "vae_cuda"), ("convae-cuda", "convae_cuda")):
    print(f"{name}: ours metrics.json:", json.dumps(metrics(name))[:600])
    print(f"{name}: torch:", torch.get(key))
print("selfcheck train loss cpu vs cuda:",
      [l for l in read("selfcheck-cpu.txt").splitlines() if "loss" in l][-1:],
      [l for l in read("selfcheck-cuda.txt").splitlines() if "loss" in l][-1:])
PY
cat "$OUT/summary.txt"
echo "all results under $OUT"
