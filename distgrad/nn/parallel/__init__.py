"""``distgrad.nn.parallel``: ``DistributedDataParallel`` (PyTorch's ``torch.nn.parallel``).

The implementation lives in :mod:`distgrad.distributed.ddp`; this package re-exports it under
PyTorch's import path (``from distgrad.nn.parallel import DistributedDataParallel``).
"""
from ...distributed.ddp import DistributedDataParallel

DDP = DistributedDataParallel

__all__ = ["DistributedDataParallel", "DDP"]
