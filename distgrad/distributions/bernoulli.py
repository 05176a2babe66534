"""``Bernoulli``: a distribution over {0, 1}, from ``probs`` or ``logits``."""
from __future__ import annotations

from .. import ops
from ..autograd import no_grad
from ..ops.nn.activation import softplus
from . import constraints
from .categorical import ProbsOrLogits
from .utils import broadcast_all

__all__ = ["Bernoulli"]


class Bernoulli(ProbsOrLogits):
    """The Bernoulli distribution: 1 with probability ``probs`` (or ``sigmoid(logits)``), else
    0."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _binary = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        param = self._set_param(probs, logits)
        super().__init__(param.shape, validate_args=validate_args)

    def _prepare(self, value, name):
        return broadcast_all(value)[0]

    @property
    def mean(self):
        """``probs``."""
        return self.probs

    @property
    def mode(self):
        """1 where ``probs > 0.5``, 0 where below, NaN at 0.5."""
        p = self.probs
        return ops.where(p == 0.5, float("nan"), (p > 0.5).to(p.dtype))

    @property
    def variance(self):
        """``probs (1 - probs)``."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """Draws of 0 and 1 (in the parameters' dtype), without gradient."""
        with no_grad():
            return ops.bernoulli(self.probs.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        """``value * logits - softplus(logits)``."""
        value = self._checked(value)
        logits, value = broadcast_all(self.logits, value)
        return logits * value - softplus(logits)

    def entropy(self):
        """The binary cross-entropy of ``probs`` with itself."""
        return softplus(self.logits) - self.logits * self.probs

    def enumerate_support(self, expand=True):
        """The values 0 and 1 along a new first dim (broadcast over the batch with
        ``expand``)."""
        values = ops.arange(2, dtype=self.logits.dtype, device=self.logits.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values
