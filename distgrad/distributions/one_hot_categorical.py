"""``OneHotCategorical``: the categorical distribution with values as one-hot vectors."""
from __future__ import annotations

from ..ops.nn.embedding import one_hot
from . import constraints
from .categorical import Categorical, ProbsOrLogits

__all__ = ["OneHotCategorical"]


class OneHotCategorical(ProbsOrLogits):
    """The categorical distribution over one-hot vectors of length K (event shape ``(K,)``);
    parameters as for ``Categorical``."""

    arg_constraints = Categorical.arg_constraints
    support = constraints.one_hot
    has_enumerate_support = True
    _prepare = Categorical._prepare

    def __init__(self, probs=None, logits=None, validate_args=None):
        param = self._set_param(probs, logits)
        super().__init__(param.shape[:-1], param.shape[-1:], validate_args=validate_args)

    @property
    def _categorical(self) -> Categorical:
        """The categorical distribution of the index of the one (from the given parameter)."""
        return Categorical(**{self._given: self.__dict__[self._given]}, validate_args=False)

    @property
    def mean(self):
        """``probs``."""
        return self.probs

    @property
    def mode(self):
        """The one-hot vector of the most probable index."""
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self):
        """``probs (1 - probs)``."""
        return self.probs * (1 - self.probs)

    def _one_hot(self, index):
        return one_hot(index, self.event_shape[-1]).to(self.probs.dtype)

    def sample(self, sample_shape=()):
        """One-hot draws (in the parameters' dtype), without gradient."""
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        """The log-probability of the index of the one in ``value``."""
        value = self._checked(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        """The entropy of the categorical distribution."""
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        """The K one-hot vectors along a new first dim (broadcast over the batch with
        ``expand``)."""
        values = self._one_hot(self._categorical.enumerate_support(expand=False))
        return values.expand((-1,) + self.batch_shape + self.event_shape) if expand else values
