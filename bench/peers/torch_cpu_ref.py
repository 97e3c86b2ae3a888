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
import gzip, json, os, struct, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    nd = struct.unpack('>I', data[:4])[0] & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

def main():
    args = sys.argv[1:]
    data_dir = args[0] if args and not args[0].startswith('--') else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'data', 'mnist-10k')
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
    xtr = torch.tensor(read_idx(os.path.join(data_dir, 'train-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255
    xte = torch.tensor(read_idx(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255

    class VAE(nn.Module):
        def __init__(s):
            super().__init__()
            s.fc1, s.fc21, s.fc22, s.fc3, s.fc4 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20), nn.Linear(20, 400), nn.Linear(400, 784)
        def forward(s, x):
            h = F.relu(s.fc1(x)); mu, lv = s.fc21(h), s.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
            return torch.sigmoid(s.fc4(F.relu(s.fc3(z)))), mu, lv

    class ConvAE(nn.Module):
        def __init__(s):
            super().__init__()
            s.enc = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 32))
            s.dec = nn.Sequential(nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)), nn.ConvTranspose2d(32, 16, 3, 2, 1, 1), nn.ReLU(),
                                  nn.ConvTranspose2d(16, 1, 3, 2, 1, 1), nn.Sigmoid())
        def forward(s, x):
            return s.dec(s.enc(x.view(-1, 1, 28, 28))).view(-1, 784)

    def loss_of(name, m, x):
        if name == 'vae':
            r, mu, lv = m(x)
            return F.binary_cross_entropy(r, x, reduction='sum') - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        return F.binary_cross_entropy(m(x), x, reduction='sum')

    for name in ('vae', 'convae'):
        torch.manual_seed(0)
        m = VAE() if name == 'vae' else ConvAE()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        times = []
        for _ in range(epochs):
            t = time.perf_counter(); perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 128):
                x = xtr[perm[i:i + 128]]; opt.zero_grad(); loss_of(name, m, x).backward(); opt.step()
            times.append(time.perf_counter() - t)
        with torch.no_grad():
            test = loss_of(name, m, xte).item() / len(xte)
        res[name] = {'epochs': epochs, 'test_loss_per_sample': round(test, 3), 'epoch_s_median': round(float(np.median(times)), 4)}
    print(json.dumps(res, indent=1))
    if out:
        with open(out, 'w') as f: json.dump(res, f, indent=1)

if __name__ == '__main__':
    main()
