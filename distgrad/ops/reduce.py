"""Reductions: sum, mean, var, std, max/min (with indices), amax/amin, argmax/argmin, logsumexp."""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import int64
from ..tensor import Tensor, _from_node
from ._util import _state, normalize_dims

_wrap = Tensor._wrap

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``shape`` (re-inserting reduced axes if needed)."""
    xp = _backend.get_array_module(g)
    if axes is not None and not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _expand_back_tensor(g, shape, axes, keepdim):
    if axes is not None and not keepdim:
        for a in axes:
            g = g.unsqueeze(a)
    return g.expand(shape)


class SumBackward0(Node):
    def backward(self, g):
        return (_expand_back(g, self.shape, self.axes, self.keepdim),)

    def graph_backward(self, g):
        return (_expand_back_tensor(g, self.shape, self.axes, self.keepdim),)


class MeanBackward0(Node):
    def backward(self, g):
        return (_expand_back(g / self.count, self.shape, self.axes, self.keepdim),)

    def graph_backward(self, g):
        return (_expand_back_tensor(g / self.count, self.shape, self.axes, self.keepdim),)


def _reduce_args(input, dim, keepdim):
    axes = normalize_dims(dim, input._data.ndim)
    if axes is not None and input._data.ndim == 0:
        axes = None
    return axes


def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Sum over all elements or over ``dim`` (int or tuple)."""
    axes = _reduce_args(input, dim, keepdim)
    data = input._data
    if dtype is None and data.dtype.kind in "biu":
        dtype = int64
    out = data.sum(axis=axes, keepdims=keepdim, dtype=dtype)
    if _state.enabled and input._requires_grad:
        node = SumBackward0((input,))
        node.shape, node.axes, node.keepdim = data.shape, axes, keepdim
        return _from_node(out, node)
    return _wrap(out)


def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean over all elements or over ``dim``."""
    data = input._data
    if data.dtype.kind != "f" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {data.dtype.name.capitalize()}")
    axes = _reduce_args(input, dim, keepdim)
    out = data.mean(axis=axes, keepdims=keepdim, dtype=dtype)
    if _state.enabled and input._requires_grad:
        node = MeanBackward0((input,))
        node.shape, node.axes, node.keepdim = data.shape, axes, keepdim
        node.count = data.size // builtins.max(out.size, 1) if data.size else 1
        return _from_node(out, node)
    return _wrap(out)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Variance (Bessel-corrected by default, like PyTorch)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _reduce_args(input, dim, keepdim)
    centered = input - mean(input, dim=axes, keepdim=True)
    n = input._data.size // builtins.max(1, _count_out(input._data.shape, axes))
    return sum(centered * centered, dim=axes, keepdim=keepdim) / builtins.max(n - correction, 0)


def _count_out(shape, axes):
    if axes is None:
        return 1
    return int(np.prod([s for i, s in enumerate(shape) if i not in axes]))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Standard deviation (Bessel-corrected by default)."""
    return var(input, dim, unbiased, keepdim, correction=correction) ** 0.5


class ExtremumBackward(Node):
    """Gradient of max/min/amax/amin: spread evenly over the elements equal to the extremum."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        out = self.saved_output
        axes, keepdim = self.axes, self.keepdim
        xp = _backend.get_array_module(xd)
        o = out if axes is None or keepdim else xp.expand_dims(out, axes)
        mask = xd == o
        count = mask.sum(axis=axes, keepdims=True)
        g = g if axes is None or keepdim else xp.expand_dims(g, axes)
        return ((mask * (g / count)).astype(xd.dtype, copy=False),)


class IndexedExtremumBackward(Node):
    """Gradient of ``max(dim)``/``min(dim)``: flows only to the returned index."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        idx = self.indices
        dim = self.dim
        if not self.keepdim:
            g = xp.expand_dims(g, dim)
            idx = xp.expand_dims(idx, dim)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.put_along_axis(out, idx, g, axis=dim)
        return (out,)


