"""``Independent``: reinterprets batch dims of a distribution as event dims."""
from __future__ import annotations

from . import constraints
from .distribution import Distribution

__all__ = ["Independent"]


def sum_rightmost(value, dims: int):
    """``value`` summed over its ``dims`` rightmost dims."""
    return value.reshape(value.shape[:value.ndim - dims] + (-1,)).sum(-1) if dims else value


class Independent(Distribution):
    """``base_distribution`` with its ``reinterpreted_batch_ndims`` rightmost batch dims taken
    as event dims (log_prob and entropy sum over them)."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n = reinterpreted_batch_ndims
        batch = base_distribution.batch_shape
        if n > len(batch):
            raise ValueError("Expected reinterpreted_batch_ndims <= "
                             f"len(base_distribution.batch_shape), actual {n} vs {len(batch)}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        cut = len(batch) - n
        super().__init__(batch[:cut], batch[cut:] + base_distribution.event_shape,
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """The distribution with its batch broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        reinterpreted = self.event_shape[:self.reinterpreted_batch_ndims]
        base = self.base_dist.expand(batch_shape + reinterpreted)
        return Independent(base, self.reinterpreted_batch_ndims, validate_args=False)

    @property
    def has_rsample(self):
        """Whether the base distribution has ``rsample``."""
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        """False: the support of several independent dims is not enumerated."""
        return False

    @property
    def support(self):
        """The base support over the reinterpreted dims too."""
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    @property
    def mean(self):
        """The base distribution's mean."""
        return self.base_dist.mean

    @property
    def mode(self):
        """The base distribution's mode."""
        return self.base_dist.mode

    @property
    def variance(self):
        """The base distribution's variance."""
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        """The base distribution's draws."""
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        """The base distribution's reparameterised draws."""
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        """The base log-probability summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        """The base entropy summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
