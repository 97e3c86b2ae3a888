"""What the PyTorch peers share (bench/peers/torch_cpu_ref.py, bench/convae_seed_spread.py, bench/torch_parity.py):
the MNIST-10k reader and the peer's two models."""
import gzip, os, struct
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'mnist-10k')

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    nd = struct.unpack('>I', data[:4])[0] & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

def load_images(data_dir):
    """(train, test) images as float32 [count, 784] in [0, 1]."""
    def images(name):
        return torch.tensor(read_idx(os.path.join(data_dir, name)).reshape(-1, 784), dtype=torch.float32) / 255
    return images('train-images-idx3-ubyte.gz'), images('t10k-images-idx3-ubyte.gz')

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

def loss_of(m, x):
    """The peer's training loss, summed over the batch: BCE (+ KL for the VAE)."""
    if isinstance(m, VAE):
        r, mu, lv = m(x)
        return F.binary_cross_entropy(r, x, reduction='sum') - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    return F.binary_cross_entropy(m(x), x, reduction='sum')

def train_epoch(m, optimizer, xtr, batch=128):
    """One epoch as the reference trains: a fresh permutation from torch's generator, Adam steps on the summed loss."""
    perm = torch.randperm(len(xtr))
    for i in range(0, len(xtr), batch):
        x = xtr[perm[i:i + batch]]; optimizer.zero_grad(); loss_of(m, x).backward(); optimizer.step()
