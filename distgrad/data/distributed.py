"""``DistributedSampler``: each rank iterates over its own shard of the data set (PyTorch's
``torch.utils.data.distributed.DistributedSampler``, same index algorithm).

Every rank builds the same permutation (a generator seeded with ``seed + epoch``), pads it by
repeating its first indices until its length is a multiple of ``num_replicas`` (or, with
``drop_last=True``, cuts the tail), then takes every ``num_replicas``-th index starting at
``rank``. So all ranks get the same number of samples (the same number of batches: no rank
waits for the others at the end of an epoch) and together they cover the data set once per
epoch, plus up to ``num_replicas - 1`` repeated samples when the size does not divide.

Call ``sampler.set_epoch(epoch)`` at the start of every epoch, otherwise every epoch uses the
same order (a warning says so when a shuffling sampler is iterated twice without a
``set_epoch`` call in between).

For evaluation use :class:`distgrad.distributed.evaluation.DistributedEvalSampler` (no padding:
every sample is counted exactly once).
"""
from __future__ import annotations

import math
import warnings

from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _epoch_order(n: int, shuffle: bool, seed: int, epoch: int) -> list:
    """The indices ``0..n-1``, in a permutation seeded with ``seed + epoch`` when ``shuffle``."""
    if not shuffle:
        return list(range(n))
    from .. import Generator, randperm

    g = Generator()
    g.manual_seed(seed + epoch)
    return randperm(n, generator=g).tolist()


def _world(num_replicas, rank):
    """``(num_replicas, rank)``, from the default process group where not given, validated."""
    if num_replicas is None or rank is None:
        from .. import distributed as dist

        if not dist.is_initialized():
            raise RuntimeError("DistributedSampler: num_replicas/rank not given and the default "
                               "process group is not initialized; call "
                               "distgrad.distributed.init_process_group() first or pass "
                               "num_replicas= and rank=")
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
    num_replicas, rank = int(num_replicas), int(rank)
    if num_replicas < 1:
        raise ValueError(f"num_replicas should be a positive integer, got {num_replicas}")
    if rank >= num_replicas or rank < 0:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                         f"[0, {num_replicas - 1}]")
    return num_replicas, rank


class DistributedSampler(Sampler):
    """Indices of this rank's shard of ``dataset``.

    Args:
        dataset: anything with ``len()``.
        num_replicas: number of ranks (default: the world size of the default group).
        rank: this rank (default: the rank in the default group).
        shuffle: a new permutation each epoch (seeded with ``seed + epoch``).
        seed: must be the same on every rank.
        drop_last: cut the tail instead of padding, so that no sample is repeated.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        self.num_replicas, self.rank = _world(num_replicas, rank)
        self.dataset = dataset
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # the largest multiple of num_replicas below len(dataset): every rank the same count
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = int(seed)
        self._iterated_epoch = None
        self._warned = False

    def _all_indices(self):
        """Every rank's indices of this epoch, padded (or cut) to ``total_size``."""
        indices = _epoch_order(len(self.dataset), self.shuffle, self.seed, self.epoch)
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size > 0 and indices:
                if padding_size <= len(indices):
                    indices += indices[:padding_size]
                else:
                    indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        return indices

    def __iter__(self):
        if self.shuffle:
            if self._iterated_epoch == self.epoch and not self._warned:
                self._warned = True
                warnings.warn("DistributedSampler iterated twice with the same epoch: the order "
                              "repeats. Call sampler.set_epoch(epoch) at the start of each "
                              "epoch.", UserWarning, stacklevel=2)
            self._iterated_epoch = self.epoch
        indices = self._all_indices()[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (the permutation is seeded with ``seed + epoch``); call it at the start
        of every epoch, with the same value on every rank."""
        self.epoch = int(epoch)
        self._iterated_epoch = None  # the caller manages epochs: iterating again is deliberate
