#!/usr/bin/env bash
# The embedding benchmark: one trained 784-400-20-400-784 autoencoder scores the MNIST-10k test rows by reconstruction
# error (a) in NeuralCore inside the NativeAOT sample and (b) in ONNX Runtime's C# API (bench/OrtScoring, also
# NativeAOT), with the same measuring code (samples/EmbeddedScoring/LatencyBenchmark.cs), on 1 thread and on all cores.
# Prints a markdown table (and writes it to bench/results/embedding.md).
# usage: bench/embedding.sh [--epochs N]   (needs the .NET SDK, clang and zlib1g-dev for NativeAOT)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
epochs=2
[ "${1:-}" = "--epochs" ] && epochs="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cores=$(nproc)

echo "building, training the model ($epochs epochs) and exporting it to ONNX ..."
dotnet build src/Cli -c Release > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
cli=(dotnet src/Cli/bin/Release/net10.0/neuralcore.dll)
"${cli[@]}" train --model ae --hidden 400 --latent 20 --epochs "$epochs" --quiet --out "$work/ae" > /dev/null
"${cli[@]}" export --model "$work/ae" --part reconstruct --out "$work/ae.onnx" > /dev/null

echo "publishing both NativeAOT apps ..."
dotnet pack NeuralCore.sln -c Release -o artifacts/packages > "$work/pack.log" 2>&1 || { cat "$work/pack.log"; exit 1; }
rm -rf samples/EmbeddedScoring/obj/packages/neuralcore.*   # the local packages are rebuilt under one version number
dotnet publish samples/EmbeddedScoring -c Release -r linux-x64 -p:PublishAot=true -o "$work/nc" > "$work/nc.log" 2>&1 || { cat "$work/nc.log"; exit 1; }
dotnet publish bench/OrtScoring -c Release -r linux-x64 -p:PublishAot=true -o "$work/ort" > "$work/ort.log" 2>&1 || { cat "$work/ort.log"; exit 1; }
# The sample targets x86-64-v3 (AVX2) so that it runs anywhere; ONNX Runtime picks AVX-512 kernels at run time where the
# CPU has them. On such a CPU the sample is also built for x86-64-v4, to show what the instruction set accounts for.
v4=""
if grep -qw avx512f /proc/cpuinfo; then
  dotnet publish samples/EmbeddedScoring -c Release -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet=x86-64-v4 -o "$work/nc-v4" > "$work/nc-v4.log" 2>&1 \
    || { cat "$work/nc-v4.log"; exit 1; }
  v4="$work/nc-v4/embedded-scoring"
fi

# What an app ships: the executable, its native libraries and the model.
size_mb() { du -cb "$@" | tail -n 1 | awk '{printf "%.1f", $1 / 1048576}'; }
nc_size=$(size_mb "$work/nc/embedded-scoring" "$work/ae/model.safetensors" "$work/ae/model.json")
ort_size=$(size_mb "$work/ort/ort-scoring" "$work"/ort/*.so "$work/ae.onnx")

: > "$work/results.jsonl"
for threads in 1 "$cores"; do
  # Alternate the engines so both see the same machine load.
  "$work/nc/embedded-scoring" --bench --model "$work/ae" --mnist data/mnist-10k --threads "$threads" >> "$work/results.jsonl"
  "$work/ort/ort-scoring" --model "$work/ae.onnx" --mnist data/mnist-10k --threads "$threads" >> "$work/results.jsonl"
  if [ -n "$v4" ]; then
    "$v4" --bench --model "$work/ae" --mnist data/mnist-10k --threads "$threads" | sed 's/"engine":"neuralcore"/"engine":"neuralcore, x86-64-v4"/' >> "$work/results.jsonl"
  fi
done

/usr/bin/env python3 - "$work/results.jsonl" "$nc_size" "$ort_size" "$cores" <<'PY' | tee bench/results/embedding.md
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
size = {'neuralcore': sys.argv[2], 'neuralcore, x86-64-v4': sys.argv[2], 'onnxruntime': sys.argv[3]}
print(f"Embedding benchmark: 784-400-20-400-784 AE, {rows[0]['rows']} MNIST-10k test rows, {sys.argv[4]} cores; all NativeAOT, same harness.\n")
print("| engine | threads | batch 1 p50 (us) | batch 1 p99 (us) | batch 64 (rows/s) | batch 1024 (rows/s) | start to first score (ms) | peak RSS (MB) | deployed (MB) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['engine']} | {r['threads']} | {r['batch1_p50_us']:.0f} | {r['batch1_p99_us']:.0f} | {r['batch64_rows_per_s']:,.0f} | "
          f"{r['batch1024_rows_per_s']:,.0f} | {r['first_score_ms']:.0f} | {r['peak_rss_mb']:.0f} | {size[r['engine']]} |")
# Both engines reconstruct the first row the same way, or the comparison is void.
a, b = (r['first_row_mse'] for r in rows[:2])
print(f"\nfirst row's reconstruction error: NeuralCore {a:.6g}, ONNX Runtime {b:.6g}")
if abs(a - b) > 1e-4 * max(abs(a), 1e-12): sys.exit("the two engines disagree on the first row")
PY
