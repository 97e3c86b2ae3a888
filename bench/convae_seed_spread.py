#!/usr/bin/env python3
"""Spread of the peer's test loss over PyTorch seeds (issue 6, item 4).

Trains the conv AE (default) or the MLP VAE of ../shared/peers/torch_cpu_ref.py (identical definitions, Adam 1e-3,
batch 128, summed BCE (+ KL), MNIST-10k train split) once per seed and prints the test loss per sample after N
epochs, so our seed-0 figure can be compared with PyTorch's own seed-to-seed variation.

  /usr/bin/python3 bench/convae_seed_spread.py [--model convae|vae] [--seeds 0,1,2,3,4] [--epochs 10] [--threads 1] [DATA_DIR]
"""
import gzip, os, struct, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    nd = struct.unpack('>I', data[:4])[0] & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

def opt(args, name, default):
    return args[args.index(name) + 1] if name in args else default

def main():
    args = sys.argv[1:]
    data_dir = next((a for a in args if os.path.isdir(a)), os.path.join(os.path.dirname(__file__), '..', 'data', 'mnist-10k'))
    seeds = [int(s) for s in opt(args, '--seeds', '0,1,2,3,4').split(',')]
    model = opt(args, '--model', 'convae')
    if model not in ('convae', 'vae'):
        sys.exit(f"--model {model}: choose convae or vae")
    epochs = int(opt(args, '--epochs', '10'))
    torch.set_num_threads(int(opt(args, '--threads', '1')))
    xtr = torch.tensor(read_idx(os.path.join(data_dir, 'train-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255
    xte = torch.tensor(read_idx(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255

    class ConvAE(nn.Module):
        def __init__(s):
            super().__init__()
            s.enc = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 32))
            s.dec = nn.Sequential(nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)), nn.ConvTranspose2d(32, 16, 3, 2, 1, 1), nn.ReLU(),
                                  nn.ConvTranspose2d(16, 1, 3, 2, 1, 1), nn.Sigmoid())
        def forward(s, x):
            return s.dec(s.enc(x.view(-1, 1, 28, 28))).view(-1, 784)

    class VAE(nn.Module):
        def __init__(s):
            super().__init__()
            s.fc1, s.fc21, s.fc22, s.fc3, s.fc4 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20), nn.Linear(20, 400), nn.Linear(400, 784)
        def forward(s, x):
            h = F.relu(s.fc1(x)); mu, lv = s.fc21(h), s.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
            return torch.sigmoid(s.fc4(F.relu(s.fc3(z)))), mu, lv

    def loss_of(m, x):
        if model == 'vae':
            r, mu, lv = m(x)
            return F.binary_cross_entropy(r, x, reduction='sum') - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        return F.binary_cross_entropy(m(x), x, reduction='sum')

    losses = []
    for seed in seeds:
        torch.manual_seed(seed)
        m = VAE() if model == 'vae' else ConvAE()
        o = torch.optim.Adam(m.parameters(), lr=1e-3)
        for _ in range(epochs):
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 128):
                x = xtr[perm[i:i + 128]]; o.zero_grad(); loss_of(m, x).backward(); o.step()
        with torch.no_grad():
            test = loss_of(m, xte).item() / len(xte)
        losses.append(test)
        print(f"seed {seed}: test loss per sample {test:.3f}", flush=True)
    print(f"{model} after {epochs} epochs over seeds {seeds}: mean {np.mean(losses):.3f}, std {np.std(losses, ddof=1) if len(losses) > 1 else 0:.3f}, "
          f"min {min(losses):.3f}, max {max(losses):.3f}")

if __name__ == '__main__':
    main()
