"""Weight normalisation, ``w = g * v / ||v||``: the formula (``norm_except_dim``,
``_weight_norm``) and PyTorch's older hook-based form, ``weight_norm`` / ``remove_weight_norm``
(parameters ``<name>_g`` and ``<name>_v``). ``parametrizations.weight_norm`` is the current
form."""
from __future__ import annotations

import warnings

from ... import linalg
from ..parameter import Parameter

__all__ = ["WeightNorm", "norm_except_dim", "weight_norm", "remove_weight_norm"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dimension but ``dim`` (kept, the others of size 1);
    ``dim=-1`` means over all of ``v`` (a 0-d tensor), as in PyTorch."""
    if dim == -1:
        return linalg.vector_norm(v, pow)
    dim %= v.dim()
    return linalg.vector_norm(v, pow, tuple(d for d in range(v.dim()) if d != dim), keepdim=True)


def _weight_norm(v, g, dim=0):
    """``v * (g / norm_except_dim(v, 2, dim))``."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and
    ``<name>_v``."""

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        """The weight from the module's current ``<name>_g`` and ``<name>_v``."""
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module, name: str, dim: int) -> "WeightNorm":
        """Replace the parameter ``name`` of ``module`` by ``<name>_g`` and ``<name>_v`` and
        register the hook."""
        warnings.warn("`distgrad.nn.utils.weight_norm` is deprecated in favor of "
                      "`distgrad.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        if _find_hook(module, WeightNorm, name) is not None:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        """Make ``<name>`` a plain parameter again, holding the current weight."""
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def _find_hook(module, kind, name):
    """The key of ``module``'s forward pre-hook of class ``kind`` for the tensor ``name``, or
    None."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            return key
    return None


def weight_norm(module, name: str = "weight", dim: int = 0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over every dimension but
    ``dim``; all of them for ``dim=None``) with the parameters ``<name>_g`` and ``<name>_v``,
    recomputed before each forward. Deprecated in PyTorch, as here."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes a plain parameter again."""
    key = _find_hook(module, WeightNorm, name)
    if key is None:
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    module._forward_pre_hooks.pop(key).remove(module)
    return module
