#!/usr/bin/env bash
# Checks that the NativeAOT binary scores rows exactly like `neuralcore detect` (same model, same rows).
# usage: samples/EmbeddedScoring/compare.sh   (from anywhere; needs the .NET SDK, clang and zlib1g-dev for AOT)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "publishing the NativeAOT binary ..."
dotnet publish samples/EmbeddedScoring -c Release -r linux-x64 -p:PublishAot=true -o "$work/bin" > "$work/publish.log" 2>&1 \
  || { cat "$work/publish.log"; exit 1; }
if grep -q "warning" "$work/publish.log"; then grep "warning" "$work/publish.log"; echo "FAIL: the AOT publish has warnings"; exit 1; fi
aot="$work/bin/embedded-scoring"
dotnet build src/Cli -c Release > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
cli=(dotnet src/Cli/bin/Release/net10.0/neuralcore.dll)

# compare FILE_A FILE_B: column 2 (score) of two CSVs with a header, row by row, relative tolerance 1e-4.
# The JIT picks the widest SIMD of this CPU (AVX-512 where present), the AOT binary AVX2, so float sums may
# differ in the last bits.
compare() {
  paste -d, <(tail -n +2 "$1" | cut -d, -f1,2) <(tail -n +2 "$2" | cut -d, -f1,2) | awk -F, -v name="$3" '
    { n++; if ($1 != $3) { print "FAIL " name ": row numbers differ at line " n ": " $1 " vs " $3; bad = 1; exit 1 }
      d = $2 - $4; if (d < 0) d = -d; s = ($2 < 0 ? -$2 : $2); if (d > 1e-4 * s + 1e-7) { print "FAIL " name ": row " $1 " detect " $2 " aot " $4; bad = 1 }
      if (d > worst) worst = d }
    END { if (n == 0) { print "FAIL " name ": no rows"; exit 1 } if (bad) exit 1; printf "ok   %s: %d rows, largest difference %.3g\n", name, n, worst }'
}

echo "wine table: train, detect, AOT ..."
"${cli[@]}" train --model ae --data data/wine.csv --drop class --epochs 20 --batch 16 --quiet --out "$work/wine" > /dev/null
"${cli[@]}" detect --model "$work/wine" --data data/wine.csv --drop class --out "$work/wine-detect.csv" > /dev/null 2>&1
"$aot" --model "$work/wine" --csv data/wine.csv --drop class > "$work/wine-aot.csv"
compare "$work/wine-detect.csv" "$work/wine-aot.csv" "wine.csv (--csv)"
tail -n +2 data/wine.csv | cut -d, -f1-13 | "$aot" --model "$work/wine" > "$work/wine-stdin.csv"
compare "$work/wine-detect.csv" "$work/wine-stdin.csv" "wine.csv (stdin)"

"$aot" --embedded --csv data/wine.csv --drop class > "$work/wine-embedded.csv"
[ "$(tail -n +2 "$work/wine-embedded.csv" | wc -l)" -eq 178 ] || { echo "FAIL: --embedded did not score the 178 wine rows"; exit 1; }
echo "ok   wine.csv (--embedded): 178 rows scored with the model inside the binary"

echo "MNIST: train, detect, AOT ..."
"${cli[@]}" train --model ae --epochs 1 --hidden 64 --latent 16 --quiet --out "$work/mnist" > /dev/null
"${cli[@]}" detect --model "$work/mnist" --out "$work/mnist-detect.csv" > /dev/null 2>&1
"$aot" --model "$work/mnist" --mnist data/mnist-10k > "$work/mnist-aot.csv"
compare "$work/mnist-detect.csv" "$work/mnist-aot.csv" "MNIST test images (--mnist)"

echo "bad input: a missing model directory ..."
if "$aot" --model "$work/no-such-model" > /dev/null 2> "$work/err.txt"; then echo "FAIL: exit code 0 for a missing model"; exit 1; fi
[ "$(wc -l < "$work/err.txt")" -eq 1 ] || { cat "$work/err.txt"; echo "FAIL: expected a one-line error"; exit 1; }
echo "ok   $(cat "$work/err.txt")"
echo "all scores match"
