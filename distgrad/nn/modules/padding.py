"""Padding layers over ``F.pad``: ``ZeroPad{1,2,3}d``, ``ConstantPad{1,2,3}d``,
``ReflectionPad{1,2,3}d``, ``ReplicationPad{1,2,3}d`` and ``CircularPad{1,2,3}d``.

One base, ``_PadNd``, does the work; a concrete class only names its padding ``mode`` and how
many trailing dims it pads (``padding`` is an int for all sides, or ``2 * n`` ints ordered as
``F.pad`` takes them: last dim's left, right, then the previous dim's ...)."""
from __future__ import annotations

from .. import functional as F
from .module import Module
from .utils import _ntuple

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """Base of the padding layers: pad the last ``_ndim`` dims with ``F.pad(mode=_mode)``.
    With ``_check_dims`` (the circular ones, as PyTorch) the input must have ``_ndim + 1``
    (unbatched) or ``_ndim + 2`` dims."""

    _mode = "constant"
    _ndim = 1
    _check_dims = False

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * self._ndim)(padding)

    def _pad_value(self):
        return None

    def forward(self, input):
        if self._check_dims and input.dim() not in (self._ndim + 1, self._ndim + 2):
            raise ValueError(f"expected {self._ndim + 1}D or {self._ndim + 2}D input (got "
                             f"{input.dim()}D input)")
        return F.pad(input, self.padding, self._mode, self._pad_value())

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Base of the constant padding layers: fill with ``value``."""

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def _pad_value(self):
        return self.value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadMixin:
    """Makes a ``ConstantPadNd`` pad with zeros (its constructor takes only ``padding``)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    extra_repr = _PadNd.extra_repr


class _ReflectionPadNd(_PadNd):
    """Base of the reflection padding layers (mirror without repeating the edge)."""

    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    """Base of the replication padding layers (repeat the edge value)."""

    _mode = "replicate"


class _CircularPadNd(_PadNd):
    """Base of the circular padding layers (wrap around)."""

    _mode = "circular"
    _check_dims = True


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with the constant ``value``."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with the constant ``value``."""

    _ndim = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with the constant ``value``."""

    _ndim = 3


class ZeroPad1d(_ZeroPadMixin, ConstantPad1d):
    """Pad the last dim with zeros."""


class ZeroPad2d(_ZeroPadMixin, ConstantPad2d):
    """Pad the last 2 dims with zeros."""


class ZeroPad3d(_ZeroPadMixin, ConstantPad3d):
    """Pad the last 3 dims with zeros."""


class ReflectionPad1d(_ReflectionPadNd):
    """Pad the last dim with its reflection."""


class ReflectionPad2d(_ReflectionPadNd):
    """Pad the last 2 dims with their reflection."""

    _ndim = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Pad the last 3 dims with their reflection."""

    _ndim = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Pad the last dim by repeating its edge values."""


class ReplicationPad2d(_ReplicationPadNd):
    """Pad the last 2 dims by repeating their edge values."""

    _ndim = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Pad the last 3 dims by repeating their edge values."""

    _ndim = 3


class CircularPad1d(_CircularPadNd):
    """Pad the last dim circularly (input 2D or 3D)."""


class CircularPad2d(_CircularPadNd):
    """Pad the last 2 dims circularly (input 3D or 4D)."""

    _ndim = 2


class CircularPad3d(_CircularPadNd):
    """Pad the last 3 dims circularly (input 4D or 5D)."""

    _ndim = 3
