"""Global switches that PyTorch training scripts set (``torch.compile``,
``torch.use_deterministic_algorithms``, ``torch.set_float32_matmul_precision``; the
``torch.backends`` flags are in ``distgrad.backends``), so such scripts run unchanged. distgrad keeps the values and
reports them back, but none changes what it computes: on the CPU it is deterministic already,
NumPy's float32 products have one precision, and there is no compiler or cuDNN to tune."""
from __future__ import annotations

import warnings

__all__ = ["compile", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision"]

_deterministic = {"enabled": False, "warn_only": False}
_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,  # noqa: A001
            options=None, disable=False):
    """``model`` unchanged (distgrad has no compiler); usable as ``@compile`` and
    ``@compile(...)`` like PyTorch's ``torch.compile``."""
    if model is None:
        return lambda fn: fn
    return model


def use_deterministic_algorithms(mode, *, warn_only=False) -> None:
    """Record the switch (distgrad's CPU operations are deterministic either way)."""
    _deterministic.update(enabled=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    """What ``use_deterministic_algorithms`` last set."""
    return _deterministic["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """The ``warn_only`` that ``use_deterministic_algorithms`` last set."""
    return _deterministic["warn_only"]


def set_float32_matmul_precision(precision) -> None:
    """Record ``"highest"``, ``"high"`` or ``"medium"`` (float32 products keep full precision)."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _precision[0] = precision


def get_float32_matmul_precision() -> str:
    """What ``set_float32_matmul_precision`` last set (``"highest"`` by default)."""
    return _precision[0]

