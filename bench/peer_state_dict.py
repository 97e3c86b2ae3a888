"""Trains the PyTorch reference models (peer_models.py) and saves each state_dict as safetensors, for `neuralcore import`.

usage: python3 bench/peer_state_dict.py OUT_DIR [--epochs 2] [--models vae,convae] [--data DIR] [--dtype F32|F16|BF16|F64]

Writes OUT_DIR/MODEL.safetensors and OUT_DIR/losses.json ({"vae": test loss per sample, ...}: PyTorch's own loss of the
saved weights on the 2,000 MNIST-10k test images, summed BCE (+ KL) per sample as `neuralcore eval` prints it).
Debian's Python has no safetensors package, so the format (8-byte little-endian header length, JSON header padded to
8 bytes, then the raw little-endian tensors in header order) is written here directly.
"""
import json, os, struct, sys
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_models import DEFAULT_DATA, VAE, ConvAE, load_images, loss_of, train_epoch

DTYPES = {'F32': (torch.float32, np.float32), 'F16': (torch.float16, np.float16), 'F64': (torch.float64, np.float64), 'BF16': (torch.bfloat16, None)}

def save_safetensors(path, tensors, dtype='F32'):
    torch_type, numpy_type = DTYPES[dtype]
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch_type).contiguous()
        # numpy has no bfloat16: its bits are the upper half of float32's
        raw = (t.view(torch.int16).numpy().astype('<i2').tobytes() if dtype == 'BF16' else t.numpy().astype(np.dtype(numpy_type).newbyteorder('<')).tobytes())
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw); offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text))); f.write(text)
        for b in blobs: f.write(b)
    os.replace(tmp, path)

def main():
    args = sys.argv[1:]
    if not args or args[0].startswith('--'): sys.exit(__doc__)
    out = args[0]
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default
    epochs, models, data, dtype = int(opt('--epochs', '2')), opt('--models', 'vae,convae').split(','), opt('--data', DEFAULT_DATA), opt('--dtype', 'F32')
    os.makedirs(out, exist_ok=True)
    xtr, xte = load_images(data)
    losses = {}
    for name in models:
        torch.manual_seed(0)
        m = VAE() if name == 'vae' else ConvAE()
        optimizer = torch.optim.Adam(m.parameters(), lr=1e-3)
        for _ in range(epochs):
            train_epoch(m, optimizer, xtr)
        save_safetensors(os.path.join(out, name + '.safetensors'), m.state_dict(), dtype)
        # The loss of the weights as saved (rounded to the file's dtype), as the importer will see them.
        m.load_state_dict({k: v.to(DTYPES[dtype][0]).float() for k, v in m.state_dict().items()})
        with torch.no_grad():
            losses[name] = loss_of(m, xte).item() / len(xte)
    with open(os.path.join(out, 'losses.json'), 'w') as f: json.dump(losses, f, indent=1)
    print(json.dumps(losses))

if __name__ == '__main__':
    main()
