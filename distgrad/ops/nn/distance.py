"""Norm-based functions: ``normalize``, ``cosine_similarity``, ``pairwise_distance``, ``pdist``."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from ..linalg import vector_norm  # differentiable twice (gradient penalties use normalize)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    norm = vector_norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / norm


def cosine_similarity(x1, x2, dim=1, eps=1e-8) -> Tensor:
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (broadcasting)."""
    if x1.shape != x2.shape:
        from ..shape import broadcast_to
        shape = np.broadcast_shapes(x1.shape, x2.shape)
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
