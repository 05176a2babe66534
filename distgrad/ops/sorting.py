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
from ._util import _state, normalize_dims, scalar_value, torch_type_name
from .creation import zeros
from .index import _open_grid, gather, scatter
from .reduce import _empty_reduction_error, values_indices
from .shape import movedim, reshape

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
    """Backward of ``sort``: each value's gradient goes back to the place it came from (the
    selecting ops' too, whose output may have dropped the dim: ``kept`` False)."""

    kept = True

    def backward(self, g):
        xp = _backend.get_array_module(g)
        if not self.kept:
            g = xp.expand_dims(g, self.axis)
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[_open_grid(xp, self.indices, self.axis)] = g
        return (out,)

    def graph_backward(self, g):
        if not self.kept:
            g = g.unsqueeze(self.axis)
        base = zeros(self.shape, dtype=g.dtype, device=g.device)
        return (scatter(base, self.axis, _wrap(self.indices), g),)


class SortBackward1(SortBackward0):
    """Backward of ``sort(stable=True)``."""


class TopkBackward0(SortBackward0):
    """Backward of ``topk``."""


def _select(input, dim, pick, node_cls, keepdim=True):
    """``(values, indices)``: the elements of ``input`` at the int64 indices ``pick(data, axis)``
    along ``dim``, that dim dropped unless ``keepdim`` (a 0-d input acts as a one-element
    vector, and stays 0-d)."""
    data = input._data
    if data.ndim == 0:
        normalize_dims(dim, 0)
        return _select(reshape(input, (1,)), 0, pick, node_cls, keepdim=False)
    axis = normalize_dims(dim, data.ndim)[0]
    idx = pick(data, axis).astype(int64, copy=False)
    values = input._xp().take_along_axis(data, idx, axis=axis)
    indices = idx if keepdim else idx.squeeze(axis)
    if not keepdim:
        values = values.squeeze(axis)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.indices, node.axis, node.shape, node.kept = idx, axis, data.shape, keepdim
        return values_indices(_from_node(values, node), _wrap(indices))
    return values_indices(_wrap(values), _wrap(indices))


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


def _at_sorted_position(position):
    """The ``pick`` of ``_select`` that takes the element at sorted position
    ``position(data, axis)`` (an int64 array with ``axis`` of length 1; NaN sorts last)."""
    def pick(arr, ax):
        xp = _backend.get_array_module(arr)
        return xp.take_along_axis(_stable_argsort(arr, ax), position(arr, ax), axis=ax)
    return pick


def _kth_along(input, dim, keepdim, pick, node_cls, name):
    """``(values, indices)`` of the element ``pick(data, axis)`` (``_select``'s) chooses along
    ``dim``, that dim dropped unless ``keepdim``; an empty ``dim`` raises op ``name``'s error."""
    data = input._data
    axis = normalize_dims(dim, data.ndim)[0]
    if data.ndim and data.shape[axis] == 0:
        raise _empty_reduction_error(name, data.shape, (axis,))
    return _select(input, dim, pick, node_cls, keepdim)


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

    return _kth_along(input, dim, keepdim, _at_sorted_position(position), KthvalueBackward0,
                      "kthvalue")


