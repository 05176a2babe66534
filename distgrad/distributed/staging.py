"""Arrays for communication: Tensor -> array, contiguity, and GPU -> host staging.

Every collective hands MPI a C-contiguous buffer. For a NumPy array that is already contiguous
this is the array itself (no copy). Otherwise :func:`_to_host` makes a contiguous copy and
:func:`_from_host` writes the result back.

GPU (CuPy) arrays are staged through host memory by default: synchronize the current stream,
copy to host, communicate, copy back. With ``DISTGRAD_CUDA_AWARE_MPI=1`` the device buffer is
handed to MPI directly (after the same synchronize); only use that with an MPI library built
with CUDA support, a wrong guess crashes. CuPy is never imported here: a GPU array brings its
own module.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["_array", "_bump_version", "_to_host", "_from_host", "is_host_array", "cuda_aware_mpi"]


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
    version = getattr(t, "_version", None)
    if type(version) is list:
        version[0] += 1


def is_host_array(arr) -> bool:
    return isinstance(arr, np.ndarray)


def cuda_aware_mpi() -> bool:
    return os.environ.get("DISTGRAD_CUDA_AWARE_MPI", "0").strip().lower() in ("1", "true", "yes")


def _synchronize(arr) -> None:
    """Wait for the work queued on the array's device (so MPI reads finished values)."""
    import cupy  # only reached with a CuPy array, so CuPy is installed

    cupy.cuda.get_current_stream().synchronize()


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
    _synchronize(arr)
    if cuda_aware_mpi():
        xp = _module_of(arr)
        if (dtype is None or arr.dtype == dtype) and arr.flags.c_contiguous:
            return arr
        return xp.ascontiguousarray(arr, dtype=dtype)
    host = arr.get()
    if dtype is not None and host.dtype != dtype:
        host = host.astype(dtype)
    return np.ascontiguousarray(host)


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
