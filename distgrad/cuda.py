"""``distgrad.cuda``: GPUs through CuPy (``torch.cuda``'s basic API).

Nothing here imports CuPy at import time; without CuPy or a GPU ``is_available()`` is False,
``device_count()`` is 0, and the functions that need a GPU raise an error saying what to install
(``pip install "distgrad[cuda12]"`` or ``"distgrad[cuda13]"``).

Ops run on the *current* GPU (CuPy's rule); each rank of a distributed job makes its GPU current
at ``init_process_group`` (``local_rank % device_count()``), and ``set_device`` does it by hand.
"""
from __future__ import annotations

import contextlib

from . import _backend

__all__ = ["is_available", "device_count", "set_device", "current_device", "synchronize",
           "manual_seed", "manual_seed_all", "get_device_name", "device", "empty_cache",
           "memory_allocated", "is_initialized"]


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU (never raises)."""
    return _backend.cuda_available()


is_initialized = is_available


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy or a GPU)."""
    if not _backend.cuda_available():
        return 0
    return _backend.device_count()


def _index(dev) -> int:
    if dev is None:
        return current_device()
    if isinstance(dev, int):
        dev = _backend.device("cuda", dev)
    dev = _backend.as_device(dev)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return _backend.device_index(dev)


def set_device(device) -> None:
    """Make ``device`` (an index, ``"cuda:N"`` or a ``distgrad.device``) the current GPU: new
    ``cuda`` tensors and every op run there."""
    if isinstance(device, int) and device < 0:
        return  # PyTorch: a negative index is a no-op
    cp = _backend.cupy_module()
    cp.cuda.Device(_index(device)).use()


def current_device() -> int:
    """Index of the current GPU."""
    return _backend.current_device()


@contextlib.contextmanager
def device(dev):
    """Context manager that makes ``dev`` the current GPU inside the block."""
    if dev is None or (isinstance(dev, int) and dev < 0):
        yield
        return
    cp = _backend.cupy_module()
    with cp.cuda.Device(_index(dev)):
        yield


def synchronize(device=None) -> None:
    """Wait for all work queued on ``device`` (default: the current GPU)."""
    cp = _backend.cupy_module()
    cp.cuda.Device(_index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the GPU generator (CuPy's; used by dropout on GPU tensors). ``distgrad.manual_seed``
    seeds it too."""
    cp = _backend.cupy_module()
    cp.random.seed(int(seed) % (2 ** 32))


manual_seed_all = manual_seed


def get_device_name(device=None) -> str:
    """The GPU's name (e.g. ``NVIDIA H100 80GB HBM3``)."""
    cp = _backend.cupy_module()
    name = cp.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def empty_cache() -> None:
    """Return the cached blocks of CuPy's memory pools to the driver."""
    if _backend._cupy is None:
        return
    _backend._cupy.get_default_memory_pool().free_all_blocks()
    _backend._cupy.get_default_pinned_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes in use in CuPy's memory pool (of the current GPU)."""
    if _backend._cupy is None:
        return 0
    with _backend._cupy.cuda.Device(_index(device)):
        return int(_backend._cupy.get_default_memory_pool().used_bytes())


def __getattr__(name):
    # ``distgrad.cuda.amp`` is ``distgrad.amp`` (PyTorch's older ``torch.cuda.amp`` path),
    # imported on first use: it needs the tensor module
    if name == "amp":
        import importlib
        return importlib.import_module("..amp", __name__)
    raise AttributeError(f"module 'distgrad.cuda' has no attribute '{name}'")
