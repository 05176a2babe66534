"""``Laplace``: the Laplace (double exponential) distribution with ``loc`` and ``scale``."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .distribution import LocScale

__all__ = ["Laplace"]


class Laplace(LocScale):
    """The Laplace distribution with density ``exp(-|x - loc| / scale) / (2 scale)``;
    reparameterisable."""

    @property
    def stddev(self):
        """``sqrt(2) scale``."""
        return math.sqrt(2) * self.scale

    @property
    def variance(self):
        """``2 scale ** 2``."""
        return 2 * self.scale.pow(2)

    def rsample(self, sample_shape=()):
        """``loc - scale sign(u) log(1 - |u|)`` with ``u`` uniform on (-1, 1)."""
        u = self._rand(sample_shape, ops.rand)
        tiny = float(np.finfo(u.dtype).tiny)
        u = (2 * u - 1).clamp(min=tiny - 1)  # keeps log1p(-|u|) finite
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        """``-log(2 scale) - |value - loc| / scale``."""
        value = self._checked(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        """``0.5 - 0.5 sign(value - loc) expm1(-|value - loc| / scale)``."""
        value = self._checked(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * (-z.abs() / self.scale).expm1()

    def icdf(self, value):
        """``loc - scale sign(value - 0.5) log(1 - 2 |value - 0.5|)``."""
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        """``1 + log(2 scale)``."""
        return 1 + (2 * self.scale).log()
