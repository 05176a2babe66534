"""Helpers shared by the op modules: argument normalisation and broadcast reduction."""
from __future__ import annotations

import numpy as np

from ..autograd import grad_mode as _grad_mode
from ..tensor import Tensor

_state = _grad_mode._state


def grad_enabled() -> bool:
    """True when operations should record history (fast thread-local read)."""
    return _state.enabled


def unbroadcast(g, shape):
    """Sum ``g`` over the dimensions that broadcasting added so it has exactly ``shape``."""
    if g.shape == shape:
        return g
    ndiff = g.ndim - len(shape)
    if ndiff:
        g = g.sum(axis=tuple(range(ndiff)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def sizes(args) -> tuple:
    """Sizes given as varargs or one tuple/list: ``f(2, 3)`` and ``f((2, 3))`` both give (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    if len(args) == 1 and isinstance(args[0], Tensor):
        args = args[0].tolist()
    return tuple(int(s) for s in args)


def normalize_dims(dim, ndim):
    """A dim argument (None, an int or a sequence) as a sorted tuple of non-negative axes, or None."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(sorted(_wrap_dim(d, ndim) for d in dim))
    return (_wrap_dim(dim, ndim),)


def _wrap_dim(d, ndim):
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {d})")
    return d % n


def broadcast_error(a_shape, b_shape) -> RuntimeError:
    """PyTorch's message for shapes that do not broadcast."""
    n = max(len(a_shape), len(b_shape))
    a = (1,) * (n - len(a_shape)) + tuple(a_shape)
    b = (1,) * (n - len(b_shape)) + tuple(b_shape)
    for i in range(n - 1, -1, -1):
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            return RuntimeError(
                f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                f"non-singleton dimension {i}")
    return RuntimeError(f"shapes {tuple(a_shape)} and {tuple(b_shape)} cannot be broadcast")


def check_same_device(a: Tensor, b: Tensor):
    """Raise PyTorch's error when two tensors live on different devices."""
    da, db = a.device, b.device
    if da != db:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two "
                           f"devices, {da} and {db}!")


def as_array_like(value, like):
    """``value`` (a Tensor, array or Python number) as an array on ``like``'s device."""
    if isinstance(value, Tensor):
        return value._data
    xp = like._xp()
    return xp.asarray(value, dtype=like._data.dtype if not isinstance(value, np.ndarray) else None)