def _median_of_all(input, skip_nan, node_cls) -> Tensor:
    """The lower median of all elements of ``input``: of those that are not NaN with
    ``skip_nan`` (NaN when there are none), else NaN when any is NaN (NaN for no elements)."""
    xp = input._xp()
    data = input._data
    flat = xp.sort(data.reshape(-1))
    nans = int(xp.isnan(flat).sum()) if data.dtype.kind == "f" else 0
    count = flat.size - nans if skip_nan else flat.size
    if count == 0:
        out = xp.asarray(xp.nan, dtype=data.dtype)
    else:
        out = flat[(count - 1) // 2 if skip_nan or not nans else -1]
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.save(input)
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


def _non_nan_count(arr, ax):
    """The number of elements of each slice of ``arr`` along ``ax`` that are not NaN (an int
    array keeping ``ax`` with length 1)."""
    xp = _backend.get_array_module(arr)
    n = arr.shape[ax]
    if arr.dtype.kind != "f":
        return xp.full([1] * arr.ndim, n)
    return n - xp.isnan(arr).sum(axis=ax, keepdims=True)


def median(input, dim=None, keepdim=False):
    """The lower median of all elements (NaN if any is NaN), or ``(values, indices)`` of the
    lower median along ``dim`` (the first NaN where a slice has one)."""
    if dim is None:
        return _median_of_all(input, False, MedianBackward0)

    def position(arr, ax):
        n = arr.shape[ax]
        finite = _non_nan_count(arr, ax)
        return input._xp().where(finite < n, finite, (n - 1) // 2).astype(int64, copy=False)

    return _kth_along(input, dim, keepdim, _at_sorted_position(position), MedianBackward1,
                      "median")


class NanmedianBackward0(MedianBackward0):
    """Backward of ``nanmedian()``: the gradient shared among the elements equal to the result
    (the NaNs when all are NaN)."""


class NanmedianBackward1(SortBackward0):
    """Backward of ``nanmedian(dim)``: the gradient goes to the selected element."""


def nanmedian(input, dim=None, keepdim=False):
    """``median`` ignoring NaN: the lower median of the elements that are not NaN (NaN when a
    slice has none), of all elements or as ``(values, indices)`` along ``dim``."""
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        return _median_of_all(input, True, NanmedianBackward0)
    xp = input._xp()

    def pick(arr, ax):
        count = _non_nan_count(arr, ax)
        position = ((xp.maximum(count, 1) - 1) // 2).astype(int64, copy=False)
        chosen = _at_sorted_position(lambda *_: position)(arr, ax)
        return xp.where(count == 0, _introselect_first(arr.shape[ax]), chosen)

    return _kth_along(input, dim, keepdim, pick, NanmedianBackward1, "median")


def _introselect_first(n) -> int:
    """The index that libstdc++'s ``nth_element`` (introselect) leaves first among ``n``
    elements none of which compares less than another: PyTorch's ``nanmedian`` index for an
    all-NaN slice. Each round moves the middle element first (the median of three) and
    reverses the rest (the partition's swaps), keeping the part before the cut."""
    order = list(range(n))
    last = n
    while last > 3:
        mid = last // 2
        order[0], order[mid] = order[mid], order[0]
        order[1:last] = order[last - 1:0:-1]
        last = 1 + (last - 1) // 2
    return order[0]


class ModeBackward0(SortBackward0):
    """Backward of ``mode``: the gradient goes to the selected element."""


def _mode_pick(arr, ax):
    """The ``pick`` of ``mode``: in each slice along ``ax``, the last occurrence of the most
    frequent value (the smallest of equally frequent ones; each NaN counts as distinct)."""
    xp = _backend.get_array_module(arr)
    order = _stable_argsort(arr, ax)
    ordered = xp.moveaxis(xp.take_along_axis(arr, order, axis=ax), ax, -1)
    position = xp.arange(ordered.shape[-1])
    starts = xp.ones(ordered.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    run_start = xp.maximum.accumulate(xp.where(starts, position, 0), axis=-1)
    last = xp.argmax(position - run_start, axis=-1)  # the end of the first longest run
    return xp.take_along_axis(order, xp.expand_dims(last, ax), axis=ax)


def mode(input, dim=-1, keepdim=False):
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of equally
    frequent ones) and the index of its last occurrence."""
    return _kth_along(input, dim, keepdim, _mode_pick, ModeBackward0, "mode")


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_quantile_args(input, q, interpolation):
    """PyTorch's checks of ``quantile``'s arguments, in its order (but for the range of a tensor
    ``q``, checked last)."""
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if not isinstance(q, Tensor) and not 0 <= q <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    data = input._data
    if data.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if isinstance(q, Tensor) and q.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if data.dtype not in (np.float32, np.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if isinstance(q, Tensor) and q._data.dtype != data.dtype:
        raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")


def _quantile(input, q, dim, keepdim, interpolation, skip_nan) -> Tensor:
    """``quantile`` (``nanquantile`` with ``skip_nan``) composed of differentiable ops as in
    PyTorch: each slice sorted, ranks ``q * (n - 1)`` (n counting the non-NaN elements with
    ``skip_nan``; a slice with a NaN takes its last element without), values gathered at the
    ranks rounded down and up, and interpolated."""
    from .elementwise import ceil, floor, isnan, lerp, logical_not, round, where
    if not isinstance(q, Tensor):
        q = scalar_value(q)
    _check_quantile_args(input, q, interpolation)
    data = input._data
    xp = input._xp()
    if dim is None:
        out_shape = (1,) * data.ndim if keepdim else ()
        x = reshape(input, (1, -1))
    else:
        axis = normalize_dims(dim, data.ndim)[0]
        out_shape = [1 if i == axis else s for i, s in enumerate(data.shape)
                     if keepdim or i != axis]
        x = (reshape(movedim(input, axis, -1), (-1, data.shape[axis])) if data.ndim
             else reshape(input, (1, 1)))
    if isinstance(q, Tensor):
        if not bool(((q._data >= 0) & (q._data <= 1)).all()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
        qs = reshape(q, (-1,))
    else:
        qs = _wrap(xp.asarray([q], dtype=data.dtype))
    ordered = sort(x, -1).values
    n = ordered.shape[-1]
    if skip_nan:
        ranks = qs * (logical_not(isnan(ordered)).sum(-1, keepdim=True) - 1)
        ranks = where(ranks < 0, 0.0, ranks)
    else:
        ranks = where(isnan(ordered).any(-1, keepdim=True), float(n - 1), qs * (n - 1))
    rounding = {"lower": floor, "higher": ceil, "nearest": round}.get(interpolation)
    if rounding is not None:
        ranks = rounding(ranks)
    below = _wrap(ranks._data.astype(int64))
    values = gather(ordered, -1, below)
    if interpolation in ("linear", "midpoint"):
        weights = (ranks - below if interpolation == "linear"
                   else _wrap(xp.full(ranks.shape, 0.5, dtype=data.dtype)))
        above = gather(ordered, -1, _wrap(ceil(ranks)._data.astype(int64)))
        values = lerp(values, above, weights)
    if isinstance(q, Tensor) and q.ndim == 1:
        return reshape(values.t(), (q.shape[0], *out_shape))
    return reshape(values, out_shape)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear") -> Tensor:
    """The ``q``-quantiles (``q`` a number or a 1-D tensor of them, in [0, 1]) of all elements
    or along ``dim``, interpolated between the neighbouring order statistics ("linear",
    "midpoint") or taking one ("lower", "higher", "nearest"); NaN where a slice has a NaN.
    A 1-D ``q`` gives its quantiles along a new first dim."""
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear") -> Tensor:
    """``quantile`` of the elements that are not NaN (NaN where a slice has none)."""
    return _quantile(input, q, dim, keepdim, interpolation, True)
