"""Devices, dtypes and the array module (NumPy or CuPy) behind a tensor.

CuPy is imported lazily, only when a CUDA device is asked for, so everything works on a
machine without it.
"""
from __future__ import annotations

import numpy as np

_cupy = None


def cupy_module():
    """Import and return CuPy, or raise an error that says which package to install."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise RuntimeError(
                "CUDA tensors need CuPy, which is not installed. Install it with "
                "`pip install \"distgrad[cuda12]\"` (CUDA 12) or `pip install \"distgrad[cuda13]\"` "
                "(CUDA 13)."
            ) from exc
        _cupy = cupy
    return _cupy


def get_array_module(array):
    """Return ``numpy`` or ``cupy``, whichever owns ``array`` (NumPy for anything else)."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(array)


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")`` or ``device("cuda", 1)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string like 'cpu' or 'cuda:0', got {type!r}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if index is not None:
                raise ValueError("device index given twice")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}")
        if type == "cpu":
            index = None
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index == other.index or None in (self.index, other.index))

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def as_device(dev) -> device:
    """Normalise a device argument (None, a string or a device) to a device."""
    if dev is None:
        return CPU
    if isinstance(dev, device):
        return dev
    if isinstance(dev, int):
        return device("cuda", dev)
    return device(dev)


def device_of(array) -> device:
    """The device that holds ``array``."""
    if type(array) is np.ndarray:
        return CPU
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def array_module_for(dev: device):
    """Array module for a device: NumPy for the CPU, CuPy for CUDA (imported on first use)."""
    if dev.type == "cpu":
        return np
    return cupy_module()


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` if it lives elsewhere; return it unchanged otherwise."""
    if dev.type == "cpu":
        if type(array) is np.ndarray:
            return array
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return np.asarray(array)
    cp = cupy_module()
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(array)
