"""``embedding`` (row lookup with a scatter-add gradient), ``embedding_bag`` (the sum, mean or
maximum of each bag of looked-up rows) and ``one_hot``."""
from __future__ import annotations

import numpy as np

from ... import _backend
from ...autograd.graph import NO_INPUT, Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, size_str, xp_of

_wrap = Tensor._wrap


def scatter_add_rows(out, idx, rows):
    """``out[idx[k]] += rows[k]`` for every k, with repeated indices accumulating."""
    xp = xp_of(out)
    if xp is np:
        np.add.at(out, idx, rows)
    else:
        _backend.cupyx_module().scatter_add(out, idx, rows)
    return out


def _weight_grad(rows, idx, num_weights, padding_idx, scale_grad_by_freq):
    """The gradient of a ``(num_weights, D)`` table whose rows ``idx[k]`` were looked up and got
    the gradient rows ``rows[k]``: repeats accumulate (each scaled by 1/its count with
    ``scale_grad_by_freq``); the ``padding_idx`` row gets none."""
    xp = xp_of(rows)
    if scale_grad_by_freq:
        counts = xp.bincount(idx, minlength=num_weights)
        rows = rows / counts[idx].astype(rows.dtype)[:, None]
    gw = xp.zeros((num_weights, rows.shape[1]), dtype=rows.dtype)
    scatter_add_rows(gw, idx, rows)
    if padding_idx is not None:
        gw[padding_idx] = 0
    return gw


class EmbeddingBackward0(Node):
    """Backward of ``embedding``: the gradient scattered into the rows used."""

    def backward(self, g):
        return (None, _weight_grad(g.reshape(-1, g.shape[-1]), self.indices, self.num_weights,
                                   self.padding_idx, self.scale_grad_by_freq))


def check_index_dtype(t, fn):
    """PyTorch's error for an index tensor of a non-integer dtype."""
    if t._data.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {t.type()} instead (while checking "
                           f"arguments for {fn})")


def padding_index(padding_idx, num, error=AssertionError,
                  message="Padding_idx must be within num_embeddings"):
    """``padding_idx`` (None, or in ``[-num, num)``) made non-negative; ``error(message)`` is
    raised when it is out of range."""
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise error(message)
    return padding_idx % num


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False) -> Tensor:
    """Rows of ``weight`` at the integer indices ``input``; the gradient scatter-adds into the
    looked-up rows (repeats accumulate; the ``padding_idx`` row gets none)."""
    check_tensor(input, "input", "embedding")
    check_tensor(weight, "weight", "embedding")
    check_index_dtype(input, "embedding")
    idx = input._data
    wd = weight._data
    if wd.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = wd.shape[0]
    padding_idx = padding_index(padding_idx, num)
    flat = idx.reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    out = wd[flat].reshape(idx.shape + (wd.shape[1],))
    if _state.enabled and weight._requires_grad:
        node = EmbeddingBackward0((input, weight))
        node.indices, node.num_weights, node.padding_idx = flat, num, padding_idx
        node.scale_grad_by_freq = scale_grad_by_freq
        return _from_node(out, node)
    return _wrap(out)


def _renorm_rows(weight, flat, max_norm, norm_type):
    """Rescale (in place, outside autograd) the looked-up rows whose norm exceeds ``max_norm``."""
    xp = xp_of(weight._data)
    rows = xp.unique(flat)
    w = weight._data
    sel = w[rows]
    if norm_type == float("inf"):
        norms = xp.abs(sel).max(axis=1)
    else:
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] = sel * scale[:, None]
    weight._version_counter[0] += 1


_BAG_MODES = ("sum", "mean", "max")


