#!/usr/bin/env bash
# Total CPU seconds (user + sys of every process, /usr/bin/time) of a training run: one process with 1 shard, one
# process with 6 shards, and `mpirun -np 2`, each as an E-epoch run minus a 1-epoch run so that start-up is not
# counted. Usage: bench/mpi-cpu.sh MODEL [EPOCHS (default 3)] [TOOL_DIR (default the Release build)]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; epochs=${2:-3}; dir=${3:-src/Cli/bin/Release/net10.0}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TERM=dumb
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cpu() {  # prints user+sys seconds of the command
  /usr/bin/time -f '%U %S' -o "$work/t" "$@" >/dev/null 2>&1
  awk '{print $1 + $2}' "$work/t"
}
run() {  # epochs, extra options, command prefix...
  local e=$1 extra=$2; shift 2
  rm -rf "$work/out"
  # shellcheck disable=SC2086
  cpu "$@" dotnet "$dir/neuralcore.dll" train --model "$model" --epochs "$e" --threads 1 $extra --out "$work/out"
}
for label in 1shard 6shards np2; do
  case $label in
    1shard)  long=$(run "$epochs" "" env); short=$(run 1 "" env) ;;
    6shards) long=$(run "$epochs" "--grad-shards 6" env); short=$(run 1 "--grad-shards 6" env) ;;
    np2)     long=$(run "$epochs" "" mpirun --oversubscribe -np 2); short=$(run 1 "" mpirun --oversubscribe -np 2) ;;
  esac
  echo "$model $label: $(python3 -c "print(round($long - $short, 2))") s CPU for $((epochs - 1)) epochs ($long - $short)"
done
