"""``F``: ``distgrad.nn.functional``, imported on first use.

The layers call ``F.linear``, ``F.conv2d`` ... The import is deferred so that
``distgrad.nn.modules`` can be imported without ``distgrad.nn.functional`` (the two are written
separately). Once the functional module is imported (by ``distgrad.nn`` or on first use), ``bind``
replaces this proxy by the module itself in every layer module, so calls cost nothing extra.
"""
from __future__ import annotations

import importlib
import sys


class _LazyFunctional:
    __slots__ = ()

    def __getattr__(self, name):
        return getattr(bind(), name)


F = _PROXY = _LazyFunctional()


def bind(module=None):
    """Import ``distgrad.nn.functional`` (unless given) and make it the ``F`` of the layer
    modules; returns it."""
    if module is None:
        module = importlib.import_module("distgrad.nn.functional")
    for name, mod in list(sys.modules.items()):
        if (name.startswith("distgrad.nn.modules.") and name != __name__
                and getattr(mod, "F", None) is _PROXY):
            mod.F = module
    return module
