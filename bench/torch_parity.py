#!/usr/bin/env python3
"""Same start, same data order: is NeuralCore's conv AE training equivalent to PyTorch's?

Builds the peer's conv AE (bench/peers/torch_cpu_ref.py) with torch.manual_seed(SEED), saves its initial
weights under NeuralCore's parameter names (safetensors, written by hand) and the per-epoch permutations
(int32), then trains it in PyTorch and prints the test loss per sample after each epoch. Then run
  dotnet run -c Release --project bench/NeuralCore.Bench -- torch-parity --dir DIR
which trains NeuralCore's conv-ae from the same weights in the same order and prints the same figures.

  /usr/bin/python3 bench/torch_parity.py DIR [--seed 0] [--epochs 10] [DATA_DIR]
"""
import json, os, struct, sys
import numpy as np, torch, torch.nn.functional as F
from peer_models import DEFAULT_DATA, ConvAE, load_images

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
    data_dir = next((a for a in args[1:] if os.path.isdir(a)), DEFAULT_DATA)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    xtr, xte = load_images(data_dir)
    torch.manual_seed(seed)
    conv_ae = ConvAE()
    enc, dec = conv_ae.enc, conv_ae.dec
    names = {'enc.0': 'encoder.1', 'enc.2': 'encoder.3', 'enc.5': 'encoder.6', 'dec.0': 'decoder.0', 'dec.3': 'decoder.3', 'dec.5': 'decoder.5'}
    state = {}
    for prefix, module in (('enc', enc), ('dec', dec)):
        for k, v in module.state_dict().items():
            idx, kind = k.split('.')
            state[names[f'{prefix}.{idx}'] + '.' + kind] = v.numpy()
    write_safetensors(os.path.join(out, 'init.safetensors'), state)
    model = conv_ae
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
