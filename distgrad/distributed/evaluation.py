"""Exact distributed evaluation: every sample is counted once, on exactly one rank.

``DistributedSampler`` pads the data set so that every rank gets the same number of samples
(needed in training, where ranks synchronize every step). In evaluation that padding counts up
to ``world_size - 1`` samples twice and skews the metrics (PyTorch issue #25162). Here instead:

* :class:`DistributedEvalSampler` gives exact, unpadded shards (``indices[rank::world]``): the
  shards differ in length by at most one and together hold every index once.
* :func:`all_reduce_metrics` sums a dict of per-rank sums (numbers, arrays or tensors) over the
  ranks in one all-reduce and returns the exact totals (ranks with an empty shard are fine).
* :func:`evaluate` runs ``metric_fn`` over a loader in eval mode under ``no_grad`` and returns
  the totals of its sums. It runs no collective per batch (the ranks may have different numbers
  of batches) and unwraps ``DistributedDataParallel`` (whose forward would broadcast buffers)::

      loader = DataLoader(val_set, batch_size=256,
                          sampler=DistributedEvalSampler(val_set))
      def metric_fn(model, batch):
          x, y = batch
          out = model(x)
          return {"correct": int((out.argmax(1) == y).sum().item()), "count": len(y),
                  "loss_sum": float(F.cross_entropy(out, y, reduction="sum").item())}
      t = evaluate(model, loader, metric_fn)
      accuracy = t["correct"] / t["count"]              # t["count"] == len(val_set)
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from ..autograd.grad_mode import no_grad
from ..data.sampler import Sampler
from ..tensor import Tensor
from . import collectives as _coll
from . import process_group as _pgm

__all__ = ["DistributedEvalSampler", "all_reduce_metrics", "evaluate"]


class DistributedEvalSampler(Sampler):
    """This rank's exact share of ``dataset`` (no padding, no dropping): ``indices[rank::n]``
    of ``range(len(dataset))`` or of a permutation seeded with ``seed + epoch`` when
    ``shuffle``. Ranks may get one sample more than others, so do not run per-batch collectives
    (e.g. a DDP forward in training mode) over it."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle: bool = False,
                 seed: int = 0):
        from ..data.distributed import _world

        self.num_replicas, self.rank = _world(num_replicas, rank)
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0

    def __iter__(self):
        from ..data.distributed import _epoch_order

        indices = _epoch_order(len(self.dataset), self.shuffle, self.seed, self.epoch)
        return iter(indices[self.rank::self.num_replicas])

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch; with ``shuffle`` the order is seeded with ``seed + epoch``."""
        self.epoch = int(epoch)


def _to_numpy(value, key):
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(value, (bool, np.bool_)):
        return np.asarray(int(value), np.int64), "i"
    if isinstance(value, (int, np.integer)):
        return np.asarray(value, np.int64), "i"
    if isinstance(value, (float, np.floating)):
        return np.asarray(value, np.float64), "f"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = _backend.to_device(value, _backend.CPU)
        kind = "i" if arr.dtype.kind in "biu" else "f"
        return np.asarray(arr, np.int64 if kind == "i" else np.float64), kind
    raise TypeError(f"all_reduce_metrics: value of '{key}' is a {type(value).__name__}; use "
                    f"numbers, arrays or tensors")


def all_reduce_metrics(metrics: dict, group=None) -> dict:
    """Sum every entry of ``metrics`` over the ranks; returns the totals on every rank.

    Values are numbers, NumPy/CuPy arrays or tensors (sums per rank, e.g. correct predictions,
    sample counts, summed losses); integer values come back as Python ints (exact up to 2**53),
    floats as Python floats, arrays as NumPy arrays. A key may be missing on some ranks (e.g. a
    rank with an empty shard): it counts as zero there. Two small collectives (the keys and
    shapes, then one float64 all-reduce)."""
    local = {}
    for key, value in metrics.items():
        local[str(key)] = _to_numpy(value, key)
    pg = _pgm._resolve(group)
    spec = {k: (tuple(a.shape), kind) for k, (a, kind) in local.items()}
    if pg.is_member and pg.size() > 1:
        specs = [None] * pg.size()
        _coll.all_gather_object(specs, spec, group=pg)
    else:
        specs = [spec]
    merged = {}
    for r, s in enumerate(specs):
        for k, (shape, kind) in s.items():
            prev = merged.get(k)
            if prev is None:
                merged[k] = (shape, kind)
            elif prev[0] != shape:
                raise ValueError(f"all_reduce_metrics: '{k}' has shape {prev[0]} on one rank and "
                                 f"{shape} on rank {pg.world_ranks[r]}")
            elif prev[1] != kind:
                merged[k] = (shape, "f")
    keys = sorted(merged)
    sizes = [int(np.prod(merged[k][0], dtype=np.int64)) for k in keys]
    buf = np.zeros(sum(sizes), np.float64)
    pos = 0
    for k, n in zip(keys, sizes):
        if k in local:
            buf[pos:pos + n] = local[k][0].reshape(-1)
        pos += n
    if pg.is_member and pg.size() > 1:
        _coll.all_reduce(buf, group=pg)
    out, pos = {}, 0
    for k, n in zip(keys, sizes):
        shape, kind = merged[k]
        v = buf[pos:pos + n].reshape(shape)
        pos += n
        if shape == ():
            out[k] = int(round(float(v))) if kind == "i" else float(v)
        else:
            out[k] = np.rint(v).astype(np.int64) if kind == "i" else v.copy()
    return {k: out[str(k)] for k in metrics} | {k: v for k, v in out.items() if k not in metrics}


def evaluate(model, loader, metric_fn, group=None) -> dict:
    """Run ``metric_fn(model, batch) -> dict of sums`` over every batch of ``loader`` (eval mode,
    no_grad), then :func:`all_reduce_metrics` the totals. The model's train/eval mode is restored
    afterwards. A ``DistributedDataParallel`` model is unwrapped. Use a loader over a
    :class:`DistributedEvalSampler`; a padded ``DistributedSampler`` triggers a warning, since its
    repeated samples would be counted twice."""
    inner = model
    try:
        from .ddp import DistributedDataParallel
    except ImportError:  # pragma: no cover
        DistributedDataParallel = ()
    if DistributedDataParallel and isinstance(model, DistributedDataParallel):
        inner = model.module
    sampler = getattr(loader, "sampler", None)
    from ..data.distributed import DistributedSampler

    if isinstance(sampler, DistributedSampler) and sampler.total_size != len(sampler.dataset):
        warnings.warn(f"evaluate: the loader's DistributedSampler pads {len(sampler.dataset)} "
                      f"samples to {sampler.total_size}, so some are counted twice; use "
                      f"DistributedEvalSampler for exact metrics", UserWarning, stacklevel=2)
    was_training = getattr(inner, "training", False)
    if hasattr(inner, "eval"):
        inner.eval()
    totals = {}
    try:
        with no_grad():
            for batch in loader:
                for k, v in metric_fn(inner, batch).items():
                    arr, kind = _to_numpy(v, k)
                    prev = totals.get(k)
                    totals[k] = arr if prev is None else prev + arr
    finally:
        if was_training and hasattr(inner, "train"):
            inner.train()
    return all_reduce_metrics(totals, group=group)
