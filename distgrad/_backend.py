"""Devices, dtypes and the array module (NumPy or CuPy) behind a tensor.

A tensor's data is a NumPy array on the CPU or a CuPy array on a GPU; CuPy mirrors NumPy, so
ops look up the array module once (``get_array_module`` / ``Tensor._xp()``) and share one code
path. CuPy is imported lazily, only when a CUDA device is asked for, so everything works on a
machine without it; asking for ``cuda`` there raises an error that says what to install.

``use_cuda_module(module)`` puts another module in CuPy's place (the CPU stand-in
``distgrad.testing.fake_cupy`` in CI), so the device-generic path is tested without a GPU.
"""
from __future__ import annotations

import contextlib

import numpy as np

_cupy = None          # the CuPy module in use (the real one, or a stand-in from use_cuda_module)
_cupy_error = None    # why CuPy cannot be used here (cached after the first failed import)

INSTALL_HINT = ("Install CuPy for your CUDA version with `pip install \"distgrad[cuda12]\"` "
                "(CUDA 12) or `pip install \"distgrad[cuda13]\"` (CUDA 13).")


def cupy_module():
    """CuPy (imported on first use), or a RuntimeError that says which package to install."""
    if _cupy is not None:
        return _cupy
    return _import_cupy()


def _import_cupy():
    global _cupy, _cupy_error
    if _cupy_error is not None:
        raise RuntimeError(_cupy_error)
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        _cupy_error = (f"CUDA tensors need CuPy, which is not installed ({exc}). "
                       + INSTALL_HINT)
        raise RuntimeError(_cupy_error) from exc
    try:  # pragma: no cover - GPU machines only
        count = cupy.cuda.runtime.getDeviceCount()
        detail = "no CUDA device found"
    except Exception as exc:  # pragma: no cover - CuPy without a driver or GPU
        count, detail = 0, f"{type(exc).__name__}: {exc}"
    if count == 0:  # pragma: no cover
        _cupy_error = (f"CUDA tensors need a GPU: CuPy {cupy.__version__} is installed but "
                       f"{detail}. Check the NVIDIA driver and CUDA_VISIBLE_DEVICES, or that the "
                       f"CuPy package matches the CUDA version. " + INSTALL_HINT)
        raise RuntimeError(_cupy_error)
    _cupy = cupy  # pragma: no cover
    _seed_cupy()  # pragma: no cover
    return cupy  # pragma: no cover


def _seed_cupy():
    """Seed CuPy's generator from the default generator's seed (``manual_seed`` may have been
    called before CuPy was imported)."""
    from .random import default_generator
    _cupy.random.seed(default_generator.initial_seed() % (2 ** 32))


def cuda_available() -> bool:
    """True when CUDA tensors can be made (CuPy imports and sees at least one GPU)."""
    try:
        cupy_module()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def use_cuda_module(module):
    """Use ``module`` as CuPy inside the block (tests: ``distgrad.testing.fake_cupy``).

    ``device("cuda")`` tensors then hold ``module.ndarray`` arrays; the previous module (or
    none) is restored afterwards."""
    global _cupy, _cupy_error
    saved = _cupy, _cupy_error
    _cupy, _cupy_error = module, None
    _counts.clear()
    try:
        if hasattr(module, "random"):
            _seed_cupy()
        yield module
    finally:
        _cupy, _cupy_error = saved
        _counts.clear()


def get_array_module(array):
    """Return ``numpy`` or ``cupy``, whichever owns ``array`` (NumPy for anything else)."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def is_device_array(array) -> bool:
    """True for a CuPy array (the data of a CUDA tensor)."""
    return _cupy is not None and isinstance(array, _cupy.ndarray)


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")`` or
    ``device("cuda", 1)``. ``cuda`` without an index means the current GPU (and equals any)."""

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
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}")
        if index is not None and int(index) < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        if type == "cpu":
            index = None
        self.type = type
        self.index = None if index is None else int(index)

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index == other.index
                                            or None in (self.index, other.index))

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


def current_device() -> int:
    """Index of the current CUDA device (the one ``device("cuda")`` means)."""
    return int(cupy_module().cuda.runtime.getDevice())


_counts = {}  # CuPy module -> number of GPUs (asked once)


def device_count() -> int:
    """Number of GPUs the CuPy in use sees (raises without CuPy)."""
    cp = cupy_module()
    n = _counts.get(cp)
    if n is None:
        n = _counts[cp] = int(cp.cuda.runtime.getDeviceCount())
    return n


def device_index(dev: device) -> int:
    """The GPU index of a CUDA device (the current one for ``cuda`` without an index); raises
    PyTorch's error for an index past the number of GPUs."""
    cp = cupy_module()
    if dev.index is None:
        return int(cp.cuda.runtime.getDevice())
    count = device_count()
    if dev.index >= count:
        raise RuntimeError(f"CUDA error: invalid device ordinal (device {dev} requested, "
                           f"{count} GPU(s) visible)")
    return dev.index


_NULL = contextlib.nullcontext()


def on_device(dev: device):
    """A context that makes ``dev`` the current GPU (a no-op for the CPU and for the current
    GPU), so arrays made inside land there."""
    if dev.type == "cpu" or dev.index is None:
        return _NULL
    cp = cupy_module()
    if dev.index == cp.cuda.runtime.getDevice():
        return _NULL
    return cp.cuda.Device(device_index(dev))


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` if it lives elsewhere; return it unchanged otherwise."""
    if dev.type == "cpu":
        if type(array) is np.ndarray:
            return array
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return np.asarray(array)
    cp = cupy_module()
    idx = device_index(dev)
    if isinstance(array, cp.ndarray):
        if array.device.id == idx:
            return array
        with cp.cuda.Device(idx):  # GPU to GPU (peer copy)
            return cp.array(array, copy=True)
    with cp.cuda.Device(idx):
        return cp.asarray(array)


def synchronize(array=None) -> None:
    """Wait for the GPU work queued on the current stream (of ``array``'s device); a no-op for
    host arrays and without CuPy."""
    if array is not None and (_cupy is None or not isinstance(array, _cupy.ndarray)):
        return
    if _cupy is None:
        return
    if array is None:
        _cupy.cuda.get_current_stream().synchronize()
        return
    with _cupy.cuda.Device(array.device.id):
        _cupy.cuda.get_current_stream().synchronize()


def cupyx_module():
    """``cupyx`` (``scatter_add``, ``scipy.special``) for the CuPy in use."""
    cp = cupy_module()
    fake = getattr(cp, "_cupyx", None)
    if fake is not None:
        return fake
    import cupyx  # pragma: no cover - GPU only
    import cupyx.scipy.special  # noqa: F401  pragma: no cover
    return cupyx  # pragma: no cover
