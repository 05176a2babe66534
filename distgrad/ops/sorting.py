"""Sorting and selection: ``sort``, ``argsort``, ``topk``, ``unique``, ``nonzero``, and
``multinomial`` (sampling without replacement is a top-k of random keys)."""
from __future__ import annotations

import math

import numpy as np

from .. import _backend
from .. import random as _random
from ..autograd.graph import Node
from ..dtypes import int64
from ..tensor import Tensor, _from_node
from ._util import _state, normalize_dims, torch_type_name
from .creation import zeros
from .index import _open_grid, scatter
from .reduce import _empty_reduction_error, values_indices
from .shape import reshape, squeeze

_wrap = Tensor._wrap


def _argsort(data, axis, descending):
    """Indices that sort the array ``data`` along ``axis``, stably (equal elements keep their
    order; NaN counts as the largest value, as in PyTorch)."""
    if not descending:
        return _stable_argsort(data, axis)
    # the stable ascending order of the reversed array, reversed: descending, ties in order
    rev = (slice(None),) * axis + (slice(None, None, -1),)
    return (data.shape[axis] - 1) - _stable_argsort(data[rev], axis)[rev]


def _stable_argsort(data, axis):
    """``argsort`` with a stable sort, on NumPy or CuPy."""
    xp = _backend.get_array_module(data)
    try:
        return xp.argsort(data, axis=axis, kind="stable")
    except TypeError:  # a CuPy without ``kind``: its sort is always stable
        return xp.argsort(data, axis=axis)


