"""``Normal``: the Gaussian distribution with ``loc`` and ``scale``."""
from __future__ import annotations

import math

from .. import ops
from .distribution import LocScale

__all__ = ["Normal"]


class Normal(LocScale):
    """The normal distribution N(loc, scale**2); reparameterisable."""

    @property
    def stddev(self):
        """``scale``."""
        return self.scale

    @property
    def variance(self):
        """``scale ** 2``."""
        return self.scale.pow(2)

    def rsample(self, sample_shape=()):
        """``loc + scale * eps`` with standard normal ``eps``."""
        return self.loc + self.scale * self._rand(sample_shape)

    def log_prob(self, value):
        """The log density at ``value``."""
        value = self._checked(value)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log()
                - 0.5 * math.log(2 * math.pi))

    def cdf(self, value):
        """``P(X <= value)``."""
        value = self._checked(value)
        return 0.5 * (1 + ops.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        """The quantile at probability ``value``."""
        return self.loc + self.scale * ops.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        """``0.5 + 0.5 log(2 pi) + log(scale)``."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
