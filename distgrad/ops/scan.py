"""Cumulative operations along a dim: ``cumsum``, ``cumprod``, ``cummax``/``cummin`` and
``logcumsumexp``."""
from __future__ import annotations

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import int64
from ..tensor import Tensor, _from_node
from ._util import _state, maximum_zero, normalize_dims, torch_type_name
from .elementwise import where
from .shape import reshape, to

_wrap = Tensor._wrap


def _reversed_cumsum(g, axis):
    """Sums from each position to the end along ``axis``, of an array or a tensor."""
    rev = (slice(None),) * axis + (slice(None, None, -1),)
    return g[rev].cumsum(axis)[rev]


def _scan(input, dim, dtype, name, node_cls):
    """``input`` scanned by the array method ``name`` (``cumsum``/``cumprod``) along ``dim``, in
    ``dtype`` (by default int64 for integer and bool input, as in PyTorch)."""
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim == 0:  # as a one-element vector
        return reshape(_scan(reshape(input, (1,)), 0, dtype, name, node_cls), ())
    if dtype is None and data.dtype.kind in "biu":
        dtype = int64
    if dtype is not None:
        input = to(input, dtype=dtype)  # the gradient comes back in the input's dtype
        data = input._data
    out = getattr(data, name)(axis)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.axis = axis
        result = _from_node(out, node)
        if node_cls.saves_values:
            node.save(input)
            node.save_output(result)
        return result
    return _wrap(out)


class CumsumBackward0(Node):
    """Backward of ``cumsum``: the gradient summed from each position to the end."""

    saves_values = False

    def backward(self, g):
        return (_reversed_cumsum(g, self.axis),)

    def graph_backward(self, g):
        return (_reversed_cumsum(g, self.axis),)


def cumsum(input, dim, *, dtype=None) -> Tensor:
    """Cumulative sums along ``dim``: ``out[i] = input[0] + ... + input[i]``."""
    return _scan(input, dim, dtype, "cumsum", CumsumBackward0)


