#!/usr/bin/env python3
"""The modelled figures of docs/scaling.md: data-parallel training with a fixed global batch of 128 (the bits of one
process need the same global batch), each of N ranks computing 128/N rows, and the gradient summed by a ring
allreduce: 2(N-1)/N x gradient bytes / bandwidth + 2(N-1) x latency per step (NeuralCore's chain + broadcast moves
about 2 x the bytes per rank instead, the same as the ring for large N, twice it at N = 2: printed beside it).
Usage: bench/scaling_model.py VAE_COMPUTE_MS CONVAE_COMPUTE_MS   (measured compute per step of one process)"""
import math
import sys

LATENCY_S = 20e-6          # per message hop over TCP on Ethernet (assumed)
STEPS = math.ceil(60000 / 128)   # one epoch of a 60,000-image data set at batch 128
MODELS = {"vae": 652825 * 4, "conv-ae": 111522 * 4}   # gradient bytes: parameters + the loss, float32


def ring(n, size, gbps):
    return 0.0 if n == 1 else 2 * (n - 1) / n * size / (gbps * 1e9 / 8) + 2 * (n - 1) * LATENCY_S


def chain(n, size, gbps, chunk=1 << 18):
    # pipelined chain (n - 1 + chunks hops) and a broadcast of the sum: about 2 x size per rank
    if n == 1:
        return 0.0
    chunks = math.ceil(size / chunk)
    return 2 * size / (gbps * 1e9 / 8) + (n - 1 + chunks + math.ceil(math.log2(n))) * LATENCY_S


def main():
    compute = {"vae": float(sys.argv[1]) / 1000, "conv-ae": float(sys.argv[2]) / 1000}
    ns = [1, 2, 4, 8, 16, 32, 64]
    for model, size in MODELS.items():
        tc = compute[model]
        print(f"\n### {model}: gradient {size / 1e6:.2f} MB, compute {tc * 1000:.1f} ms per step on one process (measured)\n")
        print("| N | compute ms/step (tc/N) | " + " | ".join(f"allreduce ms @ {g} Gb/s" for g in (10, 25, 100))
              + " | " + " | ".join(f"epoch s @ {g}" for g in (10, 25, 100)) + " | " + " | ".join(f"efficiency @ {g}" for g in (10, 25, 100)) + " |")
        print("|" + "---|" * 11)
        for n in ns:
            c = tc / n
            ar = [ring(n, size, g) for g in (10, 25, 100)]
            epoch = [STEPS * (c + a) for a in ar]
            eff = [STEPS * tc / (n * e) for e in epoch]
            print(f"| {n} | {c * 1000:.2f} | " + " | ".join(f"{a * 1000:.2f}" for a in ar) + " | "
                  + " | ".join(f"{e:.1f}" for e in epoch) + " | " + " | ".join(f"{x:.0%}" for x in eff) + " |")
        print()
        for g in (10, 25, 100):
            best = min(range(1, 65), key=lambda n: tc / n + ring(n, size, g))
            half = next((n for n in range(2, 65) if tc / (n * (tc / n + ring(n, size, g))) < 0.5), None)
            cross = next((n for n in range(2, 65) if ring(n, size, g) >= tc / n), None)
            print(f"- {g} Gb/s: allreduce exceeds compute from N = {cross}; efficiency below 50% from N = {half}; "
                  f"fastest epoch at N = {best} ({STEPS * (tc / best + ring(best, size, g)):.1f} s); "
                  f"NeuralCore's chain at N = 2: {chain(2, size, g) * 1000:.2f} ms vs ring {ring(2, size, g) * 1000:.2f} ms")


main()
