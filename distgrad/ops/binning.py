"""Counting and binning, which have no gradient: ``bincount``, ``histc``, ``searchsorted`` and
``bucketize``."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import Node
from ..dtypes import int32, int64
from ..tensor import Tensor, _from_node
from ._util import _state, torch_type_name

_wrap = Tensor._wrap


class BincountBackward0(Node):
    """Node of ``bincount`` with weights that require grad: PyTorch has no derivative for it, so
    the result requires grad but backward through it raises."""

    def backward(self, g):
        raise RuntimeError("derivative for aten::bincount is not implemented")

    graph_backward = backward


def _not_implemented_for(kernel, dtype) -> NotImplementedError:
    """PyTorch's error for a kernel that has no version for ``dtype``."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{torch_type_name(dtype)}'")


def bincount(input, weights=None, minlength=0) -> Tensor:
    """How often each value 0, 1, ... occurs in the 1-D non-negative integer ``input`` (int64, at
    least ``minlength`` counts), or the sums of ``weights`` at each value (float32 for float32
    weights, float64 otherwise)."""
    data = input._data
    if data.dtype.kind not in "iu":
        raise _not_implemented_for("bincount_cpu", data.dtype)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = input._xp()
    if data.shape == (0,):
        return _wrap(xp.zeros(minlength, dtype=int64))
    if data.ndim != 1 or int(data.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _wrap(xp.bincount(data, minlength=minlength).astype(int64, copy=False))
    w = weights._data
    if w.ndim != 1 or w.shape[0] != data.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dtype = w.dtype if w.dtype == np.float32 else np.float64
    out = xp.bincount(data, weights=w.astype(np.float64), minlength=minlength).astype(dtype)
    if _state.enabled and weights._requires_grad:
        return _from_node(out, BincountBackward0((weights,)))
    return _wrap(out)


def histc(input, bins=100, min=0, max=0) -> Tensor:
    """Histogram of the elements of ``input`` in ``bins`` equal bins from ``min`` to ``max`` (the
    data's own range when they are equal), in ``input``'s float dtype; elements outside the range
    (and NaN) are not counted."""
    data = input._data
    if data.dtype.kind != "f":
        raise _not_implemented_for("histogram_cpu", data.dtype)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{low:g}, {high:g}] is not finite")
    if not low < high:
        raise RuntimeError("torch.histc: max must be larger than min")
    xp = input._xp()
    x = data.reshape(-1)
    low, high = data.dtype.type(low), data.dtype.type(high)  # computed in the input's dtype
    x = x[(x >= low) & (x <= high)]
    index = xp.minimum(((x - low) * bins / (high - low)).astype(int64), bins - 1)
    return _wrap(xp.bincount(index, minlength=bins).astype(data.dtype))


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None,
                 sorter=None) -> Tensor:
    """For each of ``values`` (a tensor or a number), the index at which inserting it keeps
    ``sorted_sequence`` sorted along its last dim: before equal elements, or after them with
    ``right=True`` (``side='right'``). An N-D sequence is searched row by row: its leading dims
    must be those of ``values``. ``sorter`` (int64) holds the indices that sort an unsorted
    sequence. The result is int64 (int32 with ``out_int32``)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError("torch.searchsorted(): side can only be 'left' or 'right' but got "
                               f"{side}")
        if right and side != "right":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               f"got side of {side} while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    xp = sorted_sequence._xp()
    if sorter is not None:
        seq = _sorted_by(seq, sorter._data, xp)
    vals = values._data if isinstance(values, Tensor) else xp.asarray(values)
    if vals.ndim == 0 and seq.ndim != 1:
        raise RuntimeError("torch.searchsorted(): input value can be a scalar only when boundaries "
                           f"tensor dimension is 1, but we got boundaries tensor dim({seq.ndim}) "
                           f"and input value's dim(0) numel(1)")
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if seq.ndim != 1 and (seq.ndim != vals.ndim or seq.shape[:-1] != vals.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           "first N-1 dimensions of boundaries tensor and input value tensor "
                           f"must match, but we got boundaries tensor {list(seq.shape)} and input "
                           f"value tensor {list(vals.shape)}")
    where = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.asarray(xp.searchsorted(seq, vals, side=where))
    else:  # one search per row
        rows, value_rows = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = xp.empty(value_rows.shape, dtype=int64)
        for i in range(rows.shape[0]):
            out[i] = xp.searchsorted(rows[i], value_rows[i], side=where)
        out = out.reshape(vals.shape)
    return _wrap(out.astype(int32 if out_int32 else int64, copy=False))


def _sorted_by(seq, sorter, xp):
    """``seq`` reordered by the indices ``sorter`` along its last dim, after PyTorch's checks."""
    if sorter.shape != seq.shape:
        raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but "
                           f"got boundary tensor {list(seq.shape)}and got sorter tensor "
                           f"{list(sorter.shape)}")
    if sorter.dtype != np.int64:
        raise RuntimeError("torch.searchsorted(): sorter must be a tensor of long dtype but got "
                           f"dtype {torch_type_name(sorter.dtype)}")
    if sorter.size and (int(sorter.min()) < 0 or int(sorter.max()) >= seq.shape[-1]):
        raise RuntimeError("torch.searchsorted(): sorter index out of range")
    return xp.take_along_axis(seq, sorter, axis=-1)


def bucketize(input, boundaries, *, out_int32=False, right=False) -> Tensor:
    """The bucket of each element ``x`` of ``input`` (a tensor or a number) among the increasing
    1-D ``boundaries``: the ``i`` with ``boundaries[i-1] < x <= boundaries[i]`` (``<=`` and ``<``
    swapped with ``right=True``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
