#!/usr/bin/env python3
"""Peer reference: the same AE/VAE workloads in PyTorch on this CPU, for side-by-side comparison.

Setup (once per machine):  apt-get update && apt-get install -y python3-torch
Run:                       /usr/bin/python3 bench/peers/torch_cpu_ref.py [DATA_DIR] [--epochs N] [--json OUT]
                           (DATA_DIR defaults to the repository's data/mnist-10k; bench/compare.sh runs it)

Workloads (bench/NeuralCore.Bench and bench/peer_models.py define them identically):
  * sgemm      : C = A @ B, float32, square n in {256, 1024, 2048} and the AE shapes 128x784x400, 128x400x784
  * vae        : 784-400-(20+20)-400-784 MLP VAE, ReLU, sigmoid output, loss = summed BCE + KL,
                 Adam lr 1e-3, batch 128, MNIST-10k train split (8000), test loss per sample on the 2000 test split
  * convae     : Conv(1->16,3,s2,p1)-ReLU-Conv(16->32,3,s2,p1)-ReLU-Flatten-Linear(1568->32) /
                 Linear(32->1568)-ReLU-ConvT(32->16,3,s2,p1,op1)-ReLU-ConvT(16->1,3,s2,p1,op1)-Sigmoid,
                 loss = summed BCE, same optimiser and batch
Each epoch time is wall-clock for one pass over the 8000 training images; the median over epochs is reported.
"""
import json, os, sys, time
import numpy as np, torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from peer_models import DEFAULT_DATA, VAE, ConvAE, load_images, loss_of, train_epoch

def main():
    args = sys.argv[1:]
    data_dir = args[0] if args and not args[0].startswith('--') else DEFAULT_DATA
    epochs = int(args[args.index('--epochs') + 1]) if '--epochs' in args else 10
    out = args[args.index('--json') + 1] if '--json' in args else None
    torch.set_num_threads(os.cpu_count())
    res = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    for (m, k, n) in [(256, 256, 256), (1024, 1024, 1024), (2048, 2048, 2048), (128, 784, 400), (128, 400, 784)]:
        a, b = torch.rand(m, k), torch.rand(k, n)
        a @ b
        reps = max(3, int(2e10 / (2 * m * k * n)))
        t = time.perf_counter()
        for _ in range(reps): a @ b
        s = (time.perf_counter() - t) / reps
        res[f'sgemm_{m}x{k}x{n}_gflops'] = 2 * m * k * n / s / 1e9
    xtr, xte = load_images(data_dir)

    for name in ('vae', 'convae'):
        torch.manual_seed(0)
        m = VAE() if name == 'vae' else ConvAE()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        times = []
        for _ in range(epochs):
            t = time.perf_counter()
            train_epoch(m, opt, xtr)
            times.append(time.perf_counter() - t)
        with torch.no_grad():
            test = loss_of(m, xte).item() / len(xte)
        res[name] = {'epochs': epochs, 'test_loss_per_sample': round(test, 3), 'epoch_s_median': round(float(np.median(times)), 4)}
    print(json.dumps(res, indent=1))
    if out:
        with open(out, 'w') as f: json.dump(res, f, indent=1)

if __name__ == '__main__':
    main()
