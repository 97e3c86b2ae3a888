#!/usr/bin/env python3
"""Same start, same data order: is NeuralCore's conv AE training equivalent to PyTorch's?

Builds the peer's conv AE (../shared/peers/torch_cpu_ref.py) with torch.manual_seed(SEED), saves its initial
weights under NeuralCore's parameter names (safetensors, written by hand) and the per-epoch permutations
(int32), then trains it in PyTorch and prints the test loss per sample after each epoch. Then run
  dotnet run -c Release --project bench/NeuralCore.Bench -- torch-parity --dir DIR
which trains NeuralCore's conv-ae from the same weights in the same order and prints the same figures.

  /usr/bin/python3 bench/torch_parity.py DIR [--seed 0] [--epochs 10] [DATA_DIR]
"""
import gzip, json, os, struct, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    nd = struct.unpack('>I', data[:4])[0] & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype='<f4')
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
        blobs.append(a.tobytes()); offset += a.nbytes
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

def main():
    args = sys.argv[1:]
    out = args[0]
    seed = int(args[args.index('--seed') + 1]) if '--seed' in args else 0
    epochs = int(args[args.index('--epochs') + 1]) if '--epochs' in args else 10
    data_dir = next((a for a in args[1:] if os.path.isdir(a)), os.path.join(os.path.dirname(__file__), '..', 'data', 'mnist-10k'))
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    xtr = torch.tensor(read_idx(os.path.join(data_dir, 'train-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255
    xte = torch.tensor(read_idx(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz')).reshape(-1, 784), dtype=torch.float32) / 255
    torch.manual_seed(seed)
    enc = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 32))
    dec = nn.Sequential(nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)), nn.ConvTranspose2d(32, 16, 3, 2, 1, 1), nn.ReLU(),
                        nn.ConvTranspose2d(16, 1, 3, 2, 1, 1), nn.Sigmoid())
    names = {'enc.0': 'encoder.1', 'enc.2': 'encoder.3', 'enc.5': 'encoder.6', 'dec.0': 'decoder.0', 'dec.3': 'decoder.3', 'dec.5': 'decoder.5'}
    state = {}
    for prefix, module in (('enc', enc), ('dec', dec)):
        for k, v in module.state_dict().items():
            idx, kind = k.split('.')
            state[names[f'{prefix}.{idx}'] + '.' + kind] = v.numpy()
    write_safetensors(os.path.join(out, 'init.safetensors'), state)
    model = lambda x: dec(enc(x.view(-1, 1, 28, 28))).view(-1, 784)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    perms = []
    for epoch in range(epochs):
        perm = torch.randperm(len(xtr)); perms.append(perm.numpy().astype('<i4'))
        for i in range(0, len(xtr), 128):
            x = xtr[perm[i:i + 128]]; opt.zero_grad(); F.binary_cross_entropy(model(x), x, reduction='sum').backward(); opt.step()
        with torch.no_grad():
            print(f'torch epoch {epoch + 1}: test loss per sample {F.binary_cross_entropy(model(xte), xte, reduction="sum").item() / len(xte):.3f}', flush=True)
    np.concatenate(perms).tofile(os.path.join(out, 'order.i32'))

if __name__ == '__main__':
    main()