def _extremum(input, dim, keepdim, reduce_fn, arg_fn):
    data = input._data
    if dim is None:
        if data.size == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        out = reduce_fn(data)
        return _extremum_result(input, out, None, False)
    if isinstance(dim, Tensor):  # max(a, b) with two tensors is maximum
        raise TypeError("use distgrad.maximum/minimum for two tensors")
    axis = normalize_dims(dim, data.ndim)[0] if data.ndim else None
    if axis is None:
        return values_indices(_extremum_result(input, reduce_fn(data), None, False),
                              _wrap(np.zeros((), dtype=int64)))
    idx = arg_fn(data, axis=axis, keepdims=True)
    xp = input._xp()
    values = xp.take_along_axis(data, idx, axis=axis)
    if not keepdim:
        values = values.squeeze(axis)
        idx = idx.squeeze(axis)
    idx = idx.astype(int64, copy=False)
    if _state.enabled and input._requires_grad:
        node = IndexedExtremumBackward((input,))
        node.indices, node.dim, node.keepdim, node.shape = idx, axis, keepdim, data.shape
        return values_indices(_from_node(values, node), _wrap(idx))
    return values_indices(_wrap(values), _wrap(idx))


def _extremum_result(input, out, axes, keepdim):
    if _state.enabled and input._requires_grad:
        node = ExtremumBackward((input,))
        node.save(input)
        node.axes, node.keepdim = axes, keepdim
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


def max(input, dim=None, keepdim=False):
    """The maximum of all elements, or ``(values, indices)`` along ``dim``; ``max(a, b)`` is
    ``maximum``."""
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    xp = input._xp()
    return _extremum(input, dim, keepdim, xp.max, xp.argmax)


def min(input, dim=None, keepdim=False):
    """The minimum of all elements, or ``(values, indices)`` along ``dim``."""
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    xp = input._xp()
    return _extremum(input, dim, keepdim, xp.min, xp.argmin)


def amax(input, dim=(), keepdim=False) -> Tensor:
    """Maximum over ``dim`` (all dims by default); the gradient is shared among ties."""
    axes = normalize_dims(dim, input.ndim) if dim != () else None
    return _extremum_result(input, input._data.max(axis=axes, keepdims=keepdim), axes, keepdim)


def amin(input, dim=(), keepdim=False) -> Tensor:
    """Minimum over ``dim`` (all dims by default)."""
    axes = normalize_dims(dim, input.ndim) if dim != () else None
    return _extremum_result(input, input._data.min(axis=axes, keepdims=keepdim), axes, keepdim)


def argmax(input, dim=None, keepdim=False) -> Tensor:
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    return _wrap(input._xp().asarray(input._data.argmax(axis=dim, keepdims=keepdim)).astype(int64))


def argmin(input, dim=None, keepdim=False) -> Tensor:
    """Index of the minimum."""
    return _wrap(input._xp().asarray(input._data.argmin(axis=dim, keepdims=keepdim)).astype(int64))


def logsumexp(input, dim, keepdim=False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably."""
    from .elementwise import exp, log
    m = amax(input, dim, keepdim=True).detach()
    out = log(sum(exp(input - m), dim=dim, keepdim=True)) + m
    return out if keepdim else out.squeeze(dim)


def prod(input, dim=None, keepdim=False) -> Tensor:
    """Product of elements (gradient out / x: exact when no element is zero)."""
    data = input._data
    out = data.prod(axis=dim, keepdims=keepdim)
    if not (_state.enabled and input._requires_grad):
        return _wrap(out)
    node = ProdBackward0((input,))
    node.save(input)
    node.axes = normalize_dims(dim, data.ndim)
    node.keepdim = keepdim
    result = _from_node(out, node)
    node.save_output(result)
    return result


class ProdBackward0(Node):
    def backward(self, g):
        (x,) = self.saved_tensors
        out = self.saved_output
        xd = x._data
        xp = _backend.get_array_module(xd)
        axes = self.axes
        if axes is not None and not self.keepdim:
            out = xp.expand_dims(out, axes)
            g = xp.expand_dims(g, axes)
        return (g * out / xd,)
