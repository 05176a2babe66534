"""In-place operations: ``add_``, ``mul_``, ``x[k] = v``, ``zero_``, ``uniform_`` ...

Each in-place op is the out-of-place op applied to a snapshot of the tensor, with the result
written back into the tensor's storage (so views see it) and the tensor's history rebased onto
the result. The shared version counter is incremented, so saved tensors that were overwritten
are detected at backward. An in-place op on a view that needs gradients is routed through its
base, which is how PyTorch's ``CopySlices`` behaves: ``base[key] = new_view`` for a basic-indexing
view, the whole base replaced by the new view mapped back (``WholeView``) for a reshape or a
permutation; then the view is made again from the new base. As in PyTorch, a view made in
no-grad or inference mode (see ``index.record_view``) cannot be changed in place in grad mode by
an op that autograd would record.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import random as _random
from ..tensor import Tensor
from ._util import _state
from .index import (check_setitem_shapes, convert_key, getitem, put_at_key, indexing_view_name,
                    requires_grad_through_base)
from .shape import WholeView

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_MESSAGE = ("a view of a leaf Variable that requires grad is being used in an "
                        "in-place operation.")


def _check_inference(t: Tensor):
    if t._is_inference and not _state.inference:
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
            "clone to get a normal tensor before doing inplace update.See "
            "https://github.com/pytorch/rfcs/pull/17 for more details.")


def _leaf_error(t: Tensor):
    if t._requires_grad and t.grad_fn is None:
        raise RuntimeError(LEAF_MESSAGE)
    base = t._base
    while base is not None:
        if base._requires_grad and base.grad_fn is None:
            raise RuntimeError(VIEW_OF_LEAF_MESSAGE)
        base = base._base


def _write(t: Tensor, data) -> None:
    target = t._data
    if data.shape != target.shape and np.broadcast_shapes(data.shape, target.shape) != target.shape:
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the broadcast "
                           f"shape {list(np.broadcast_shapes(data.shape, target.shape))}")
    if data.dtype != target.dtype and not np.can_cast(data.dtype, target.dtype, "same_kind"):
        raise RuntimeError(f"result type {_kind_name(data.dtype)} can't be cast to the desired output "
                           f"type {_kind_name(target.dtype)}")
    target[...] = data
    t._version_counter[0] += 1


def _kind_name(dtype):
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}.get(dtype.kind, str(dtype))


def _needs_tracking(t: Tensor, args, key=Ellipsis) -> bool:
    """Whether autograd records an in-place op that writes ``t[key]`` with arguments ``args``."""
    if not _state.enabled:
        return False
    if t._view_mode is not None:
        _check_view_mode(t, args, key)
    if t._requires_grad:
        return True
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            return True
    return False


def _check_view_mode(t: Tensor, args, key) -> None:
    """PyTorch's refusal of an in-place op, in grad mode, on a view made in no-grad or inference
    mode (or a view of one) when autograd would record the op: the view's base or an argument
    requires grad. ``t[key] = value`` writes through a view of ``t`` that PyTorch names."""
    through_base = requires_grad_through_base(t)
    if not through_base and not any(isinstance(a, Tensor) and a._requires_grad for a in args):
        return
    op = t._view_op
    sub_view = indexing_view_name(convert_key(key)[0], t._data.shape, setting=True)
    if sub_view is not None:
        op = sub_view if through_base else None
    made = ("A view was created in" if op is None else
            f"Output 0 of {op} is a view of a view which was created in")
    if t._view_mode == "inference":
        what, block = "inference mode and is being modified inplace in normal mode", "inference_mode"
    else:
        what, block = "no_grad mode and is being modified inplace with grad mode enabled", "no_grad"
    raise RuntimeError(
        f"{made} {what}. Given that this use case is ambiguous and error-prone, it is forbidden. "
        f"You can clarify your code by moving both the view and the inplace either both inside "
        f"the {block} block (if you don't want the inplace to be tracked) or both outside (if you "
        f"want the inplace to be tracked).")


def _snapshot(t: Tensor) -> Tensor:
    """A copy of ``t``'s values at ``t``'s place in the graph (the pre-modification value)."""
    s = Tensor._wrap(t._data.copy())
    s.grad_fn, s._output_nr, s._requires_grad = t.grad_fn, t._output_nr, t._requires_grad
    s._acc_node = t._acc_node
    return s


def _rebase(t: Tensor, result: Tensor) -> None:
    old_fn, old_nr = t.grad_fn, t._output_nr
    t.grad_fn, t._output_nr, t._requires_grad = result.grad_fn, result._output_nr, result._requires_grad
    if old_fn is not None and old_fn._retained:
        ref = old_fn._retained.get(old_nr)
        if ref is not None and ref() is t and t.grad_fn is not None:
            # retain_grad() follows the tensor to its new grad_fn, as in PyTorch: .grad is the
            # gradient of the modified value
            del old_fn._retained[old_nr]
            t.grad_fn._retain_output(t._output_nr, t)


def apply_inplace(t: Tensor, fn, *args) -> Tensor:
    """Replace ``t``'s values by ``fn(t, *args)`` in place, keeping autograd correct."""
    _check_inference(t)
    if not _needs_tracking(t, args):
        with _NoGrad():
            result = fn(t, *args)
        _write(t, result._data)
        return t
    _leaf_error(t)
    parent, key = t._base, t._view_key
    if parent is not None and key is not None:  # rewrite the base, then view it again
        new_value = fn(_snapshot(t), *args)
        if isinstance(key, WholeView):
            apply_inplace(parent, _replace, key.unmake(new_value))
            _rebase(t, key.make(parent))
        else:
            apply_inplace(parent, put_at_key, key, new_value)
            _rebase(t, getitem(parent, key))
        return t
    if parent is not None and parent._requires_grad:
        raise RuntimeError(
            "in-place operation on an expanded view of a tensor that requires grad is not "
            "supported (more than one element refers to a single memory location); clone() first")
    result = fn(_snapshot(t), *args)
    _write(t, result._data)
    _rebase(t, result)
    return t


