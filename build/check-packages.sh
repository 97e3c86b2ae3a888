#!/usr/bin/env bash
# Packs NeuralCore and uses the packages as a user would, from outside the solution:
#   1. samples/PackageConsumer (PackageReference only) trains, saves, reloads from a Stream and scores;
#   2. the .NET tool installs into a fresh folder and runs `--version` and a one-epoch `train` from another directory;
#   3. samples/EmbeddedScoring publishes with NativeAOT from the packages with zero warnings and scores the tool's model.
# Prints "ok NAME" or "FAILED NAME" per check and ends with the line "N passed, N failed"; exit 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() {   # check NAME COMMAND...: runs COMMAND, logs its output, counts the result
  local name=$1; shift
  if "$@" >"$work/$name.log" 2>&1; then
    echo "ok $name"; passed=$((passed + 1))
  else
    echo "FAILED $name (last lines of its output:)"; tail -n 20 "$work/$name.log" | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

rm -rf artifacts/packages
check pack dotnet pack NeuralCore.sln -c Release -o artifacts/packages
packages_ok() {
  for id in NeuralCore.Kernels NeuralCore.Tensor NeuralCore.Autograd NeuralCore.Models NeuralCore.Kernels.Gpu NeuralCore.Onnx NeuralCore.Distributed NeuralCore.Cli; do
    local nupkg=artifacts/packages/$id.0.2.0.nupkg
    [ -f "$nupkg" ] && [ -f "artifacts/packages/$id.0.2.0.snupkg" ] || { echo "missing $nupkg or its .snupkg"; return 1; }
    unzip -p "$nupkg" "$id.nuspec" | grep -q '<license type="expression">MIT</license>' || { echo "$id: no licence"; return 1; }
    unzip -p "$nupkg" "$id.nuspec" | grep -q '<description>.\{20,\}</description>' || { echo "$id: no description"; return 1; }
  done
}
check package-metadata packages_ok

# Each sample restores into its own folder (nuget.config), so a rebuilt 0.2.0 is never served from an old cache.
consumer() {
  rm -rf samples/PackageConsumer/bin samples/PackageConsumer/obj
  dotnet run -c Release --project samples/PackageConsumer -- "$root/data/mnist-10k"
}
check package-consumer consumer

tool() (   # a subshell: it changes directory
  NUGET_PACKAGES="$work/nuget" dotnet tool install --tool-path "$work/tool" --add-source "$root/artifacts/packages" NeuralCore.Cli &&
  mkdir -p "$work/elsewhere" && cd "$work/elsewhere" &&
  "$work/tool/neuralcore" --version | grep -qx 'neuralcore 0.2.0' &&
  "$work/tool/neuralcore" train --model vae --epochs 1 --out R &&
  [ -f R/model.safetensors ] && [ -f R/checkpoint.safetensors ]
)
check tool-install-and-train tool

aot() {
  rm -rf samples/EmbeddedScoring/bin samples/EmbeddedScoring/obj
  dotnet publish samples/EmbeddedScoring -c Release -r linux-x64 -p:PublishAot=true -o "$work/aot" | tee "$work/aot.log" &&
  ! grep -E ' warning [A-Z]+[0-9]+' "$work/aot.log" &&
  "$work/aot/embedded-scoring" --model "$work/elsewhere/R" --mnist "$root/data/mnist-10k" --limit 5 | tee "$work/aot-scores.csv" &&
  [ "$(wc -l < "$work/aot-scores.csv")" -eq 6 ]
}
check nativeaot-sample aot

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
