"""``Distribution``: the base class of the probability distributions (PyTorch's
``torch.distributions.Distribution``), with shape bookkeeping and argument validation."""
from __future__ import annotations

from .. import ops
from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints
from .utils import broadcast_all

__all__ = ["Distribution", "CenteredAtLoc", "LocScale"]


def _size_str(shape) -> str:
    """A shape as PyTorch prints a ``torch.Size``, with distgrad's name."""
    return f"distgrad.Size({list(shape)})"


def _describe(t: Tensor) -> str:
    """A parameter or value in messages: its value when it has one element, else its shape."""
    return repr(t.item()) if t.numel() == 1 else _size_str(t.shape)


def _shape_arg(shape) -> tuple:
    """A sample or batch shape given as a tuple, a list or an int."""
    return (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)


class Distribution:
    """A probability distribution over values of ``batch_shape + event_shape``.

    ``arg_constraints`` maps parameter names to the constraints they must satisfy and
    ``support`` is the constraint of the values; both are checked when ``validate_args`` is on
    (the default, see ``set_default_validate_args``).
    """

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None
    _validate_args = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument and value validation on or off for distributions created later
        without ``validate_args``."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = _shape_arg(batch_shape)
        self._event_shape = _shape_arg(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._validate_parameters()

    def _validate_parameters(self) -> None:
        """Raise ValueError for a parameter that violates its constraint."""
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if name not in self.__dict__ and isinstance(getattr(type(self), name, None),
                                                        lazy_property):
                continue  # derived from the given parameter, not checked
            value = getattr(self, name)
            if not bool(constraint.check(value).all()):
                raise ValueError(
                    f"Expected parameter {name} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{_values(value)}")

    @property
    def batch_shape(self) -> tuple:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    def expand(self, batch_shape, _instance=None) -> "Distribution":
        """A distribution of the same family with its parameters broadcast to ``batch_shape``
        (views, no copies)."""
        batch_shape = _shape_arg(batch_shape)
        new = object.__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        for name in self.arg_constraints:
            if isinstance(self.__dict__.get(name), Tensor):
                param = self.__dict__[name]
                setattr(new, name, param.expand(batch_shape + param.shape[len(self.batch_shape):]))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        """The mode of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation of the distribution."""
        return self.variance.sqrt()

    def sample(self, sample_shape=()) -> Tensor:
        """Draws of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """Reparameterised draws: differentiable w.r.t. the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample")

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density/mass at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse of the cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self) -> Tensor:
        """The entropy, of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """``exp(entropy)``."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()) -> tuple:
        """``sample_shape + batch_shape + event_shape``."""
        return _shape_arg(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value) -> None:
        """Raise ValueError unless ``value`` is a tensor whose shape fits the distribution and
        whose values lie in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        n_event = len(self._event_shape)
        if shape[len(shape) - n_event:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{_size_str(shape)} vs {_size_str(self._event_shape)}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{_size_str(shape)} vs {_size_str(expected)}.")
        if not bool(self.support.check(value).all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {shape}) to be within "
                f"the support ({self.support!r}) of the distribution {self!r}, but found invalid "
                f"values:\n{_values(value)}")

    def _checked(self, value) -> Tensor:
        """``value`` after ``_validate_sample`` when validation is on."""
        if self._validate_args:
            self._validate_sample(value)
        return value

    def _rand(self, sample_shape, fn=ops.randn) -> Tensor:
        """Draws of ``fn`` (``randn`` or ``rand``, from distgrad's generator) in the shape of
        ``sample(sample_shape)`` with the dtype and device of the first parameter."""
        like = next(v for v in self.__dict__.values() if isinstance(v, Tensor))
        return fn(self._extended_shape(sample_shape), dtype=like.dtype, device=like.device)

    def __repr__(self):
        names = [k for k in self.arg_constraints if isinstance(self.__dict__.get(k), Tensor)]
        args = ", ".join(f"{k}: {_describe(self.__dict__[k])}" for k in names)
        return f"{type(self).__name__}({args})"


def _values(value: Tensor):
    """The invalid values as PyTorch prints them (the number for a one-element tensor)."""
    return value.item() if value.numel() == 1 else value.detach()


class CenteredAtLoc:
    """Mixin of the symmetric, unimodal families: ``mean`` and ``mode`` are the ``loc``
    parameter."""

    @property
    def mean(self) -> Tensor:
        """``loc``."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """``loc``."""
        return self.loc


class LocScale(CenteredAtLoc, Distribution):
    """Base of the reparameterisable families with a real ``loc`` and a positive ``scale``,
    broadcast to one batch shape (Normal, Laplace)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)


class lazy_property:
    """A parameter computed from another on first use and cached on the instance (as
    ``probs`` of a ``Bernoulli`` made from ``logits``); not validated unless given."""

    def __init__(self, fn):
        self._fn = fn
        self.__doc__ = fn.__doc__
        self._name = fn.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self._fn(instance)
        instance.__dict__[self._name] = value
        return value