def _replace(t: Tensor, value: Tensor) -> Tensor:
    """The in-place function that overwrites every element of ``t`` with ``value``."""
    return value


class _NoGrad:
    def __enter__(self):
        self.previous = _state.enabled
        _state.enabled = False

    def __exit__(self, *exc):
        _state.enabled = self.previous


def setitem(t: Tensor, key, value) -> None:
    """``t[key] = value``."""
    if not _needs_tracking(t, (value,), key) and not t._is_inference:
        k, basic = convert_key(key)
        if isinstance(value, Tensor) and type(value._data) is not type(t._data):
            value = value.to(t.device)  # like PyTorch's copy from another device
        value = value._data if isinstance(value, Tensor) else value
        try:
            t._data[k] = value
        except ValueError:
            check_setitem_shapes(t._data, k, basic, value)
            raise
        t._version_counter[0] += 1
        return
    if _state.enabled and t._requires_grad and t.grad_fn is None:
        raise RuntimeError(VIEW_OF_LEAF_MESSAGE)  # PyTorch writes through a view of the leaf
    apply_inplace(t, put_at_key, key, value)


def _values(fn):
    """An in-place method that overwrites ``t`` with ``fn(t, *args, **kwargs)``."""
    def method(t, *args, **kwargs):
        return apply_inplace(t, functools.partial(fn, **kwargs) if kwargs else fn, *args)
    method.__name__ = fn.__name__.strip("_") + "_"
    return method


def _fill(s, value):
    from .elementwise import _tensor_arg
    from .shape import expand
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        return expand(value.reshape(()).to(s.dtype), s.shape)
    return expand(_tensor_arg(value, s), s.shape)


def _copy(s, src):
    from .shape import expand
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    src = src.to(device=s.device, dtype=s.dtype)
    try:
        return expand(src, s.shape)
    except RuntimeError:
        raise RuntimeError(f"output with shape {list(s.shape)} doesn't match the broadcast shape "
                           f"{list(src.shape)}") from None


def _uniform(s, a=0.0, b=1.0, *, generator=None):
    arr = _random.rng(generator).uniform(a, b, size=s.shape).astype(s.dtype)
    return Tensor._wrap(s._xp().asarray(arr))


def _normal(s, mean=0.0, std=1.0, *, generator=None):
    arr = _random.rng(generator).normal(mean, std, size=s.shape).astype(s.dtype)
    return Tensor._wrap(s._xp().asarray(arr))


def _zero(s):
    return Tensor._wrap(s._xp().zeros(s.shape, dtype=s.dtype))


fill_ = _values(_fill)
zero_ = _values(_zero)
uniform_ = _values(_uniform)
normal_ = _values(_normal)


def copy_(t, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast, converted) into ``t``."""
    return apply_inplace(t, _copy, src)