class EmbeddingBagBackward0(Node):
    """Backward of ``embedding_bag``: each bag's gradient goes to the rows it used (times the
    per-sample weight for 'sum', divided by the bag's size for 'mean', to the maximum's row per
    column for 'max'); a per-sample weight gets the dot product of its bag's gradient and its
    row."""

    def backward(self, g):
        xp = xp_of(g)
        weight_edge, psw_edge = self.next_functions
        if self.mode == "max":
            D = g.shape[1]
            gw = xp.zeros((self.num_weights, D), dtype=g.dtype)
            hit = self.max_pos >= 0
            cells = self.indices[self.max_pos[hit]] * D + xp.nonzero(hit)[1]
            scatter_add_rows(gw.reshape(-1), cells, g[hit])
            return gw, None
        rows = g[self.bag]
        g_psw = None
        if self.has_psw:
            weight, psw = self.saved_tensors
            if psw_edge is not None:
                g_psw = xp.zeros(psw.numel(), dtype=g.dtype)
                g_psw[self.kept] = (rows * weight._data[self.indices]).sum(axis=1)
                g_psw = g_psw.reshape(psw.shape)
            rows *= psw._data.reshape(-1)[self.kept][:, None]
        elif self.mode == "mean":
            rows /= xp.maximum(self.counts, 1)[self.bag][:, None]
        gw = None
        if weight_edge is not None:
            gw = _weight_grad(rows, self.indices, self.num_weights, self.padding_idx,
                              self.scale_grad_by_freq)
        return gw, g_psw


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None) -> Tensor:
    """The sum, mean or maximum (``mode``) of the rows of ``weight`` in each bag of indices: a
    2-D ``input`` is one bag per row; a 1-D ``input`` is split into bags at ``offsets`` (with
    ``include_last_offset``, the last offset is the end: indices after it are left out).
    ``per_sample_weights`` (mode 'sum') scale each row; ``padding_idx`` entries are left out of
    their bag (and of its size for 'mean'); an empty bag gives zeros. The gradient is dense
    (``sparse`` is accepted and ignored)."""
    check_tensor(input, "input", "embedding_bag")
    check_tensor(weight, "weight", "embedding_bag")
    psw = per_sample_weights
    if psw is not None and input.shape != psw.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({size_str(psw.shape)}) is not "
                         "None, then it must have the same shape as the input "
                         f"({size_str(input.shape)})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    idx, wd = input._data, weight._data
    xp = xp_of(wd)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is "
                             "a mini-batch of fixed length sequences. However, found offsets of "
                             f"type {type(offsets)}")
        starts, include_last_offset = xp.arange(idx.shape[0]) * idx.shape[1], False
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        check_index_dtype(offsets, "embedding_bag")
        starts = offsets._data
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    if mode not in _BAG_MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if psw is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on GitHub.")
    check_index_dtype(input, "embedding_bag")
    _check_bag_arguments(weight, psw)
    num = wd.shape[0]
    padding_idx = padding_index(padding_idx, num, RuntimeError,
                                "padding_idx must be within the number of embeddings, "
                                f"{-num} through {num - 1}, but got {padding_idx}")
    flat = idx.reshape(-1)
    bad = (flat < 0) | (flat >= num)
    if bad.any():
        k = int(bad.argmax())
        # PyTorch's message depends on its CPU kernel: a fast one for float32/float16 'sum' and
        # 'mean' without padding_idx, a generic one otherwise
        if wd.dtype.itemsize <= 4 and mode != "max" and padding_idx is None:
            raise RuntimeError(f"Index {k} of input takes value {int(flat[k])} which is not in "
                               f"the valid range [0, {num})")
        raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but found "
                           f"idx to be {int(flat[k])}")
    bag, num_bags, end = _bag_ids(starts, flat.size, include_last_offset)
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
        wd = weight._data
    kept = slice(0, end)
    if padding_idx is not None:
        kept = xp.nonzero(flat[:end] != padding_idx)[0]
        bag = bag[kept]
    indices = flat[kept]
    rows = wd[indices]
    counts = xp.bincount(bag, minlength=num_bags)
    max_pos = None
    if mode == "max":
        out, max_pos = _bag_max(rows, bag, num_bags)
        out[counts == 0] = 0
    else:
        if psw is not None:
            rows *= psw._data.reshape(-1)[kept][:, None]
        # float16 rows are summed in float32, as PyTorch does
        out = xp.zeros((num_bags, wd.shape[1]), dtype=xp.promote_types(wd.dtype, np.float32))
        out = scatter_add_rows(out, bag, rows).astype(wd.dtype, copy=False)
        if mode == "mean":
            out /= xp.maximum(counts, 1)[:, None]
    needs_grad = weight._requires_grad or (psw is not None and psw._requires_grad)
    if not (_state.enabled and needs_grad):
        return _wrap(out)
    node = EmbeddingBagBackward0((weight, NO_INPUT if psw is None else psw))
    node.has_psw = psw is not None
    if node.has_psw:
        node.save(weight, psw)
    node.mode, node.bag, node.kept, node.indices, node.counts = mode, bag, kept, indices, counts
    node.max_pos, node.num_weights, node.padding_idx = max_pos, num, padding_idx
    node.scale_grad_by_freq = scale_grad_by_freq
    return _from_node(out, node)


