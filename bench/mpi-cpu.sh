#!/usr/bin/env bash
# Total CPU time of training on N processes against one process.
#
# Total CPU time of a run = user + sys seconds of every process it started (/usr/bin/time of the command; for
# `mpirun` that includes its ranks, which it starts and waits for, and mpirun itself). Counted for an E-epoch run minus
# a 1-epoch run of the same command, so that start-up (runtime, JIT, data loading, MPI_Init) and the last epoch's
# pictures are not counted: what remains is E - 1 epochs of training and evaluation.
#
# Commands, all with --threads 1 (one thread per process: N ranks on this machine never share a core's time with
# their own threads):
#   1shard   neuralcore train                    (one process, each batch computed at once: today's plain run)
#   6shards  neuralcore train --grad-shards 6    (one process, the same bits as every N below)
#   npN      mpirun --oversubscribe -np N neuralcore train   (6 shards by default)
#   Sshards, npNsS   the same with --grad-shards S (e.g. 2shards np2s2: one shard per rank)
# Each command is run REPEATS times, in turn with the others; the script prints every figure, then the median and
# minimum of each and the ratios npN / 6shards and npN / 1shard (of the medians; of the minimums).
#
# Usage: bench/mpi-cpu.sh MODEL [EPOCHS (default 3)] [REPEATS (default 3)] [LABEL... (default np1 np2 np3)]
# (1shard and 6shards are always run, first.)
# TOOL_DIR overrides the tool's directory (default the Release build).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; epochs=${2:-3}; repeats=${3:-3}; shift $(( $# < 3 ? $# : 3 ))
extra_labels=("$@"); [ ${#extra_labels[@]} -gt 0 ] || extra_labels=(np1 np2 np3)
dir=${TOOL_DIR:-src/Cli/bin/Release/net10.0}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TERM=dumb
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cpu() {  # user+sys seconds of the command and its children
  /usr/bin/time -f '%U %S' -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  awk '{print $1 + $2}' "$work/t"
}
run() {  # epochs, label
  local e=$1 label=$2 prefix=() extra=()
  case $label in
    1shard) ;;
    *shards) extra=(--grad-shards "${label%shards}") ;;
    np*s*) n=${label#np}; prefix=(mpirun --oversubscribe -np "${n%s*}"); extra=(--grad-shards "${n#*s}") ;;
    np*) prefix=(mpirun --oversubscribe -np "${label#np}") ;;
  esac
  rm -rf "$work/out"
  cpu "${prefix[@]}" dotnet "$dir/neuralcore.dll" train --model "$model" --epochs "$e" --threads 1 "${extra[@]}" --quiet --out "$work/out"
}
labels=(1shard 6shards "${extra_labels[@]}")
declare -A figures
for ((r = 1; r <= repeats; r++)); do
  for label in "${labels[@]}"; do
    long=$(run "$epochs" "$label"); short=$(run 1 "$label")
    figure=$(python3 -c "print(round($long - $short, 2))")
    figures[$label]+="$figure "
    echo "$model $label repeat $r: $figure s CPU for $((epochs - 1)) epochs ($long - $short)"
  done
done
for label in "${labels[@]}"; do echo "$label ${figures[$label]}"; done > "$work/figures"
python3 - "$model" "$((epochs - 1))" "$work/figures" <<'PY'
import sys, statistics
model, counted, path = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in open(path)}
med = {k: statistics.median(v) for k, v in rows.items()}
low = {k: min(v) for k, v in rows.items()}
print(f"{model}, {counted} epochs counted, {len(rows['1shard'])} repeats: CPU seconds, median (min);"
      " ratios of the medians (of the minimums)")
for k in rows:
    line = f"  {k:8s} {med[k]:6.2f} ({low[k]:.2f}) s"
    if k.startswith("np"):
        same = f"{k.split('s')[1]}shards" if "s" in k else "6shards"   # one process with the same shards
        if same in med:
            line += f"   x{med[k] / med[same]:.2f} (x{low[k] / low[same]:.2f}) of {same},"
        line += f" x{med[k] / med['1shard']:.2f} (x{low[k] / low['1shard']:.2f}) of 1shard"
    print(line)
PY
