"""Spectral normalisation, ``w / sigma(w)`` with the largest singular value ``sigma`` estimated
by power iteration: the shared steps, and PyTorch's older hook-based form ``spectral_norm`` /
``remove_spectral_norm`` (parameter ``<name>_orig``, buffers ``<name>_u`` and ``<name>_v``).
``parametrizations.spectral_norm`` is the current form."""
from __future__ import annotations

from ... import ops
from ...autograd import grad_mode
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d
from ..parameter import Parameter
from .weight_norm import _find_hook

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


def _default_dim(module) -> int:
    """The output-channel dimension: 1 for transposed convolutions, 0 otherwise."""
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0


def _weight_matrix(weight, dim):
    """``weight`` as a matrix whose rows run along ``dim``."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.dim()) if d != dim))
    return weight.flatten(1)


def _power_step(matrix, vector, into, eps) -> None:
    """One half-step of power iteration, in place: ``into = normalize(matrix @ vector)``."""
    into.copy_(F.normalize(ops.mv(matrix, vector), dim=0, eps=eps))


def _divide_by_sigma(weight, weight_mat, u, v):
    """``weight`` divided by the estimate ``u . (weight_mat @ v)`` of its spectral norm."""
    return weight / ops.dot(u, ops.mv(weight_mat, v))


def _random_unit(like, size, eps):
    """A random unit vector of ``size`` elements (dtype and device of ``like``)."""
    return F.normalize(like.new_empty(size).normal_(0, 1), dim=0, eps=eps)


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` as ``<name>_orig / sigma``,
    running ``n_power_iterations`` steps first in training mode."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12) -> None:
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.dim = name, dim
        self.n_power_iterations, self.eps = n_power_iterations, eps

    def compute_weight(self, module, do_power_iteration: bool):
        """The normalised weight (the buffers ``u``, ``v`` updated first when asked)."""
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = _weight_matrix(weight, self.dim)
        if do_power_iteration:
            with grad_mode.no_grad():
                for _ in range(self.n_power_iterations):
                    _power_step(weight_mat.t(), u, v, self.eps)
                    _power_step(weight_mat, v, u, self.eps)
            u, v = u.clone(), v.clone()
        return _divide_by_sigma(weight, weight_mat, u, v)

    def remove(self, module) -> None:
        """Make ``<name>`` a plain parameter again, holding the current normalised weight."""
        with grad_mode.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name,
                self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps) -> "SpectralNorm":
        """Move the parameter ``name`` to ``<name>_orig``, add the buffers, register the
        hook."""
        if _find_hook(module, SpectralNorm, name) is not None:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                               f"{name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with grad_mode.no_grad():
            h, w = _weight_matrix(weight, dim).shape
            u, v = _random_unit(weight, h, eps), _random_unit(weight, w, eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.data)
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm before each forward (PyTorch's older
    hook-based form; ``dim`` defaults to the output-channel dimension)."""
    SpectralNorm.apply(module, name, n_power_iterations,
                       _default_dim(module) if dim is None else dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` becomes a plain parameter again."""
    key = _find_hook(module, SpectralNorm, name)
    if key is None:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    module._forward_pre_hooks.pop(key).remove(module)
    return module
