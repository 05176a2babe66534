"""``Exponential``: the exponential distribution with ``rate``."""
from __future__ import annotations

from .. import ops
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Exponential"]


class Exponential(Distribution):
    """The exponential distribution with density ``rate * exp(-rate * x)`` on x >= 0;
    reparameterisable."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        """``1 / rate``."""
        return self.rate.reciprocal()

    @property
    def mode(self):
        """Zero."""
        return ops.zeros_like(self.rate)

    @property
    def stddev(self):
        """``1 / rate``."""
        return self.rate.reciprocal()

    @property
    def variance(self):
        """``1 / rate ** 2``."""
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        """``-log(1 - u) / rate`` with ``u`` uniform on [0, 1)."""
        return -(-self._rand(sample_shape, ops.rand)).log1p() / self.rate

    def log_prob(self, value):
        """``log(rate) - rate * value``."""
        value = self._checked(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        """``1 - exp(-rate * value)``."""
        value = self._checked(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        """``-log(1 - value) / rate``."""
        return -(-value).log1p() / self.rate

    def entropy(self):
        """``1 - log(rate)``."""
        return 1.0 - self.rate.log()
