"""Utilities: hook handles, progress bars, metrics logs; ``utils.data`` as in PyTorch."""
import importlib


def __getattr__(name):
    # imported on first use: distgrad.data needs the tensor module, which needs utils.hooks
    if name == "data":
        return importlib.import_module(".data", __name__)
    raise AttributeError(f"module 'distgrad.utils' has no attribute '{name}'")
