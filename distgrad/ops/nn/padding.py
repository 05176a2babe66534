"""``pad``: constant (differentiable, negative pads crop), reflect, replicate and circular."""
from __future__ import annotations

import numpy as np

from ... import _backend
from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, xp_of

_wrap = Tensor._wrap


class ConstantPadNdBackward0(Node):
    """Backward of constant padding: the gradient cut back to the input's region."""

    def backward(self, g):
        if self.all_nonneg:
            return (g[self.dst],)
        xp = xp_of(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        gx[self.src] = g[self.dst]
        return (gx,)


class IndexPadBackward(Node):
    """Backward of a pad that gathers ``x`` along each padded dim with an index array."""

    def backward(self, g):
        xp = xp_of(g)
        for axis, idx, size in reversed(self.gathers):
            shape = list(g.shape)
            shape[axis] = size
            out = xp.zeros(shape, dtype=g.dtype)
            key = (slice(None),) * axis + (idx,)
            if xp is np:
                np.add.at(out, key, g)
            else:
                _backend.cupyx_module().scatter_add(out, key, g)
            g = out
        return (g,)

    def name(self):
        return self.op_name


def _pairs(pad, ndim):
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{ndim}")
    # pad lists the last dim first
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def _mode_index(mode, size, before, after):
    pos = np.arange(-before, size + after)
    if mode == "reflect":
        if before >= size or after >= size:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({before}, {after}) at "
                               f"dimension of input of size {size}")
        period = 2 * (size - 1) if size > 1 else 1
        pos = np.abs(pos) % period if size > 1 else np.zeros_like(pos)
        pos = np.where(pos >= size, period - pos, pos)
    elif mode == "replicate":
        pos = np.clip(pos, 0, size - 1)
    elif mode == "circular":
        if before > size or after > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        # a negative pad crops first; the positive pads wrap around what is left (as PyTorch)
        start, stop = max(-before, 0), size - max(-after, 0)
        pos = start + (pos - start) % max(stop - start, 1)
    else:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    return pos


def pad(input, pad, mode="constant", value=None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims (``pad`` = (last_left, last_right, prev_left, ...)).
    ``mode`` is ``'constant'`` (with ``value``, negative pads crop), ``'reflect'``,
    ``'replicate'`` or ``'circular'``."""
    check_tensor(input, "input", "pad")
    xd = input._data
    xp = xp_of(xd)
    pairs = _pairs(tuple(pad), xd.ndim)
    if mode == "constant":
        value = 0 if value is None else value
        out_shape = list(xd.shape)
        src = [slice(None)] * xd.ndim
        dst = [slice(None)] * xd.ndim
        for axis, before, after in pairs:
            size = xd.shape[axis]
            new = size + before + after
            if new < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {before} and "
                                   f"{after} resulted in a negative output size, which is invalid. "
                                   f"Check dimension {axis} of your input.")
            out_shape[axis] = new
            s0 = -before if before < 0 else 0
            s1 = size + after if after < 0 else size
            s1 = max(s1, s0)
            d0 = max(before, 0)
            src[axis] = slice(s0, s1)
            dst[axis] = slice(d0, d0 + (s1 - s0))
        out = xp.full(out_shape, value, dtype=xd.dtype)
        src, dst = tuple(src), tuple(dst)
        out[dst] = xd[src]
        if _state.enabled and input._requires_grad:
            node = ConstantPadNdBackward0((input,))
            node.src, node.dst, node.shape = src, dst, xd.shape
            node.all_nonneg = all(b >= 0 and a >= 0 for _, b, a in pairs)
            return _from_node(out, node)
        return _wrap(out)
    if value not in (None, 0):
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    out = xd
    gathers = []
    for axis, before, after in pairs:
        idx = xp.asarray(_mode_index(mode, xd.shape[axis], before, after))
        gathers.append((axis, idx, xd.shape[axis]))
        out = xp.take(out, idx, axis=axis)
    if _state.enabled and input._requires_grad:
        node = IndexPadBackward((input,))
        node.gathers = gathers
        node.op_name = {"reflect": "ReflectionPad", "replicate": "ReplicationPad",
                        "circular": "CircularPad"}[mode] + f"{len(pairs)}DBackward0"
        return _from_node(out, node)
    return _wrap(out)
