#!/usr/bin/env python3
"""Spread of the peer's test loss over PyTorch seeds (issue 6, item 4).

Trains the conv AE (default) or the MLP VAE of bench/peers/torch_cpu_ref.py (identical definitions, Adam 1e-3,
batch 128, summed BCE (+ KL), MNIST-10k train split) once per seed and prints the test loss per sample after N
epochs, so our seed-0 figure can be compared with PyTorch's own seed-to-seed variation.

  /usr/bin/python3 bench/convae_seed_spread.py [--model convae|vae] [--seeds 0,1,2,3,4] [--epochs 10] [--threads 1] [DATA_DIR]
"""
import os, sys
import numpy as np, torch
from peer_models import DEFAULT_DATA, VAE, ConvAE, load_images, loss_of, train_epoch

def opt(args, name, default):
    return args[args.index(name) + 1] if name in args else default

def main():
    args = sys.argv[1:]
    data_dir = next((a for a in args if os.path.isdir(a)), DEFAULT_DATA)
    seeds = [int(s) for s in opt(args, '--seeds', '0,1,2,3,4').split(',')]
    model = opt(args, '--model', 'convae')
    if model not in ('convae', 'vae'):
        sys.exit(f"--model {model}: choose convae or vae")
    epochs = int(opt(args, '--epochs', '10'))
    torch.set_num_threads(int(opt(args, '--threads', '1')))
    xtr, xte = load_images(data_dir)

    losses = []
    for seed in seeds:
        torch.manual_seed(seed)
        m = VAE() if model == 'vae' else ConvAE()
        o = torch.optim.Adam(m.parameters(), lr=1e-3)
        for _ in range(epochs):
            train_epoch(m, o, xtr)
        with torch.no_grad():
            test = loss_of(m, xte).item() / len(xte)
        losses.append(test)
        print(f"seed {seed}: test loss per sample {test:.3f}", flush=True)
    print(f"{model} after {epochs} epochs over seeds {seeds}: mean {np.mean(losses):.3f}, std {np.std(losses, ddof=1) if len(losses) > 1 else 0:.3f}, "
          f"min {min(losses):.3f}, max {max(losses):.3f}")

if __name__ == '__main__':
    main()
