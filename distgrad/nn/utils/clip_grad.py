"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``.

They work on the raw arrays of ``p.grad`` in place (so gradients that are views into a flat
buffer, as with distributed data parallel, stay views) and run outside autograd.
"""
from __future__ import annotations

import math

from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _norm_of(xp, arr, norm_type):
    if norm_type == math.inf:
        return xp.abs(arr).max() if arr.size else xp.zeros((), arr.dtype)
    if norm_type == -math.inf:
        return xp.abs(arr).min() if arr.size else xp.zeros((), arr.dtype)
    if norm_type == 0:
        return xp.asarray((arr != 0).sum(), dtype=arr.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.vdot(arr.ravel(), arr.ravel()).real)
    return (xp.abs(arr) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The ``norm_type`` norm of all ``tensors`` together (as if concatenated); a 0-d tensor."""
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return Tensor._wrap(_zero_scalar())
    xp = tensors[0]._xp()
    norms = xp.stack([xp.asarray(_norm_of(xp, t._data, norm_type)).astype(tensors[0].dtype)
                      for t in tensors])
    total = _norm_of(xp, norms, norm_type).astype(tensors[0].dtype)
    total_norm = Tensor._wrap(xp.asarray(total))
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total_norm


def _zero_scalar():
    import numpy as np

    from ...dtypes import get_default_dtype
    return np.zeros((), get_default_dtype())


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = [p._grad for p in _as_list(parameters) if p._grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = grads[0]._xp()
    clip_coef = float(max_norm) / (xp.asarray(total, dtype=grads[0].dtype) + 1e-6)
    clip_coef_clamped = xp.minimum(clip_coef, 1.0)
    for g in grads:
        g._data *= clip_coef_clamped.astype(g._data.dtype)
        g._version_counter[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients together so that their total ``norm_type`` norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d tensor)."""
    parameters = _as_list(parameters)
    grads = [p._grad for p in parameters if p._grad is not None]
    if len(grads) == 0:
        return Tensor._wrap(_zero_scalar())
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p._grad
        if g is None:
            continue
        xp = g._xp()
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version_counter[0] += 1
