"""Helpers shared by the optimizers added after Adam: PyTorch's argument checks, lazy state,
scalar state kept at PyTorch's precision, and the in-place moment updates."""
from __future__ import annotations

import numpy as np

from .._backend import get_array_module
from ..dtypes import float64, get_default_dtype
from ..tensor import Tensor


def _check_non_negative(value, what: str) -> None:
    """PyTorch's ``ValueError("Invalid <what>: <value>")`` unless ``0 <= value``."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def _check_adam_args(lr, betas, eps, weight_decay) -> None:
    """The checks (and messages) of Adam and its variants, in PyTorch's order."""
    _check_non_negative(lr, "learning rate")
    _check_non_negative(eps, "epsilon value")
    for index, beta in enumerate(betas[:2]):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
    _check_non_negative(weight_decay, "weight_decay value")


def _scalar_type():
    """The NumPy scalar type of PyTorch's scalar optimizer state (``step``, NAdam's
    ``mu_product``, ASGD's ``eta``, ``mu``): float64 if the default dtype is float64, otherwise
    float32. Values stored there are rounded to it, so they must be too to match PyTorch."""
    return np.float64 if get_default_dtype() == float64 else np.float32


def _init_state(state: dict, data, xp, tensors=(), fills=None, **scalars) -> None:
    """Fill an empty ``state`` as PyTorch does: ``step = 0.0``, then ``scalars`` (floats), then
    a zero tensor shaped like ``data`` for each name in ``tensors``, then one filled with
    ``value`` for each ``name: value`` of ``fills``."""
    state["step"] = 0.0
    state.update(scalars)
    for key in tensors:
        state[key] = Tensor._wrap(xp.zeros_like(data))
    for key, value in (fills or {}).items():
        state[key] = Tensor._wrap(xp.full_like(data, value))


def _stepped(optimizer, pairs, tensors=(), fills=None, **scalars):
    """For each ``(param, gradient array)`` of ``pairs``: ``(param, gradient, param array,
    array module, state)``, the state made on first use (``_init_state``) and its ``step``
    counted."""
    for p, g in pairs:
        data = p._data
        xp = get_array_module(data)
        state = optimizer.state[p]
        if not state:
            _init_state(state, data, xp, tensors, fills, **scalars)
        state["step"] += 1
        yield p, g, data, xp, state


def _scalar_state_to_floats(optimizer, keys) -> None:
    """Turn the scalar state entries ``keys`` that a loaded state dict gave as tensors (e.g. one
    converted from PyTorch) into floats, the form ``step`` uses."""
    for state in optimizer.state.values():
        for key in keys:
            value = state.get(key)
            if isinstance(value, Tensor):
                state[key] = float(value.item())


def _decay_add_square_(avg, g, decay, tmp, xp) -> None:
    """``avg = decay * avg + (1 - decay) * g * g`` in place, rounded as PyTorch's
    ``avg.mul_(decay).addcmul_(g, g, value=1 - decay)``; ``tmp`` is scratch space."""
    avg *= decay
    xp.multiply(g, 1 - decay, out=tmp)
    tmp *= g
    avg += tmp


def _grads_decoupled(optimizer, group):
    """``optimizer._grads(group)`` for groups with a ``decoupled_weight_decay`` switch: when it
    is on, the weight decay shrinks each yielded parameter in place, ``p *= 1 - lr *
    weight_decay``, instead of entering the gradient."""
    decoupled = group["decoupled_weight_decay"]
    weight_decay = group["weight_decay"] if decoupled else 0
    for p, g in optimizer._grads(group, couple_weight_decay=not decoupled):
        if weight_decay != 0:
            p._data *= 1 - group["lr"] * weight_decay
        yield p, g
