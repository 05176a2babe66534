"""Ready-made parametrizations (PyTorch's ``torch.nn.utils.parametrizations``):
``weight_norm``, ``spectral_norm`` and ``orthogonal``, registered with
``parametrize.register_parametrization`` so that their state dict keys are PyTorch's."""
from __future__ import annotations

from enum import Enum, auto

import numpy as np

from ... import dtypes, linalg, ops
from ...autograd import grad_mode
from ...tensor import Tensor
from .. import functional as F
from ..modules.module import Module
from . import parametrize
from ._matrix_functions import geqrf, householder_product, matrix_exp, orthogonalize
from .spectral_norm import (_default_dim, _divide_by_sigma, _power_step, _random_unit,
                            _weight_matrix)
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """``original0`` is the magnitude ``g``, ``original1`` the direction ``v``."""

    def __init__(self, dim=0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name: str = "weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over every dimension but
    ``dim``; all of them for ``dim=None``), stored as ``parametrizations.<name>.original0``
    (``g``) and ``original1`` (``v``). State dicts of the older ``<name>_g`` / ``<name>_v``
    form load too."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def load_old_keys(module, state_dict, prefix, *args) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module.register_load_state_dict_pre_hook(load_old_keys)
    return module


class _SpectralNorm(Module):
    """Divides by the largest singular value, estimated by power iteration with the buffers
    ``_u`` and ``_v`` (one step per forward in training mode); a 1-D tensor is normalised."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = _weight_matrix(weight, self.dim)
            h, w = weight_mat.shape
            self.register_buffer("_u", _random_unit(weight_mat, h, eps))
            self.register_buffer("_v", _random_unit(weight_mat, w, eps))
            self._power_method(weight_mat, 15)

    def _power_method(self, weight_mat, n_power_iterations) -> None:
        with grad_mode.no_grad():
            for _ in range(n_power_iterations):
                _power_step(weight_mat, self._v, self._u, self.eps)
                _power_step(weight_mat.t(), self._u, self._v, self.eps)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = _weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        return _divide_by_sigma(weight, weight_mat, self._u.clone(), self._v.clone())

    def right_inverse(self, value):
        return value


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim=None):
    """Reparametrize ``module.<name>`` as itself divided by its spectral norm (``dim``, the
    output-channel dimension by default, indexes the rows of the matrix); stored as
    ``parametrizations.<name>.original`` with the power-iteration vectors ``_u`` and ``_v``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations,
                                    _default_dim(module) if dim is None else dim, eps))
    return module


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


def _is_orthogonal(q) -> bool:
    n, k = q.shape[-2:]
    eye = ops.eye(k, dtype=q.dtype, device=q.device)
    return bool(ops.allclose(q.mT @ q, eye, atol=10.0 * n * np.finfo(q.dtype).eps))


class _Orthogonal(Module):
    """Maps a matrix (or batch) to an orthogonal one (orthonormal columns, or rows when it is
    wide): ``exp`` or the Cayley transform of a skew-symmetric matrix built from its lower
    triangle, or a product of Householder reflections. With ``use_trivialization`` the result
    multiplies the stored orthogonal buffer ``base``, so any orthogonal matrix can be set."""

    def __init__(self, weight, orthogonal_map: _OrthMaps, *, use_trivialization=True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x):
        n, k = x.shape[-2:]
        transposed = n < k
        if transposed:
            x, n, k = x.mT, k, n
        if self.orthogonal_map == _OrthMaps.householder:
            a = x.tril(-1)
            q = householder_product(a, 2.0 / (1.0 + (a * a).sum(-2)))
            q = q * x.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        else:
            x = x.tril()
            if n != k:
                x = ops.cat([x, x.new_zeros(n, n - k).expand(*x.shape[:-2], -1, -1)], -1)
            a = x - x.mT
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                q = matrix_exp(a)
            else:
                eye = ops.eye(n, dtype=a.dtype, device=a.device)
                q = linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            q = q[..., :k]
        if hasattr(self, "base"):
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q):
        with grad_mode.no_grad():
            return self._right_inverse(q)

    def _right_inverse(self, q):
        if q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {q.shape}.")
        q_init = q
        n, k = q.shape[-2:]
        transpose = n < k
        if transpose:
            q, n, k = q.mT, k, n
        if not hasattr(self, "base"):
            if self.orthogonal_map != _OrthMaps.householder:
                raise NotImplementedError("It is not possible to assign to the matrix exponential "
                                          "or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            a, tau = geqrf(q)
            signs = a.diagonal(dim1=-2, dim2=-1).sign() * ops.where(tau == 0.0, -1.0, 1.0)
            on_diagonal = ops.eye(n, k, dtype=dtypes.bool_, device=a.device)
            a = ops.where(on_diagonal, signs.unsqueeze(-2), a)
            return a.mT if transpose else a
        if n == k:
            q = q.clone() if _is_orthogonal(q) else orthogonalize(q)
        else:
            extra = ops.randn(*q.shape[:-2], n, n - k, dtype=q.dtype, device=q.device)
            q = orthogonalize(ops.cat([q, extra], -1))
        self.base = q
        return ops.zeros_like(q_init) - ops.eye(*q_init.shape[-2:], dtype=q.dtype,
                                                device=q.device)


def orthogonal(module, name: str = "weight", orthogonal_map=None, *,
               use_trivialization: bool = True):
    """Reparametrize the matrix (or batch of matrices) ``module.<name>`` to stay orthogonal.
    ``orthogonal_map`` is ``"matrix_exp"`` (the default for square matrices), ``"cayley"`` or
    ``"householder"`` (the default otherwise); stored as ``parametrizations.<name>.original``
    (and ``base`` with ``use_trivialization``)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
