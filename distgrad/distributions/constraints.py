"""Constraints on parameters and values (``torch.distributions.constraints``): each has
``check(value)``, a boolean tensor that is True where ``value`` satisfies it, ``event_dim``
(how many rightmost dims one element of the constraint spans) and ``is_discrete``."""
from __future__ import annotations

from .. import _backend
from ..tensor import Tensor

__all__ = ["Constraint", "boolean", "dependent", "greater_than", "greater_than_eq",
           "half_open_interval", "independent", "integer_interval", "interval", "is_dependent",
           "less_than", "lower_cholesky", "nonnegative", "one_hot", "positive",
           "positive_definite", "real", "real_vector", "simplex", "unit_interval"]


class Constraint:
    """A region of values; subclasses implement ``_check`` on the raw array."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        """A boolean tensor of shape ``value.shape[:-event_dim]``: where ``value`` is valid."""
        return Tensor._wrap(self._check(value._data, _backend.get_array_module(value._data)))

    def _check(self, x, xp):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__[1:] + "()"


class _Dependent(Constraint):
    """A constraint that depends on other parameters; it cannot be checked."""

    def __init__(self, *, is_discrete=False, event_dim=0):
        self.is_discrete = is_discrete
        self.event_dim = event_dim

    def __call__(self, *, is_discrete=False, event_dim=0):
        """A dependent constraint with other ``is_discrete``/``event_dim``."""
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value):
        """Always raises: a dependent constraint cannot be checked."""
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint) -> bool:
    """True for a ``dependent`` constraint."""
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def _check(self, x, xp):
        return x == x  # False for NaN


class _Boolean(Constraint):
    is_discrete = True

    def _check(self, x, xp):
        return (x == 0) | (x == 1)


def _raw(bound):
    """A bound (a number or a tensor) as a number or array."""
    return bound._data if isinstance(bound, Tensor) else bound


class _Bound(Constraint):
    """One bound: ``x > b`` or ``x >= b`` (``lower``), ``x < b`` (not ``lower``)."""

    def __init__(self, bound, name, lower, strict):
        self._bound, self._name, self._lower, self._strict = bound, name, lower, strict

    def _check(self, x, xp):
        b = _raw(self._bound)
        if self._lower:
            return x > b if self._strict else x >= b
        return x < b

    def __repr__(self):
        return f"{self._name}({'lower' if self._lower else 'upper'}_bound={self._bound})"

    @property
    def lower_bound(self):
        """The lower bound (None for an upper one)."""
        return self._bound if self._lower else None

    @property
    def upper_bound(self):
        """The upper bound (None for a lower one)."""
        return None if self._lower else self._bound


def greater_than(lower_bound) -> Constraint:
    """Values strictly above ``lower_bound`` (a number or tensor)."""
    return _Bound(lower_bound, "GreaterThan", True, True)


def greater_than_eq(lower_bound) -> Constraint:
    """Values at or above ``lower_bound``."""
    return _Bound(lower_bound, "GreaterThanEq", True, False)


def less_than(upper_bound) -> Constraint:
    """Values strictly below ``upper_bound``."""
    return _Bound(upper_bound, "LessThan", False, True)


class _Interval(Constraint):
    """``lower <= x <= upper``, or ``lower <= x < upper`` for a half-open one; integers only
    with ``integer=True``."""

    def __init__(self, lower_bound, upper_bound, name, half_open=False, integer=False):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound
        self._name, self._half_open, self.is_discrete = name, half_open, integer

    def _check(self, x, xp):
        low, high = _raw(self.lower_bound), _raw(self.upper_bound)
        ok = (x >= low) & ((x < high) if self._half_open else (x <= high))
        return ok & (x % 1 == 0) if self.is_discrete else ok

    def __repr__(self):
        return f"{self._name}(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


def interval(lower_bound, upper_bound) -> Constraint:
    """Values in the closed interval [lower_bound, upper_bound]."""
    return _Interval(lower_bound, upper_bound, "Interval")


def half_open_interval(lower_bound, upper_bound) -> Constraint:
    """Values in [lower_bound, upper_bound)."""
    return _Interval(lower_bound, upper_bound, "HalfOpenInterval", half_open=True)


def integer_interval(lower_bound, upper_bound) -> Constraint:
    """Integers in [lower_bound, upper_bound]."""
    return _Interval(lower_bound, upper_bound, "IntegerInterval", integer=True)


class _Independent(Constraint):
    """``base`` on the rightmost ``reinterpreted_batch_ndims`` dims together (all must hold)."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim + reinterpreted_batch_ndims

    def _check(self, x, xp):
        ok = self.base_constraint._check(x, xp)
        n = self.reinterpreted_batch_ndims
        return ok.reshape(ok.shape[:ok.ndim - n] + (-1,)).all(-1) if n else ok

    def __repr__(self):
        return (f"IndependentConstraint({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


def independent(base_constraint, reinterpreted_batch_ndims) -> Constraint:
    """``base_constraint`` over ``reinterpreted_batch_ndims`` more rightmost dims."""
    return _Independent(base_constraint, reinterpreted_batch_ndims)


class _Simplex(Constraint):
    event_dim = 1

    def _check(self, x, xp):
        return (x >= 0).all(-1) & (xp.abs(x.sum(-1) - 1) < 1e-6)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def _check(self, x, xp):
        return ((x == 0) | (x == 1)).all(-1) & (x.sum(-1) == 1)


class _LowerCholesky(Constraint):
    event_dim = 2

    def _check(self, x, xp):
        lower = (xp.tril(x) == x).reshape(x.shape[:-2] + (-1,)).all(-1)
        return lower & (xp.diagonal(x, axis1=-2, axis2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def _check(self, x, xp):
        symmetric = xp.isclose(x, xp.swapaxes(x, -1, -2), atol=1e-6)
        symmetric = symmetric.reshape(x.shape[:-2] + (-1,)).all(-1)
        return symmetric & (xp.linalg.eigvalsh((x + xp.swapaxes(x, -1, -2)) / 2).min(-1) > 0)


dependent = _Dependent()
real = _Real()
real_vector = independent(real, 1)
boolean = _Boolean()
positive = greater_than(0.0)
nonnegative = greater_than_eq(0.0)
unit_interval = interval(0.0, 1.0)
simplex = _Simplex()
one_hot = _OneHot()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
