"""Helpers shared by the distributions: parameter broadcasting and the probability/logit
conversions (``torch.distributions.utils``)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values):
    """The values (tensors or numbers) as tensors of one broadcast shape; numbers take the dtype
    and device of the first tensor among them, else the default dtype."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or "
                         "distgrad.Tensor.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = get_default_dtype() if like is None else like.dtype
    device = None if like is None else like.device
    tensors = [v if isinstance(v, Tensor) else ops.tensor(v, dtype=dtype, device=device)
               for v in values]
    return ops.broadcast_tensors(*tensors)


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to [eps, 1 - eps], eps the resolution of its dtype."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits of probabilities: ``log(p) - log(1 - p)`` for binary ones, else ``log(p)``."""
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: ``sigmoid`` for binary ones, else ``softmax`` over the last
    dim."""
    return logits.sigmoid() if is_binary else ops.softmax(logits, -1)
