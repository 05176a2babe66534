"""``embedding`` (row lookup with a scatter-add gradient) and ``one_hot``."""
from __future__ import annotations

import numpy as np

from ... import _backend
from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, xp_of

_wrap = Tensor._wrap


def scatter_add_rows(out, idx, rows):
    """``out[idx[k]] += rows[k]`` for every k, with repeated indices accumulating."""
    xp = xp_of(out)
    if xp is np:
        np.add.at(out, idx, rows)
    else:
        _backend.cupyx_module().scatter_add(out, idx, rows)
    return out


class EmbeddingBackward0(Node):
    """Backward of ``embedding``: the gradient scattered into the rows used."""

    def backward(self, g):
        xp = xp_of(g)
        idx = self.indices
        D = g.shape[-1]
        g2 = g.reshape(-1, D)
        if self.scale_grad_by_freq:
            counts = xp.bincount(idx, minlength=self.num_weights)
            g2 = g2 / counts[idx].astype(g2.dtype)[:, None]
        gw = xp.zeros((self.num_weights, D), dtype=g.dtype)
        scatter_add_rows(gw, idx, g2)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return (None, gw)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False) -> Tensor:
    """Rows of ``weight`` at the integer indices ``input``; the gradient scatter-adds into the
    looked-up rows (repeats accumulate; the ``padding_idx`` row gets none)."""
    check_tensor(input, "input", "embedding")
    check_tensor(weight, "weight", "embedding")
    idx = input._data
    wd = weight._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following "
                           "scalar types: Long, Int; but got "
                           f"{str(idx.dtype).capitalize()} instead (while checking arguments for "
                           "embedding)")
    if wd.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = wd.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
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
