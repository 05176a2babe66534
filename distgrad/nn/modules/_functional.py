"""``F``: ``distgrad.nn.functional``, imported on first use.

The layers call ``F.linear``, ``F.conv2d`` ... The import is deferred so that
``distgrad.nn.modules`` can be imported before ``distgrad.nn.functional`` (the two are written
separately); after the first attribute access the real module is cached.
"""
from __future__ import annotations

import importlib


class _LazyFunctional:
    __slots__ = ("_module",)

    def __init__(self):
        self._module = None

    def __getattr__(self, name):
        module = self._module
        if module is None:
            module = importlib.import_module("distgrad.nn.functional")
            object.__setattr__(self, "_module", module)
        return getattr(module, name)


F = _LazyFunctional()
