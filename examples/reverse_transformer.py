"""Train a small Transformer encoder to reverse sequences of digits.

    python examples/reverse_transformer.py                # one process
    distgrad-run -n 2 examples/reverse_transformer.py     # 2 MPI ranks, DistributedDataParallel

Each sample is a random sequence of ``--length`` digits; the target at position i is the digit
at position ``length - 1 - i``, so the model must learn to attend by position. The model is
PyTorch's recipe in distgrad: token and position embeddings, ``nn.TransformerEncoder`` (pre-norm,
GELU), a linear head; AdamW with ``OneCycleLR``. Every rank draws its own batches (a different
seed), DDP averages the gradients. Rank 0 reports the per-token and whole-sequence accuracy on
a fixed validation set.
"""
from __future__ import annotations

import argparse

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
import distgrad.nn.functional as F
from distgrad import nn, optim
from distgrad.nn.parallel import DistributedDataParallel

VOCAB = 10


class Reverser(nn.Module):
    """Embeddings, a Transformer encoder and a per-position classifier."""

    def __init__(self, length, d_model=64, nhead=4, layers=2):
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, d_model)
        self.positions = nn.Parameter(dg.randn(length, d_model) * 0.1)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model,
                                           dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, VOCAB)

    def forward(self, x):
        return self.head(self.encoder(self.tokens(x) + self.positions))


def batch(rng, size, length):
    """Random digit sequences and their reversals, as (input, target) int64 tensors."""
    x = rng.integers(0, VOCAB, (size, length))
    return dg.from_numpy(x), dg.from_numpy(x[:, ::-1].copy())


def accuracy(model, x, y):
    """(per-token accuracy, share of sequences reversed without a mistake)."""
    with dg.no_grad():
        correct = model(x).argmax(-1) == y
    return correct.float().mean().item(), correct.all(-1).float().mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=8)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (all ranks)")
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args(argv)

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    dg.manual_seed(0)
    model = DistributedDataParallel(Reverser(args.length))
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    rng = np.random.default_rng(1 + rank)  # each rank its own data
    x_val, y_val = batch(np.random.default_rng(12345), 512, args.length)
    for step in range(1, args.steps + 1):
        x, y = batch(rng, args.batch_size // world, args.length)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if rank == 0 and (step % 50 == 0 or step == args.steps):
            token, seq = accuracy(model, x_val, y_val)
            print(f"step {step}: loss {loss.item():.4f}, validation token accuracy "
                  f"{100 * token:.1f}%, sequences reversed {100 * seq:.1f}%", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
