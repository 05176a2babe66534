"""Anomaly detection: record where each graph node was created and check backward for NaNs."""
from __future__ import annotations

import os

_enabled = os.environ.get("DISTGRAD_DEBUG", "") not in ("", "0")
_check_nan = True


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return _enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection also checks backward results for NaN."""
    return _check_nan


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off for all threads."""
    global _enabled, _check_nan
    _enabled = bool(mode)
    _check_nan = bool(check_nan)


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on.

    Every node then records the stack where it was created; when a backward function returns a
    NaN, the error names the node and prints that stack.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = (_enabled, _check_nan)
        set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(*self._previous)
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


def check_grads(node, grads) -> None:
    """Raise if any gradient a node produced holds NaN, naming the node and where it was made."""
    import numpy as np

    for i, g in enumerate(grads):
        if g is None:
            continue
        data = getattr(g, "_data", g)
        if data.dtype.kind == "f" and bool(np.isnan(data).any()):
            where = node._creation_stack or "(created before anomaly detection was enabled)\n"
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {i}th output.\n"
                f"The operation that created it was called from:\n{where}")
