"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, random factories ..."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .. import random as _random
from ..dtypes import as_dtype, get_default_dtype, int64
from ..tensor import Tensor, _from_node
from ._util import _state, sizes, torch_type_name
from .elementwise import ZeroGradBackward


def _infer_dtype(arr: np.ndarray):
    """Default dtypes for Python data: floats -> default float, ints -> int64."""
    kind = arr.dtype.kind
    if kind == "f":
        return get_default_dtype()
    if kind in "iu":
        return int64
    return arr.dtype


def _to_array(data, dtype=None, device=None):
    """Convert Python data, arrays or tensors to a new array (the data of ``tensor(data)``).

    Python numbers get PyTorch's default dtypes (float32, int64, bool); NumPy arrays and scalars
    and tensors keep theirs.
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data)
    elif _backend._cupy is not None and isinstance(data, _backend._cupy.ndarray):
        arr = data.copy()
    else:
        typed = []
        try:
            arr = np.array(_unwrap_nested(data, typed))
        except ValueError:
            _check_ragged(data)
            raise
        if arr.dtype == object:
            _check_ragged(data)
            raise TypeError(f"can't convert {type(data).__name__} of mixed or ragged values to a tensor")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"can't convert np.ndarray of type {arr.dtype}. The only supported "
                            "types are: float64, float32, float16, int64, int32, int16, int8, "
                            "uint8, and bool.")
        if dtype is None and not typed:
            dtype = _infer_dtype(arr)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if device is not None:
        arr = _backend.to_device(arr, _backend.as_device(device))
    return arr


def _unwrap_nested(data, typed):
    """Nested lists with tensors replaced by arrays; ``typed`` collects a flag when an element has
    a dtype of its own (a tensor or NumPy value), which then decides the result's dtype."""
    if isinstance(data, Tensor):
        typed.append(True)
        return data._data if type(data._data) is np.ndarray else _backend.to_device(data._data, _backend.CPU)
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(d, typed) for d in data]
    if isinstance(data, (np.ndarray, np.generic)):
        typed.append(True)
    return data


def _check_ragged(data, dim=0):
    """Raise PyTorch's error for nested sequences of unequal lengths."""
    if not isinstance(data, (list, tuple)) or not data:
        return
    first = data[0]
    n = len(first) if isinstance(first, (list, tuple)) else None
    for d in data:
        m = len(d) if isinstance(d, (list, tuple)) else None
        if m != n:
            if n is None or m is None:
                raise TypeError(f"can't convert a mix of sequences and numbers at dim {dim + 1} "
                                "to a tensor")
            raise ValueError(f"expected sequence of length {n} at dim {dim + 1} (got {m})")
        _check_ragged(d, dim + 1)


GRAD_DTYPE_MESSAGE = "Only Tensors of floating point and complex dtype can require gradients"


def _make(arr, requires_grad=False) -> Tensor:
    t = Tensor._wrap(arr)
    if requires_grad:
        if arr.dtype.kind not in "fc":
            raise RuntimeError(GRAD_DTYPE_MESSAGE)
        t._requires_grad = True
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors)."""
    arr = _to_array(data, dtype, device)
    return _make(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no conversion is needed."""
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        if (dtype is None or data.dtype == dtype) and (device is None or data.device == device):
            return data
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and device in (None, "cpu"):
        arr = data if dtype is None or data.dtype == dtype else data.astype(dtype)
        return Tensor._wrap(arr)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array)


def _dtype_or(dtype, default):
    """``dtype`` as a NumPy dtype, or ``default`` when it is None (never ``dtype or default``:
    old NumPy dtypes are falsy)."""
    return default if dtype is None else as_dtype(dtype)


def _new_shape(size) -> tuple:
    """The shape of a new tensor from a factory's size arguments; negative sizes raise
    PyTorch's error."""
    shape = sizes(size)
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {list(shape)}")
    return shape


def _factory(fill, size, dtype, device, requires_grad, default=None):
    dtype = _dtype_or(dtype, default if default is not None else get_default_dtype())
    dev = _backend.as_device(device)
    xp = _backend.array_module_for(dev)
    with _backend.on_device(dev):
        return _make(fill(xp, _new_shape(size), dtype), requires_grad)