class SortBackward0(Node):
    """Backward of ``sort``: each value's gradient goes back to the place it came from."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[_open_grid(xp, self.indices, self.axis)] = g
        return (out,)

    def graph_backward(self, g):
        base = zeros(self.shape, dtype=g.dtype, device=g.device)
        return (scatter(base, self.axis, _wrap(self.indices), g),)


class SortBackward1(SortBackward0):
    """Backward of ``sort(stable=True)``."""


class TopkBackward0(SortBackward0):
    """Backward of ``topk``."""


def _select(input, dim, pick, node_cls):
    """``(values, indices)``: the elements of ``input`` at the int64 indices ``pick(data, axis)``
    along ``dim`` (a 0-d input acts as a one-element vector)."""
    data = input._data
    if data.ndim == 0:
        normalize_dims(dim, 0)
        values, indices = _select(reshape(input, (1,)), 0, pick, node_cls)
        return values_indices(squeeze(values, 0), squeeze(indices, 0))
    axis = normalize_dims(dim, data.ndim)[0]
    idx = pick(data, axis).astype(int64, copy=False)
    values = input._xp().take_along_axis(data, idx, axis=axis)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.indices, node.axis, node.shape = idx, axis, data.shape
        return values_indices(_from_node(values, node), _wrap(idx))
    return values_indices(_wrap(values), _wrap(idx))


def sort(input, dim=-1, descending=False, *, stable=False):
    """``(values, indices)``: the elements sorted along ``dim`` (ascending, or ``descending``) and
    where they were. The sort is always stable: equal elements keep their order."""
    return _select(input, dim, lambda data, axis: _argsort(data, axis, descending),
                   SortBackward1 if stable else SortBackward0)


def argsort(input, dim=-1, descending=False, *, stable=False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (``sort(...).indices``)."""
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim == 0:
        return _wrap(input._xp().zeros((), dtype=int64))
    return _wrap(_argsort(data, axis, descending).astype(int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest elements along ``dim`` (the smallest with
    ``largest=False``), largest (smallest) first; ``sorted=False`` gives them in that order too.
    Equal elements are taken in their order."""
    data = input._data
    n = data.shape[normalize_dims(dim, data.ndim)[0]] if data.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")

    def first_k(data, axis):
        return _argsort(data, axis, largest)[(slice(None),) * axis + (slice(0, k),)]

    return _select(input, dim, first_k, TopkBackward0)


class Unique2Backward0(Node):
    """Node of ``unique``, which has no derivative: its output requires grad (as in PyTorch), but
    backward through it raises."""

    _op = "_unique2"

    def backward(self, g):
        raise NotImplementedError(f"the derivative for '{self._op}' is not implemented.")

    graph_backward = backward


class UniqueDimBackward0(Unique2Backward0):
    """Node of ``unique(dim=...)``, which has no derivative either."""

    _op = "unique_dim"


def _unique_flat(data, return_inverse, return_counts):
    """``(values, inverse, counts)`` arrays of the distinct elements of ``data`` (flattened);
    ``inverse`` and ``counts`` are None unless asked for."""
    xp = _backend.get_array_module(data)
    wanted = {"return_inverse": return_inverse, "return_counts": return_counts}
    try:
        found = xp.unique(data.reshape(-1), equal_nan=False, **wanted)
    except TypeError:  # a CuPy without ``equal_nan``: there NaNs are distinct anyway
        found = xp.unique(data.reshape(-1), **wanted)
    if not (return_inverse or return_counts):
        return found, None, None
    return (found[0], found[1].reshape(data.shape) if return_inverse else None,
            found[-1] if return_counts else None)


def _unique_slices(data, axis):
    """``(values, inverse, counts)`` arrays of the distinct slices of ``data`` along ``axis``, in
    lexicographic order (two slices are equal where all their elements are: 0 equals -0, a NaN
    makes its slice distinct)."""
    xp = _backend.get_array_module(data)
    if 0 in data.shape[:axis] + data.shape[axis + 1:]:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    slices = xp.moveaxis(data, axis, 0)
    n = slices.shape[0]
    rows = slices.reshape(n, math.prod(slices.shape[1:]))
    order = xp.lexsort(rows.T[::-1])  # the first column is the primary key
    starts, run_of, counts = _runs(rows[order])
    inverse = xp.empty(n, dtype=int64)
    inverse[order] = run_of
    return xp.moveaxis(slices[order[starts]], 0, axis), inverse, counts


def _runs(rows):
    """``(first row of each run, run of each row, run lengths)`` for the runs of equal
    consecutive rows of the 2-D array ``rows``."""
    xp = _backend.get_array_module(rows)
    n = rows.shape[0]
    new = xp.ones(n, dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    starts = xp.flatnonzero(new)
    return starts, xp.cumsum(new) - 1, xp.diff(xp.concatenate([starts, xp.asarray([n])]))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of ``input`` (flattened), or with ``dim`` its distinct slices along
    ``dim``, in ascending (lexicographic) order, also with ``sorted=False``. With
    ``return_inverse`` also the index in them of each element (``input``'s shape) or slice,
    with ``return_counts`` how often each occurs. NaNs are all distinct."""
    data = input._data
    if dim is None:
        values, inverse, counts = _unique_flat(data, return_inverse, return_counts)
        node_cls = Unique2Backward0
    else:
        if data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        values, inverse, counts = _unique_slices(data, normalize_dims(dim, data.ndim)[0])
        node_cls = UniqueDimBackward0
    return _unique_result(input, node_cls, values, (inverse, return_inverse),
                          (counts, return_counts))


def _unique_result(input, node_cls, values, *extras):
    """``values`` as a tensor (recorded with ``node_cls``, which has no derivative, when
    ``input`` requires grad), followed by the int64 arrays of the ``(array, wanted)`` extras
    that are wanted; a lone tensor when none is."""
    if _state.enabled and input._requires_grad:
        values = _from_node(values, node_cls((input,)))
    else:
        values = _wrap(values)
    wanted = [_wrap(a.astype(int64, copy=False)) for a, want in extras if want]
    return (values, *wanted) if wanted else values


class UniqueConsecutiveBackward0(Unique2Backward0):
    """Node of ``unique_consecutive``, which has no derivative either."""

    _op = "unique_consecutive"


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """``input`` (flattened, or its slices along ``dim``) with each run of equal consecutive
    elements (slices) collapsed to one; ``return_inverse`` gives the run of each element
    (slice), ``return_counts`` each run's length. NaNs are all distinct."""
    data = input._data
    xp = input._xp()
    if dim is None:
        flat = data.reshape(-1)
        starts, run_of, counts = _runs(flat[:, None])
        values, inverse = flat[starts], run_of.reshape(data.shape)
    else:
        if data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        axis = normalize_dims(dim, data.ndim)[0]
        slices = xp.moveaxis(data, axis, 0)
        starts, inverse, counts = _runs(slices.reshape(slices.shape[0], -1))
        values = xp.moveaxis(slices[starts], 0, axis)
    return _unique_result(input, UniqueConsecutiveBackward0, values, (inverse, return_inverse),
                          (counts, return_counts))


def nonzero(input, *, as_tuple=False):
    """The indices of the non-zero elements: an int64 tensor with one row per element (its index
    in each dim), or with ``as_tuple`` one 1-D tensor per dim (a 0-d input counts as 1-D)."""
    data = input._data
    xp = input._xp()
    if as_tuple:
        found = xp.nonzero(data if data.ndim else data.reshape(1))
        return tuple([_wrap(i.astype(int64, copy=False)) for i in found])
    if data.ndim == 0:
        return _wrap(xp.zeros((int(bool(data)), 0), dtype=int64))
    return _wrap(xp.argwhere(data).astype(int64, copy=False))


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """``num_samples`` indices of categories drawn with probabilities proportional to the
    non-negative weights ``input`` (1-D, or 2-D: one distribution per row); without
    ``replacement`` each category is drawn at most once. Uses the default generator (or
    ``generator``), so ``manual_seed`` makes it reproducible; sampled on the host."""
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{torch_type_name(data.dtype)}")
    if data.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = data.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    weights = _backend.to_device(data, _backend.CPU).astype(np.float64).reshape(-1, n)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (weights.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _random.rng(generator)
    if replacement:  # inverse transform sampling of each row's cumulative weights
        cdf = np.cumsum(weights, axis=1)
        u = rng.random((len(weights), num_samples)) * cdf[:, -1:]
        last = n - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)  # rounding never goes past it
        out = np.array([np.minimum(np.searchsorted(c, r, side="right"), m)
                        for c, r, m in zip(cdf, u, last)], dtype=np.int64).reshape(-1, num_samples)
    else:  # the k largest of weight / Exp(1) keys: sequential sampling without replacement
        keys = weights / rng.exponential(size=weights.shape)
        out = _argsort(keys, 1, True)[:, :num_samples]
    out = out.reshape(data.shape[:-1] + (num_samples,)).astype(int64, copy=False)
    return _wrap(_backend.to_device(out, input.device))


class KthvalueBackward0(SortBackward0):
    """Backward of ``kthvalue``: the gradient goes to the selected element."""


class MedianBackward1(SortBackward0):
    """Backward of ``median(dim)``: the gradient goes to the selected element."""


class MedianBackward0(Node):
    """Backward of ``median()``: the gradient shared evenly among the elements equal to the
    median (the NaNs when it is NaN), as in PyTorch."""

    def _weights(self, xp):
        (x,) = self.saved_tensors
        xd, out = x._data, self.saved_output
        mask = xp.isnan(xd) if xp.isnan(out) else xd == out
        return (mask / mask.sum()).astype(xd.dtype, copy=False)

    def backward(self, g):
        return (g * self._weights(_backend.get_array_module(g)),)

    def graph_backward(self, g):
        return (g * _wrap(self._weights(_backend.get_array_module(g._data))),)


def _kth_along(input, dim, keepdim, position, node_cls, name):
    """``(values, indices)`` of the element at sorted position ``position(data, axis)`` (an int64
    array with ``axis`` of length 1) along ``dim`` (NaN sorts last)."""
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim and data.shape[axis] == 0:
        raise _empty_reduction_error(name, data.shape, (axis,))
    xp = input._xp()

    def pick(arr, ax):
        return xp.take_along_axis(_stable_argsort(arr, ax), position(arr, ax), axis=ax)

    values, indices = _select(input, dim, pick, node_cls)
    if keepdim or data.ndim == 0:
        return values_indices(values, indices)
    return values_indices(squeeze(values, axis), squeeze(indices, axis))


def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``."""
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if not 1 <= k <= (data.shape[axis] if data.ndim else 1):
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")

    def position(arr, ax):
        shape = list(arr.shape)
        shape[ax] = 1
        return input._xp().full(shape, k - 1, dtype=int64)

    return _kth_along(input, dim, keepdim, position, KthvalueBackward0, "kthvalue")


def median(input, dim=None, keepdim=False):
    """The lower median of all elements (NaN if any is NaN), or ``(values, indices)`` of the
    lower median along ``dim`` (the first NaN where a slice has one)."""
    xp = input._xp()
    if dim is None:
        data = input._data
        flat = xp.sort(data.reshape(-1))
        nans = int(xp.isnan(flat).sum()) if data.dtype.kind == "f" else 0
        if flat.size == 0:
            out = xp.asarray(xp.nan, dtype=data.dtype)
        else:
            out = flat[(flat.size - 1) // 2 if not nans else -1]
        if _state.enabled and input._requires_grad:
            node = MedianBackward0((input,))
            node.save(input)
            result = _from_node(out, node)
            node.save_output(result)
            return result
        return _wrap(out)

    def position(arr, ax):
        n = arr.shape[ax]
        finite = (n - xp.isnan(arr).sum(axis=ax, keepdims=True) if arr.dtype.kind == "f"
                  else xp.full([1] * arr.ndim, n))
        return xp.where(finite < n, finite, (n - 1) // 2).astype(int64, copy=False)

    return _kth_along(input, dim, keepdim, position, MedianBackward1, "median")
