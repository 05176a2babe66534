"""Arrays for communication: Tensor -> array, contiguity, and GPU -> host staging.

Every collective hands MPI a C-contiguous buffer. For a NumPy array that is already contiguous
this is the array itself (no copy). Otherwise :func:`_to_host` makes a contiguous copy and
:func:`_from_host` writes the result back.

GPU (CuPy) arrays are staged through pinned (page-locked) host memory by default: synchronize
the stream, copy to host, communicate, copy back (a dtype conversion happens on the GPU). With
``DISTGRAD_CUDA_AWARE_MPI=1`` the device buffer is handed to MPI directly (after the same
synchronize); only use that with an MPI library built with CUDA support, a wrong guess crashes.
When the default group's transport takes device buffers itself (the ``nccl`` backend, which
orders its work on the GPU, or the world of one), ``set_device_transport(True)`` makes
``_to_host`` hand device arrays over unchanged. CuPy is never imported here: a GPU array brings
its own module.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["_array", "_bump_version", "_to_host", "_from_host", "is_host_array", "cuda_aware_mpi",
           "device_buffers", "set_device_transport"]

_device_transport = False  # the default group's backend takes device arrays (nccl, single)


def _array(t):
    """The raw array behind ``t``: a distgrad Tensor's array (``t._data``; ``t.data`` for
    other tensor types, unwrapped until an array appears), or ``t`` itself for an array."""
    if type(t) is np.ndarray or isinstance(t, np.ndarray):
        return t
    obj = t
    for _ in range(3):
        if hasattr(obj, "__cuda_array_interface__"):  # a CuPy array (which also has .data)
            return obj
        data = getattr(obj, "_data", None)
        if data is None:
            data = getattr(obj, "data", None)
        if data is None or data is obj:
            break
        if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
            return data
        obj = data
    raise TypeError(
        f"expected a distgrad.Tensor or an array (numpy/cupy), got {type(t).__name__}")


def _bump_version(t) -> None:
    """Count an in-place write on a distgrad Tensor (its autograd version counter)."""
    version = getattr(t, "_version_counter", None)
    if type(version) is list:
        version[0] += 1


def is_host_array(arr) -> bool:
    """True for a NumPy (host memory) array."""
    return isinstance(arr, np.ndarray)


def cuda_aware_mpi() -> bool:
    """True when ``DISTGRAD_CUDA_AWARE_MPI`` says MPI may read GPU memory directly."""
    return os.environ.get("DISTGRAD_CUDA_AWARE_MPI", "0").strip().lower() in ("1", "true", "yes")


def set_device_transport(flag: bool) -> None:
    """Declare whether the default group's backend takes device buffers (init/destroy)."""
    global _device_transport
    _device_transport = bool(flag)


def device_buffers() -> bool:
    """True when device arrays go to the transport as they are (no host staging)."""
    return _device_transport or cuda_aware_mpi()


def _synchronize(arr) -> None:
    """Wait for the work queued on the array's device (so MPI reads finished values)."""
    from distgrad import _backend

    _backend.synchronize(arr)


def _pinned_empty(xp, shape, dtype):
    """An uninitialised host array in pinned memory (faster, asynchronous-capable copies);
    pageable memory when the module has no pinned allocator."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    alloc = getattr(getattr(xp, "cuda", None), "alloc_pinned_memory", None)
    if alloc is None or count == 0:
        return np.empty(shape, dtype)
    return np.frombuffer(alloc(count * dtype.itemsize), dtype, count).reshape(shape)


def _to_host(arr, copy_in: bool = True, dtype=None):
    """A C-contiguous buffer for ``arr`` that MPI can read and write.

    Returns ``arr`` itself when possible (contiguous NumPy array of the wanted dtype; or, with
    CUDA-aware MPI, a contiguous device array). ``copy_in=False`` skips copying the values in
    (for pure outputs). ``dtype`` asks for a converted buffer (e.g. float16 -> float32).
    """
    if type(arr) is np.ndarray or isinstance(arr, np.ndarray):
        if dtype is None or arr.dtype == dtype:
            if arr.flags.c_contiguous:
                return arr
            if not copy_in:
                return np.empty(arr.shape, arr.dtype)
            return np.ascontiguousarray(arr)
        if not copy_in:
            return np.empty(arr.shape, dtype)
        return np.ascontiguousarray(arr, dtype=dtype)
    # a device array
    xp = _module_of(arr)
    if _device_transport or cuda_aware_mpi():
        if not _device_transport:
            _synchronize(arr)  # MPI reads device memory outside the stream order
        if (dtype is None or arr.dtype == dtype) and arr.flags.c_contiguous:
            return arr
        if not copy_in:
            return xp.empty(arr.shape, arr.dtype if dtype is None else dtype)
        return xp.ascontiguousarray(arr, dtype=dtype)
    if not copy_in:
        return _pinned_empty(xp, arr.shape, arr.dtype if dtype is None else dtype)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)  # convert on the device
    src = xp.ascontiguousarray(arr)
    host = _pinned_empty(xp, src.shape, src.dtype)
    _synchronize(src)
    return src.get(out=host)


def _from_host(arr, buf) -> None:
    """Write ``buf`` (from :func:`_to_host`) back into ``arr`` unless it is ``arr`` itself."""
    if buf is arr:
        return
    if isinstance(arr, np.ndarray):
        np.copyto(arr, buf.reshape(arr.shape), casting="unsafe")
        return
    xp = _module_of(arr)
    arr[...] = xp.asarray(buf).reshape(arr.shape).astype(arr.dtype, copy=False)


def _module_of(arr):
    try:
        from distgrad._backend import get_array_module  # the project's helper, when present
    except ImportError:
        get_array_module = None
    if get_array_module is not None:
        return get_array_module(arr)
    import cupy

    return cupy.get_array_module(arr)