def _size_arg(name, args, size):
    """The size of a factory called as ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``."""
    if size is None:
        return args
    if args:
        raise TypeError(f"{name}() got multiple values for argument 'size'")
    return (size,)


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``."""
    return _factory(lambda xp, s, d: xp.zeros(s, d), _size_arg("zeros", args, size), dtype,
                    device, requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones (sizes as for ``zeros``)."""
    return _factory(lambda xp, s, d: xp.ones(s, d), _size_arg("ones", args, size), dtype,
                    device, requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor (sizes as for ``zeros``)."""
    return _factory(lambda xp, s, d: xp.empty(s, d), _size_arg("empty", args, size), dtype,
                    device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it, like PyTorch)."""
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 int64 if isinstance(fill_value, int) else get_default_dtype())
    return _factory(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device,
                    requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros with the shape (and by default dtype and device) of ``input``."""
    return zeros(input.shape, dtype=_dtype_or(dtype, input.dtype), device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones with the shape of ``input``."""
    return ones(input.shape, dtype=_dtype_or(dtype, input.dtype), device=device or input.device,
                requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor with the shape of ``input``."""
    return empty(input.shape, dtype=_dtype_or(dtype, input.dtype), device=device or input.device,
                 requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``fill_value`` everywhere, with the shape of ``input``."""
    return full(input.shape, fill_value, dtype=_dtype_or(dtype, input.dtype),
                device=device or input.device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step`` (numbers or one-element
    tensors)."""
    if end is None:
        start, end = 0, start
    start, end, step = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    dev = _backend.as_device(device)
    with _backend.on_device(dev):
        arr = _backend.array_module_for(dev).arange(start, end, step, dtype=as_dtype(dtype))
    return _make(arr, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dev = _backend.as_device(device)
    with _backend.on_device(dev):
        arr = _backend.array_module_for(dev).linspace(
            start, end, int(steps), dtype=_dtype_or(dtype, get_default_dtype()))
    return _make(arr, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in log scale."""
    if int(steps) < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = _dtype_or(dtype, get_default_dtype())
    dev = _backend.as_device(device)
    with _backend.on_device(dev):
        xp = _backend.array_module_for(dev)
        exponents = xp.linspace(start, end, int(steps), dtype=np.float64)
        arr = xp.power(float(base), exponents)
        arr = (xp.round(arr) if dtype.kind in "iu" else arr).astype(dtype)
    return _make(arr, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (n x m)."""
    dev = _backend.as_device(device)
    with _backend.on_device(dev):
        arr = _backend.array_module_for(dev).eye(n, m, dtype=_dtype_or(dtype, get_default_dtype()))
    return _make(arr, requires_grad)


def _draw(draw, size, dtype, device, requires_grad, generator, kernel):
    dtype = _dtype_or(dtype, get_default_dtype())
    if dtype.kind != "f":
        raise RuntimeError(f"\"{kernel}\" not implemented for '{torch_type_name(dtype)}'")
    arr = draw(_random.rng(generator), _new_shape(size)).astype(dtype, copy=False)
    if device is not None:
        arr = _backend.to_device(arr, _backend.as_device(device))
    return _make(arr, requires_grad)


def rand(*args, size=None, generator=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """Uniform random values in [0, 1) (sizes as for ``zeros``)."""
    return _draw(lambda g, s: g.random(s, dtype=np.float64), _size_arg("rand", args, size),
                 dtype, device, requires_grad, generator, "check_uniform_bounds")


def randn(*args, size=None, generator=None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """Standard normal random values (sizes as for ``zeros``)."""
    return _draw(lambda g, s: g.standard_normal(s), _size_arg("randn", args, size), dtype,
                 device, requires_grad, generator, "normal_kernel_cpu")


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Random integers in [low, high): ``randint(low, high, size)`` or ``randint(high, size)``
    (``size`` a tuple, also by keyword)."""
    given = [type(a).__name__ for a in (low, high, size) if a is not None]
    shifted = size is None
    if shifted:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=size)
        low, high = 0, low
    if not isinstance(size, (tuple, list, Tensor)):
        if shifted and size is not None:
            raise TypeError("randint(): argument 'size' (position 2) must be tuple of ints, not "
                            f"{type(size).__name__}")
        raise TypeError(f"randint() received an invalid combination of arguments - got "
                        f"({', '.join(given)}), but expected one of:\n * (int high, tuple of ints "
                        "size)\n * (int low, int high, tuple of ints size)")
    arr = _random.rng(generator).integers(low, high, size=_new_shape((size,)))
    arr = arr.astype(_dtype_or(dtype, int64))
    if device is not None:
        arr = _backend.to_device(arr, _backend.as_device(device))
    return _make(arr, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0 .. n-1."""
    arr = _random.rng(generator).permutation(int(n)).astype(_dtype_or(dtype, int64))
    if device is not None:
        arr = _backend.to_device(arr, _backend.as_device(device))
    return Tensor._wrap(arr)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform random values with the shape of ``input``."""
    return rand(input.shape, dtype=_dtype_or(dtype, input.dtype), device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Normal random values with the shape of ``input``."""
    return randn(input.shape, dtype=_dtype_or(dtype, input.dtype), device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None) -> Tensor:
    """Random integers with the shape of ``input``."""
    return randint(low, high, input.shape, dtype=_dtype_or(dtype, input.dtype),
                   device=device or input.device)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """Draws that are 1 with probability ``input`` (or ``p``, a number or a tensor), else 0, in
    ``input``'s shape and dtype. Uses the default generator (or ``generator``), so
    ``manual_seed`` makes it reproducible; the gradient is zero."""
    xd = input._data
    probs = xd if p is None else p._data if isinstance(p, Tensor) else p
    if isinstance(probs, (int, float)):
        if not 0 <= probs <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    else:
        if probs.dtype.kind != "f":
            raise NotImplementedError("\"bernoulli_tensor_cpu_p_\" not implemented for "
                                      f"'{torch_type_name(probs.dtype)}'")
        if not bool(((probs >= 0) & (probs <= 1)).all()):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report "
                               "an enhancement request to PyTorch.)")
    u = _backend.to_device(_random.rng(generator).random(xd.shape), input.device)
    out = (u < probs).astype(xd.dtype)
    inputs = (input, p) if isinstance(p, Tensor) else (input,)
    if _state.enabled and any(t._requires_grad for t in inputs):
        return _from_node(out, ZeroGradBackward(inputs, "BernoulliBackward0"))
    return Tensor._wrap(out)
