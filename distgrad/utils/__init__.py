"""Utilities: hook handles, progress bars, metrics logs; ``utils.data`` as in PyTorch."""


def __getattr__(name):
    # imported on first use: distgrad.data needs the tensor module, which needs utils.hooks
    if name == "data":
        from . import data
        return data
    raise AttributeError(f"module 'distgrad.utils' has no attribute '{name}'")
