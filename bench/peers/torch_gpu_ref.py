# Peer reference on the GPU machine (it has PyTorch, no dotnet): SGEMM limit and the AE/VAE workloads of torch_cpu_ref.py.
# bench/gpu/pack.sh copies it into .gpu/ and bench/gpu-run.sh runs it there:
#   python3 .gpu/torch_gpu_ref.py DATA_DIR OUT.json   (DATA_DIR holds the mnist-10k IDX files)
import gzip, struct, sys, time, json
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('>I', data[:4])[0]
    nd = magic & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

res = {}
dev = 'cuda'
print(torch.__version__, torch.cuda.get_device_name(0), flush=True)
# 1. SGEMM FP32 (no TF32) and TF32
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    for n in (1024, 4096, 8192):
        a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
        for _ in range(3): a @ b
        torch.cuda.synchronize(); t = time.perf_counter(); reps = 20
        for _ in range(reps): a @ b
        torch.cuda.synchronize(); s = (time.perf_counter() - t) / reps
        key = f"sgemm_{'tf32' if tf32 else 'fp32'}_{n}"; res[key] = 2 * n ** 3 / s / 1e12
        print(key, f"{res[key]:.1f} TFLOP/s", flush=True)
torch.backends.cuda.matmul.allow_tf32 = False

d = sys.argv[1]
xtr = torch.tensor(idx(d + '/train-images-idx3-ubyte.gz').reshape(-1, 784), dtype=torch.float32) / 255
xte = torch.tensor(idx(d + '/t10k-images-idx3-ubyte.gz').reshape(-1, 784), dtype=torch.float32) / 255

class VAE(nn.Module):  # the pytorch/examples vae/main.py shape: 784-400-20
    def __init__(s):
        super().__init__(); s.fc1 = nn.Linear(784, 400); s.fc21 = nn.Linear(400, 20); s.fc22 = nn.Linear(400, 20); s.fc3 = nn.Linear(20, 400); s.fc4 = nn.Linear(400, 784)
    def forward(s, x):
        h = F.relu(s.fc1(x)); mu, lv = s.fc21(h), s.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        return torch.sigmoid(s.fc4(F.relu(s.fc3(z)))), mu, lv

def vae_loss(r, x, mu, lv):
    return F.binary_cross_entropy(r, x, reduction='sum') - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())

class ConvAE(nn.Module):  # small conv AE: 1x28x28 -> 32 latent -> 1x28x28
    def __init__(s):
        super().__init__()
        s.enc = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 32))
        s.dec = nn.Sequential(nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)), nn.ConvTranspose2d(32, 16, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(16, 1, 3, 2, 1, 1), nn.Sigmoid())
    def forward(s, x):
        return s.dec(s.enc(x.view(-1, 1, 28, 28))).view(-1, 784)

def train(model_name, device, threads=None, epochs=10, bs=128):
    if threads: torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = (VAE() if model_name == 'vae' else ConvAE()).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    xt, xv = xtr.to(device), xte.to(device)
    times = []
    for ep in range(epochs):
        if device == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter(); perm = torch.randperm(len(xt), device=device)
        m.train()
        for i in range(0, len(xt), bs):
            x = xt[perm[i:i + bs]]; opt.zero_grad()
            if model_name == 'vae':
                r, mu, lv = m(x); loss = vae_loss(r, x, mu, lv)
            else:
                loss = F.binary_cross_entropy(m(x), x, reduction='sum')
            loss.backward(); opt.step()
        if device == 'cuda': torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    m.eval()
    with torch.no_grad():
        if model_name == 'vae':
            r, mu, lv = m(xv); test = vae_loss(r, xv, mu, lv).item() / len(xv)
        else:
            test = F.binary_cross_entropy(m(xv), xv, reduction='sum').item() / len(xv)
    key = f"{model_name}_{device}{'_t' + str(threads) if threads else ''}"
    res[key] = {'test_loss_per_sample': test, 'epoch_s_median': float(np.median(times)), 'first_epoch_s': times[0]}
    print(key, res[key], flush=True)

train('vae', 'cuda'); train('convae', 'cuda')
train('vae', 'cpu', threads=2); train('convae', 'cpu', threads=2, epochs=3)
json.dump(res, open(sys.argv[2], 'w'), indent=1)
