#!/usr/bin/env bash
# The measured figures of docs/scaling.md: the gradient exchange alone (bench/MpiExchange) for the VAE's and the conv
# AE's gradient vectors, then one epoch of `neuralcore train` on the bundled MNIST (8,000 training rows, batch 128,
# 63 steps) alone and under `mpirun --oversubscribe -np N`, with the seconds per epoch and the seconds each rank spent
# in the exchange. Usage: bench/mpi-scaling.sh [MAX_PROCESSES (default 4)]
set -euo pipefail
cd "$(dirname "$0")/.."
max=${1:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TERM=dumb
dotnet build src/Cli -c Release -v quiet -nologo >/dev/null
dotnet build bench/MpiExchange -c Release -v quiet -nologo >/dev/null
tool=src/Cli/bin/Release/net10.0/neuralcore.dll
exchange=bench/MpiExchange/bin/Release/net10.0/mpi-exchange.dll
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# gradient vectors: parameters + the loss (vae 652,824; conv-ae 111,521 parameters)
for floats in 652825 111522; do
  for n in $(seq 2 "$max"); do
    mpirun --oversubscribe -np "$n" dotnet "$exchange" "$floats" 100 | grep -a processes | tr -d '\033=' | sed 's/\[?1h//g'
  done
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for model in vae conv-ae; do
  for n in $(seq 1 "$max"); do
    out="$work/$model-$n"
    if [ "$n" -eq 1 ]; then
      log=$(dotnet "$tool" train --model "$model" --epochs 1 --grad-shards 6 --threads 1 --out "$out" 2>&1)
    else
      log=$(mpirun --oversubscribe -np "$n" dotnet "$tool" train --model "$model" --epochs 1 --threads 1 --out "$out" 2>&1)
    fi
    seconds=$(python3 -c "import json; m = json.load(open('$out/metrics.json')); print(round(m['history'][0]['seconds'], 2), round(m['test_loss_per_sample'], 3))")
    ranks=$(echo "$log" | { grep -ao 'rank [0-9]* of [0-9]*: computed [0-9]* of [0-9]* training rows; [0-9]* steps, [0-9.]* s in the gradient exchange' | sed "s/training rows; //" || true; } | paste -sd';' - || true)
    echo "$model N=$n: epoch seconds, test loss: $seconds ${ranks:+| $ranks}"
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
