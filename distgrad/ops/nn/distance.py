"""Norm-based functions: ``normalize``, ``cosine_similarity``, ``pairwise_distance``, ``pdist``."""
from __future__ import annotations

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, normalize_dims
from ._util import xp_of

_wrap = Tensor._wrap


class NormBackward1(Node):
    """Backward of the vector norm along a dimension."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        xp = xp_of(xd)
        n = self.saved_output
        p, axis = self.p, self.axis
        if not self.keepdim:
            g = xp.expand_dims(g, axis)
            n = xp.expand_dims(n, axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                gx = xd * xp.where(n == 0, 0, g / n)
            elif p == 1:
                gx = xp.sign(xd) * g
            elif p == float("inf"):
                mask = xp.abs(xd) == n
                gx = xp.sign(xd) * mask * (g / mask.sum(axis=axis, keepdims=True))
            else:
                gx = (xp.sign(xd) * xp.abs(xd) ** (p - 1)
                      * xp.where(n == 0, 0, g / n ** (p - 1)))
        return (gx.astype(xd.dtype, copy=False),)


def vector_norm(input, p=2.0, dim=-1, keepdim=False) -> Tensor:
    """``||x||_p`` along one dim (the gradient at a zero norm is 0, as in PyTorch)."""
    xd = input._data
    xp = xp_of(xd)
    axis = normalize_dims(dim, xd.ndim)[0]
    a = xp.abs(xd)
    if p == 2:
        out = xp.sqrt((xd * xd).sum(axis=axis, keepdims=keepdim))
    elif p == 1:
        out = a.sum(axis=axis, keepdims=keepdim)
    elif p == float("inf"):
        out = a.max(axis=axis, keepdims=keepdim)
    elif p == 0:
        out = (a != 0).sum(axis=axis, keepdims=keepdim).astype(xd.dtype)
        return _wrap(out)
    else:
        out = (a ** p).sum(axis=axis, keepdims=keepdim) ** (1.0 / p)
    out = out.astype(xd.dtype, copy=False)
    if _state.enabled and input._requires_grad:
        node = NormBackward1((input,))
        node.save(input)
        node.p, node.axis, node.keepdim = p, axis, keepdim
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    norm = vector_norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / norm


def cosine_similarity(x1, x2, dim=1, eps=1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (broadcasting)."""
    if x1.shape != x2.shape:
        from ..shape import broadcast_to
        import numpy as _np
        shape = _np.broadcast_shapes(x1.shape, x2.shape)
        x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    n1 = vector_norm(x1, 2, dim).clamp(min=eps)
    n2 = vector_norm(x2, 2, dim).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) -> Tensor:
    """``||x1 - x2 + eps||_p`` along the last dim."""
    return vector_norm(x1 - x2 + eps, p, -1, keepdim)


def pdist(input, p=2) -> Tensor:
    """Distances between all pairs of rows of a 2-D input (upper triangle, row-major)."""
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    return vector_norm(input[i] - input[j], p, -1)
