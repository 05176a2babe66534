"""Train an MLP or a small CNN on the 8x8 handwritten digits bundled with scikit-learn.

One script for every way of running it:

    python examples/digits.py --model cnn                 # one process (debugging: pdb works)
    distgrad-run -n 2 examples/digits.py --model cnn      # 2 MPI ranks, DistributedDataParallel
    sbatch --ntasks=4 slurm/train.sbatch examples/digits.py --epochs 20

Each rank trains on its shard of every batch (DistributedSampler; ``--batch-size`` is the global
batch, split over the ranks); DDP averages the gradients, so the replicas stay identical. Rank 0
shows a progress bar, writes ``metrics.jsonl`` and a plot, and saves ``checkpoint.npz`` after
every epoch; ``--resume`` continues from it (the same trajectory: model, optimizer, epoch and
RNG state). Validation counts every sample exactly once across ranks.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
import distgrad.nn.functional as F
from distgrad import nn, optim
from distgrad.data import DataLoader, DistributedSampler, TensorDataset
from distgrad.distributed.evaluation import DistributedEvalSampler
from distgrad.nn.parallel import DistributedDataParallel
from distgrad.utils.metrics import MetricsLog
from distgrad.utils.progress import progress


def load_digits(val_fraction=0.2, seed=0):
    """The 1,797 digits as (train, validation) TensorDatasets, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))  # the same split on every rank
    n_val = int(len(y) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (TensorDataset(dg.from_numpy(x[train]), dg.from_numpy(y[train])),
            TensorDataset(dg.from_numpy(x[val]), dg.from_numpy(y[val])))


def make_model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128),
                             nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(512, 10))


def evaluate(model, loader):
    """Loss and accuracy over the whole validation set, each sample counted once on one rank."""
    model.eval()
    totals = dg.zeros(3, dtype=dg.float64)  # loss sum, correct, count
    with dg.no_grad():
        for x, y in loader:
            out = model(x)
            totals += dg.tensor([F.cross_entropy(out, y, reduction="sum").item(),
                                 (out.argmax(dim=1) == y).sum().item(), len(y)], dtype=dg.float64)
    dist.all_reduce(totals)
    model.train()
    loss, correct, count = totals.tolist()
    return loss / count, correct / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (all ranks)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader worker threads per rank (0: batches built in the loop)")
    parser.add_argument("--out", default="runs/digits", help="checkpoint, metrics and plot")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    parser.add_argument("--stop-after", type=int, default=None, metavar="K",
                        help="stop after K epochs of this run, as a job that hits its time limit "
                             "would (continue later with --resume)")
    args = parser.parse_args(argv)

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} is not divisible by {world} ranks")
    out = Path(args.out)
    ckpt_path = out / "checkpoint.npz"
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    dg.manual_seed(args.seed)
    train_set, val_set = load_digits(seed=args.seed)
    sampler = DistributedSampler(train_set, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler,
                              num_workers=args.workers)
    val_loader = DataLoader(val_set, batch_size=256, sampler=DistributedEvalSampler(val_set))

    model = DistributedDataParallel(make_model(args.model))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    start_epoch = 0
    if args.resume and ckpt_path.exists():
        state = dg.load(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        dg.set_rng_state(state["rng"])
        start_epoch = state["epoch"]
        dist.print0(f"resumed from {ckpt_path} after epoch {start_epoch}")

    dist.print0(f"digits: {args.model}, {world} rank(s), {len(train_set)} training and "
                f"{len(val_set)} validation images, global batch {args.batch_size}")
    metrics = MetricsLog(out / "metrics.jsonl") if rank == 0 else None
    step = start_epoch * len(train_loader)
    val_acc = 0.0
    end_epoch = args.epochs if args.stop_after is None else min(args.epochs, start_epoch + args.stop_after)
    for epoch in range(start_epoch, end_epoch):
        sampler.set_epoch(epoch)
        t0, seen = time.perf_counter(), 0
        bar = progress(train_loader, desc=f"epoch {epoch + 1}/{args.epochs}", log_every=0.5)
        for x, y in bar:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(y) * world
            bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        scheduler.step()
        val_loss, val_acc = evaluate(model, val_loader)
        rate = seen / (time.perf_counter() - t0)
        dist.print0(f"epoch {epoch + 1}: train loss {loss.item():.4f}, validation loss "
                    f"{val_loss:.4f}, validation accuracy {val_acc:.2%}, {rate:.0f} samples/s")
        if metrics:
            metrics.log(step=step, epoch=epoch + 1, loss=loss.item(), val_loss=val_loss,
                        accuracy=val_acc, lr=scheduler.get_last_lr()[0], samples_per_s=rate)
        dist.save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "scheduler": scheduler.state_dict(), "rng": dg.get_rng_state(),
                              "epoch": epoch + 1}, ckpt_path)
    if metrics:
        metrics.close()
        try:
            from distgrad.utils.plot import plot_metrics
            plot_metrics(out / "metrics.jsonl", out / "metrics.png",
                         keys=["loss", "val_loss", "accuracy"])
        except ImportError as exc:
            print(f"no plot: {exc}")
    dist.print0(f"final validation accuracy {val_acc:.2%}")
    return val_acc


if __name__ == "__main__":
    main()
