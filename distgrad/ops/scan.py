"""Cumulative operations along a dim: ``cumsum`` and ``cumprod``."""
from __future__ import annotations

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import int64
from ..tensor import Tensor, _from_node
from ._util import _state, normalize_dims
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