def _check_bag_arguments(weight, per_sample_weights):
    """PyTorch's dtype checks of ``embedding_bag``'s weight and per-sample weights."""
    if weight._data.dtype.kind != "f":
        raise RuntimeError("Expected tensor for argument #1 'weight' to have one of the following "
                           f"scalar types: Half, BFloat16, Float, Double; but got {weight.type()} "
                           "instead (while checking arguments for embedding_bag)")
    if per_sample_weights is not None and per_sample_weights._data.dtype != weight._data.dtype:
        raise RuntimeError("Expected tensor for argument #1 'weight' to have the same type as "
                           "tensor for argument #1 'per_sample_weights'; but type "
                           f"{weight.type()} does not equal {per_sample_weights.type()} (while "
                           "checking arguments for embedding_bag)")


def _bag_ids(offsets, n, include_last_offset):
    """The bag of each of the first ``end`` of ``n`` indices, the number of bags and ``end``,
    from the bags' start ``offsets`` (checked as PyTorch does; they must not decrease)."""
    xp = xp_of(offsets)
    if include_last_offset and offsets.size < 1:
        raise RuntimeError("include_last_offset: number of offset should be at least 1")
    if offsets.size:
        if int(offsets[0]) != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the "
                               "mini-batch has to start from position 0. However, got "
                               f"{int(offsets[0])}")
        if int(offsets[-1]) > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got "
                               f"offsets[-1] of {int(offsets[-1])}")
        if bool((offsets[1:] < offsets[:-1]).any()):
            raise RuntimeError("offsets must be non-decreasing")
    starts = offsets[:-1] if include_last_offset else offsets
    end = int(offsets[-1]) if include_last_offset else n if starts.size else 0
    bounds = xp.concatenate([starts, xp.asarray([end], dtype=starts.dtype)])
    return xp.repeat(xp.arange(starts.size), xp.diff(bounds)), starts.size, end


def _bag_max(rows, bag, num_bags):
    """Per bag and column: the maximum of ``rows`` (-inf for an empty bag) and the position (in
    ``rows``) of its first occurrence (-1 for an empty bag). Found by sorting the elements by
    (bag, column), then value (largest first), then position, and taking each run's first: exact
    on every device (CuPy's float64 ``maximum.at`` is not: seen on an H200 with CuPy 14)."""
    xp = xp_of(rows)
    m, D = rows.shape
    out = xp.full((num_bags, D), -xp.inf, dtype=rows.dtype)
    pos = xp.full((num_bags, D), -1, dtype=np.int64)
    if m == 0 or D == 0:
        return out, pos
    run = (bag[:, None] * D + xp.arange(D)).reshape(-1)  # the (bag, column) of each element
    # the keys, last one first, in float64 (exact for the positions and every float dtype)
    order = xp.lexsort(xp.stack([xp.arange(m * D) // D, -rows.reshape(-1).astype(np.float64),
                                 run]))
    run_sorted = run[order]
    first = order[xp.concatenate([xp.ones(1, dtype=bool), run_sorted[1:] != run_sorted[:-1]])]
    b, c = run[first] // D, first % D
    pos[b, c] = first // D
    out[b, c] = rows.reshape(-1)[first]
    return out, pos


def one_hot(tensor, num_classes=-1) -> Tensor:
    """``(*, num_classes)`` int64 tensor with a one at each index."""
    check_tensor(tensor, "tensor", "one_hot")
    idx = tensor._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(idx)
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if int(idx.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(idx.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return _wrap(out)
