"""``MultivariateNormal``: the Gaussian distribution over vectors, given its covariance,
precision or lower Cholesky factor of the covariance."""
from __future__ import annotations

import math

from .. import ops
from ..ops import linalg
from . import constraints
from .distribution import CenteredAtLoc, Distribution, lazy_property

__all__ = ["MultivariateNormal"]


def solve_lower(scale_tril, b):
    """``L^-1 b`` for the lower triangles ``L`` of ``scale_tril`` (..., n, n) (the upper one is
    not read, as by a triangular solve) and matrices ``b`` (..., n, k); the batch dims
    broadcast."""
    return linalg.solve(scale_tril.tril(), b)


def half_log_det(scale_tril):
    """``log det(L)``: half the log-determinant of the covariance ``L L^T``."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(CenteredAtLoc, Distribution):
    """The multivariate normal distribution with mean ``loc`` (..., n) and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (..., n, n); reparameterisable.
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = {k: v for k, v in (("covariance_matrix", covariance_matrix),
                                   ("precision_matrix", precision_matrix),
                                   ("scale_tril", scale_tril)) if v is not None}
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        (name, matrix), = given.items()
        if matrix.ndim < 2:
            what = "scale_tril matrix" if name == "scale_tril" else name.replace("_", " ")
            raise ValueError(f"{what} must be at least two-dimensional, with optional leading "
                             "batch dimensions")
        batch_shape = ops.broadcast_shapes(matrix.shape[:-2], loc.shape[:-1])
        event_shape = loc.shape[-1:]
        self.__dict__[name] = matrix.expand(batch_shape + (-1, -1))
        self.loc = loc.expand(batch_shape + (-1,))
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(matrix))

    @lazy_property
    def scale_tril(self):
        """The lower Cholesky factor ``L`` of the covariance."""
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape * 2)

    @lazy_property
    def covariance_matrix(self):
        """The covariance ``L L^T``."""
        low = self._unbroadcasted_scale_tril
        return (low @ low.mT).expand(self._batch_shape + self._event_shape * 2)

    @lazy_property
    def precision_matrix(self):
        """The inverse of the covariance."""
        return linalg.inv(self.covariance_matrix)

    @property
    def variance(self):
        """The diagonal of the covariance."""
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(
            self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        """``loc + L eps`` with standard normal vectors ``eps``."""
        eps = self._rand(sample_shape)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        """The log density at the vectors ``value``."""
        value = self._checked(value)
        diff = (value - self.loc).unsqueeze(-1)
        mahalanobis = solve_lower(self._unbroadcasted_scale_tril, diff).pow(2).sum((-2, -1))
        n = self._event_shape[0]
        return (-0.5 * (n * math.log(2 * math.pi) + mahalanobis)
                - half_log_det(self._unbroadcasted_scale_tril))

    def entropy(self):
        """``n (1 + log(2 pi)) / 2 + log det(L)``."""
        n = self._event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + half_log_det(self._unbroadcasted_scale_tril)
        return h.expand(self._batch_shape)