class CumprodBackward0(Node):
    """Backward of ``cumprod``, exact where the input has zeros (as PyTorch's).

    ``d out[k] / d x[i]`` is the product of ``x[0..k]`` without ``x[i]`` (for ``k >= i``). Before
    the first zero of a slice that is ``out[k] / x[i]``; at the first zero it is the cumulative
    product with that zero replaced by 1; after it, every such product contains the first zero.
    """

    saves_values = True  # the input and the output

    def backward(self, g):
        (x,) = self.saved_tensors
        xd, axis = x._data, self.axis
        xp = _backend.get_array_module(xd)
        zero = xd == 0
        zeros_so_far = zero.cumsum(axis)
        before = zeros_so_far == 0
        first = zero & (zeros_so_far == 1)
        gx = _reversed_cumsum(g * self.saved_output, axis) / xp.where(before, xd, 1)
        skipped = xp.where(first, 1, xd).cumprod(axis)
        at_first = _reversed_cumsum(g * skipped, axis)
        return (xp.where(before, gx, xp.where(first, at_first, 0)).astype(xd.dtype, copy=False),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        if not bool((x._data == 0).any()):
            return (_reversed_cumsum(g * self.saved_output_tensor(), self.axis) / x,)
        return (_cumprod_grad_with_zeros(x, g, self.axis),)


def _cumprod_grad_with_zeros(x, g, axis) -> Tensor:
    """The gradient of ``cumprod`` as a differentiable function of ``x`` where ``x`` has zeros
    (quadratic in the length of ``axis``): for each position k, the cumulative product of ``x``
    with ``x[k]`` replaced by 1, times ``g``, summed from k to the end."""
    xp = x._xp()
    n = x.shape[axis]
    k_shape = [n] + [1] * x.ndim       # copy k of x along a new leading dim ...
    i_shape = [1] * (x.ndim + 1)
    i_shape[axis + 1] = n              # ... and position i along axis
    k = xp.arange(n).reshape(k_shape)
    i = xp.arange(n).reshape(i_shape)
    copies = where(_wrap(i == k), 1.0, x.unsqueeze(0))
    terms = where(_wrap(i >= k), cumprod(copies, axis + 1) * g.unsqueeze(0), 0.0)
    return terms.sum(axis + 1, keepdim=True).transpose(0, axis + 1).squeeze(0)


def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Cumulative products along ``dim``: ``out[i] = input[0] * ... * input[i]``."""
    return _scan(input, dim, dtype, "cumprod", CumprodBackward0)


def _cum_extremum(input, dim, accumulate, name):
    """``(values, indices)`` of the running maximum/minimum (``accumulate`` the ufunc) along
    ``dim``: indices of the last element equal to it (NaN propagates, as in PyTorch); the
    values are gathered at the indices, so the gradient goes to those elements."""
    from .index import take_along_dim
    from .reduce import values_indices
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim == 0:
        v, i = _cum_extremum(reshape(input, (1,)), 0, accumulate, name)
        return values_indices(reshape(v, ()), reshape(i, ()))
    xp = input._xp()
    running = accumulate.accumulate(data, axis=axis)
    at = xp.arange(data.shape[axis]).reshape([-1 if d == axis else 1 for d in range(data.ndim)])
    hit = data == running
    if data.dtype.kind == "f":
        hit |= xp.isnan(data)
    idx = xp.maximum.accumulate(xp.where(hit, at, 0), axis=axis).astype(int64, copy=False)
    return values_indices(take_along_dim(input, _wrap(idx), axis), _wrap(idx))


def cummax(input, dim):
    """``(values, indices)``: the running maximum along ``dim`` and where it was taken."""
    return _cum_extremum(input, dim, input._xp().maximum, "cummax")


def cummin(input, dim):
    """``(values, indices)``: the running minimum along ``dim`` and where it was taken."""
    return _cum_extremum(input, dim, input._xp().minimum, "cummin")


class LogcumsumexpBackward0(Node):
    """Backward of ``logcumsumexp``: ``d out[k] / d x[i] = exp(x[i] - out[k])`` for ``i <= k``.
    ``backward`` sums it in log space per sign of the gradient (linear in the length);
    ``graph_backward`` builds the (quadratic) weight matrix from tensor ops."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd, out, axis = x._data, self.saved_output, self.axis
        xp = _backend.get_array_module(xd)
        rev = (slice(None),) * axis + (slice(None, None, -1),)
        with np.errstate(divide="ignore"):
            parts = [xp.logaddexp.accumulate((xp.log(p) - out)[rev], axis=axis)[rev]
                     for p in (maximum_zero(g), maximum_zero(-g))]
        return (xp.exp(xd + parts[0]) - xp.exp(xd + parts[1]),)

    def graph_backward(self, g):
        from .shape import movedim
        (x,) = self.saved_tensors
        out = movedim(self.saved_output_tensor(), self.axis, -1)
        xs, gs = movedim(x, self.axis, -1), movedim(g, self.axis, -1)
        n = x.shape[self.axis]
        xp = x._xp()
        later = _wrap(xp.arange(n).reshape(n, 1) >= xp.arange(n))  # [k, i]: i <= k
        w = (where(later, xs.unsqueeze(-2) - out.unsqueeze(-1), -float("inf"))).exp()
        return (movedim((gs.unsqueeze(-1) * w).sum(-2), -1, self.axis),)


def logcumsumexp(input, dim) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, computed stably (float tensors)."""
    data = input._data
    if data.dtype.kind != "f":
        raise NotImplementedError("\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{torch_type_name(data.dtype)}'")
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim == 0:
        return reshape(logcumsumexp(reshape(input, (1,)), 0), ())
    out = input._xp().logaddexp.accumulate(data, axis=axis)
    if _state.enabled and input._requires_grad:
        node = LogcumsumexpBackward0((input,))
        node.axis = axis
        node.save(input)
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)
