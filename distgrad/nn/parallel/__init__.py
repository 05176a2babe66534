"""``distgrad.nn.parallel``: ``DistributedDataParallel`` (PyTorch's ``torch.nn.parallel``).

The implementation lives in :mod:`distgrad.distributed.ddp`; this package re-exports it under
PyTorch's import path (``from distgrad.nn.parallel import DistributedDataParallel``). The import
is deferred to first use, so that ``distgrad.nn`` can import this package while
``distgrad.distributed.ddp`` (which imports ``distgrad.nn``) is itself being imported.
"""

__all__ = ["DistributedDataParallel", "DDP"]


def __getattr__(name):
    if name in ("DistributedDataParallel", "DDP"):
        from ...distributed.ddp import DistributedDataParallel

        globals()["DistributedDataParallel"] = globals()["DDP"] = DistributedDataParallel
        return DistributedDataParallel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
