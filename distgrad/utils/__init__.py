"""Utilities: hook handles, progress bars, metrics logs; ``utils.data`` and
``utils.checkpoint`` as in PyTorch."""
import importlib

_LAZY = ("data", "checkpoint")


def __getattr__(name):
    # imported on first use: they need the tensor module, which needs utils.hooks
    if name in _LAZY:
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'distgrad.utils' has no attribute '{name}'")
