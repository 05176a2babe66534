"""``Categorical``: a distribution over the indices 0 .. K-1, from ``probs`` or ``logits``;
also the shared parameter handling of the distributions given by probabilities or logits."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..dtypes import int64
from . import constraints
from .distribution import Distribution, lazy_property
from .utils import logits_to_probs, probs_to_logits

__all__ = ["Categorical"]


class ProbsOrLogits(Distribution):
    """A distribution given by exactly one of ``probs`` and ``logits``; the other is derived
    on first use. ``_binary`` chooses sigmoid (Bernoulli) over softmax (categorical)."""

    _binary = False

    def _set_param(self, probs, logits):
        """Store the given parameter (as ``probs`` or ``logits``) and return it."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        self._given = "probs" if probs is not None else "logits"
        self.__dict__[self._given] = self._prepare(probs if probs is not None else logits,
                                                   self._given)
        return self.__dict__[self._given]

    def _prepare(self, value, name):
        raise NotImplementedError

    @lazy_property
    def probs(self):
        """The probabilities (derived from ``logits`` when not given)."""
        return logits_to_probs(self.logits, self._binary)

    @lazy_property
    def logits(self):
        """The log-odds (binary) or normalised log-probabilities (derived from ``probs`` when
        not given)."""
        return probs_to_logits(self.probs, self._binary)

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter."""
        return self.__dict__[self._given].shape


class Categorical(ProbsOrLogits):
    """The categorical distribution over ``0 .. K-1`` with probabilities ``probs`` (normalised
    along the last dim) or unnormalised log-probabilities ``logits`` (..., K)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        param = self._set_param(probs, logits)
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    def _prepare(self, value, name):
        if value.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if name == "probs":
            return value / value.sum(-1, keepdim=True)
        return value - value.logsumexp(-1, keepdim=True)

    @property
    def support(self):
        """The integers ``0 .. K-1``."""
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        """NaN (indices have no meaningful mean)."""
        return ops.full(self.batch_shape, float("nan"), dtype=self.probs.dtype,
                        device=self.probs.device)

    variance = mean

    @property
    def mode(self):
        """The most probable index."""
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        """Indices (int64) of shape ``sample_shape + batch_shape``, by inverting the cumulative
        probabilities at uniform draws."""
        with no_grad():
            shape = self._extended_shape(sample_shape)
            cumulative = self.probs.cumsum(-1).expand(shape + (self._num_events,))
            u = ops.rand(shape, dtype=cumulative.dtype, device=cumulative.device).unsqueeze(-1)
            index = (cumulative <= u).sum(-1)
            return index.clamp(max=self._num_events - 1).to(int64)

    def log_prob(self, value):
        """The log-probability of the indices ``value``."""
        value = self._checked(value)
        index = value.to(int64).unsqueeze(-1)
        index, log_pmf = ops.broadcast_tensors(index, self.logits)
        return log_pmf.gather(-1, index[..., :1]).squeeze(-1)

    def entropy(self):
        """``-sum(p log p)`` over the last dim."""
        logits = self.logits.clamp(min=float(np.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        """The indices ``0 .. K-1`` along a new first dim (broadcast over the batch with
        ``expand``)."""
        values = ops.arange(self._num_events, device=self.logits.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values
