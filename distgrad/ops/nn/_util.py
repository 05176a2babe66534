"""Helpers shared by the neural-network ops: argument normalisation, reductions, validation."""
from __future__ import annotations

import warnings

from ... import _backend
from ...tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


# xp_of(array): NumPy or CuPy, whichever owns ``array`` (the backend's function itself, not a
# wrapper: it runs in every op)
xp_of = _backend.get_array_module


def pair(value, name="argument", n=2) -> tuple:
    """``3`` -> ``(3, 3)``; a sequence of length 1 is repeated; ``(2, 3)`` stays."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def legacy_reduction(size_average, reduce, stacklevel=4) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``,
    with a deprecation warning attributed ``stacklevel`` frames up."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", UserWarning, stacklevel=stacklevel)
    return ret


def check_reduction(reduction, size_average=None, reduce=None) -> str:
    """The reduction to use, validated (``'none'``, ``'mean'`` or ``'sum'``)."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def size_str(shape) -> str:
    """``distgrad.Size([2, 3])``, as PyTorch prints ``torch.Size([2, 3])``."""
    return "distgrad.Size([" + ", ".join(str(int(s)) for s in shape) + "])"


def check_tensor(value, name, fn):
    """Raise PyTorch's TypeError when argument ``name`` of ``fn`` is not a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def requires_grad(*tensors) -> bool:
    """True when any of ``tensors`` (None allowed) requires grad."""
    for t in tensors:
        if t is not None and t._requires_grad:
            return True
    return False


def dtype_kind_name(dtype) -> str:
    """PyTorch's scalar-type name of ``dtype`` (``Float``, ``Long``, ...)."""
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "bool": "Bool", "uint8": "Byte", "int8": "Char",
            "int16": "Short"}.get(str(dtype), str(dtype))
