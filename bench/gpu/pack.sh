#!/usr/bin/env bash
# Packs a self-contained build of one project for a GPU machine that has the NVIDIA driver but no .NET.
# Usage (from anywhere in the repository):  bash bench/gpu/pack.sh src/Cli [extra dotnet publish args]
# Result: .gpu/app.tar.xz (ignored by git), .gpu/data/mnist-10k (the repository's copy) and .gpu/torch_gpu_ref.py
# (the PyTorch peer). Send .gpu along with the working tree, then on the GPU machine run bench/gpu-run.sh, or:
#   mkdir -p /tmp/app && tar xJf .gpu/app.tar.xz -C /tmp/app && /tmp/app/<assembly name> ...
set -euo pipefail
proj=${1:?project folder, e.g. src/Cli}; shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
exclude="$(git rev-parse --git-path info/exclude)"
grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
publish="$(mktemp -d)"
trap 'rm -rf "$publish"' EXIT
rm -rf .gpu && mkdir -p .gpu
dotnet publish "$proj" -c Release -r linux-x64 --self-contained true -p:InvariantGlobalization=true \
  -p:PublishAot=false -p:PublishTrimmed=false -o "$publish/app" "$@" > "$publish/log.txt" 2>&1 \
  || { tail -30 "$publish/log.txt"; exit 1; }
tar cJf .gpu/app.tar.xz -C "$publish/app" .
mkdir -p .gpu/data && cp -r data/mnist-10k .gpu/data/
cp bench/peers/torch_gpu_ref.py .gpu/
du -sh .gpu/app.tar.xz
echo "built .gpu/ (the working tree sent to the GPU machine, .gpu included, must stay under 64 MiB)"
