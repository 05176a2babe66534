"""Pooling over 1, 2 or 3 spatial dims: max and average pooling, adaptive pooling (one N-d
implementation of each; the ``1d``/``2d``/``3d`` functions are thin wrappers), ``lp_pool1d/2d/3d``,
``max_unpool1d/2d/3d``.

The window reductions loop over the ``prod(kernel_size)`` kernel offsets, each step one
vectorised operation over a strided view of the whole batch (no per-element Python loops, no
window copies). Max pooling keeps the running maximum; its backward finds, offset by offset, the
outputs whose first maximum sits there (ties and NaN resolved as PyTorch does) and scatters the
gradient with one strided write (or add, when windows overlap) per offset.
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_same_device
from ._util import check_tensor, pair, xp_of
from .conv import window_slices

_wrap = Tensor._wrap

# PyTorch's letters for the spatial dims in pooling messages, by their number
_DIM_LETTERS = {1: "W", 2: "HW", 3: "THW"}


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's ``pooling_output_shape``."""
    num = size + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PoolGeometry:
    """Sizes of one pooling over the last ``n`` dims (tuples of ints): the input ``size``, the
    kernel ``k``, ``stride``, ``pad``, ``dil``, the output size ``out`` and the extent ``ext``
    of a buffer that covers every window (the padded input, and what ``ceil_mode`` windows
    reach past it)."""
    __slots__ = ("n", "size", "k", "stride", "pad", "dil", "out", "ext", "overlap")

    def __init__(self, size, k, s, p, d, ceil_mode):
        self.n = len(size)
        self.size, self.k, self.stride, self.pad, self.dil = tuple(size), k, s, p, d
        self.out = tuple(_pool_out(*a, ceil_mode) for a in zip(size, k, s, p, d))
        self.ext = tuple(max(n + p, (o - 1) * s + (k - 1) * d + 1)
                         for n, k, s, p, d, o in zip(size, k, s, p, d, self.out))
        self.overlap = any(d * (k - 1) + 1 > s for k, s, d in zip(k, s, d))

    def needs_buffer(self):
        return self.ext != self.size

    def interior(self):
        """The index of the input inside its buffer."""
        return (Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(self.pad, self.size))

    def views(self, arr):
        """The ``prod(k)`` strided views of the buffer ``arr``, one per kernel offset in
        row-major order, each ``(..., *out)``: ``arr[..., i*s + p*d, ...]``."""
        return map(arr.__getitem__,
                   window_slices(self.k, self.stride, self.dil, self.out, Ellipsis))


def _per_dim(prefix, values) -> str:
    """``kT: 2 kH: 3 kW: 3`` (for ``prefix`` ``k``), as PyTorch's pooling messages print
    values per dim."""
    return " ".join(f"{prefix}{c}: {v}" for c, v in zip(_DIM_LETTERS[len(values)], values))


def _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, fn, n):
    """The checks of an ``n``-d pooling's arguments, and its geometry (``stride`` defaults to
    the kernel)."""
    check_tensor(input, "input", fn)
    xd = input._data
    if xd.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size for input, but got:{list(xd.shape)}")
    k = pair(kernel_size, "kernel_size", n)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else pair(stride, "stride", n)
    p = pair(padding, "padding", n)
    d = pair(dilation, "dilation", n)
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{fn}: kernel_size must be greater than zero, but got "
                           f"{_per_dim('k', k)}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{fn}: stride should be greater than zero, but got "
                           f"{_per_dim('d', s)}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{fn}: dilation should be greater than zero, but got "
                           f"{_per_dim('dilation', d)}")
    for pv, kv, dv in zip(p, k, d):
        if pv < 0 or pv > (dv * (kv - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pv}, kernel_size={kv} and dilation={dv}")
    geo = _PoolGeometry(xd.shape[-n:], k, s, p, d, ceil_mode)
    if min(geo.out) <= 0:
        C = xd.shape[-n - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(str(v) for v in xd.shape[-n - 1:])}). "
                           f"Calculated output size: ({'x'.join(str(v) for v in (C, *geo.out))}). "
                           f"Output size is too small")
    return geo


def _buffer(x, geo, fill):
    """``x`` placed in a buffer of ``(..., *ext)`` filled with ``fill`` (or ``x`` itself)."""
    if not geo.needs_buffer():
        return x
    xp = xp_of(x)
    buf = xp.full(x.shape[:-geo.n] + geo.ext, fill, dtype=x.dtype)
    buf[geo.interior()] = x
    return buf


def _unbuffer(buf, geo):
    return buf[geo.interior()] if geo.needs_buffer() else buf


# --------------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------------
def _max_pool_forward(x, geo):
    """The padded input buffer and the max over each window (NaN propagates, as PyTorch)."""
    xp = xp_of(x)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    buf = _buffer(x, geo, fill)
    views = geo.views(buf)
    m = xp.array(next(views), copy=True)
    for v in views:
        xp.maximum(m, v, out=m)
    return buf, m


def _first_hits(buf, m, geo):
    """For each kernel offset, the mask of outputs whose (first) maximum sits at that offset."""
    xp = xp_of(buf)
    nan = m.dtype.kind == "f" and bool(xp.isnan(m).any())
    taken = None
    last = math.prod(geo.k) - 1
    for t, v in enumerate(geo.views(buf)):
        hit = v == m
        if nan:
            hit |= v != v
        if taken is None:
            taken = hit
        else:
            hit = hit > taken          # hit and not taken
            if t != last:
                taken = taken | hit
        yield t, hit


def _max_pool_indices(buf, m, geo):
    """PyTorch's indices (flat, row-major over each input's spatial dims) of the first maxima."""
    xp = xp_of(m)
    arg = xp.zeros(m.shape, dtype=np.int64)
    for t, hit in _first_hits(buf, m, geo):
        if t:
            arg[hit] = t
    index = 0
    taps = math.prod(geo.k)        # kernel offsets per step of dim i's tap
    for i in range(geo.n):
        taps //= geo.k[i]
        o = xp.arange(geo.out[i], dtype=np.int64).reshape((-1,) + (1,) * (geo.n - 1 - i))
        pos = o * geo.stride[i] - geo.pad[i] + (arg // taps % geo.k[i]) * geo.dil[i]
        index = index * geo.size[i] + pos
    return index


class MaxPoolWithIndicesBackward(Node):
    """Backward of ``max_pool1d``/``2d``/``3d``: the gradient routed to the maxima."""

    def backward(self, g):
        self.saved_tensors  # in-place modification check
        xp = xp_of(g)
        geo, buf = self.geo, self.buf
        m = self.saved_output
        dx = xp.zeros(buf.shape, dtype=g.dtype)
        views = list(geo.views(dx))
        for t, hit in _first_hits(buf, m, geo):
            hit = hit.astype(g.dtype)
            if geo.overlap:
                views[t] += g * hit
            else:
                xp.multiply(g, hit, out=views[t])
        return (_unbuffer(dx, geo),)

    def name(self):
        return f"MaxPool{self.geo.n}DWithIndicesBackward0"

    def release(self):
        """Drop the saved tensors and the input buffer (after backward without retain_graph)."""
        super().release()
        self.buf = None


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n):
    """The ``n``-d max pooling behind ``max_pool1d``/``2d``/``3d``."""
    geo = _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, f"max_pool{n}d",
                     n)
    xd = input._data
    buf, out = _max_pool_forward(xd, geo)
    if _state.enabled and input._requires_grad:
        node = MaxPoolWithIndicesBackward((input,))
        node.save(input)
        node.geo, node.buf = geo, buf
        result = _from_node(out, node)
        node.save_output(result)
    else:
        result = _wrap(out)
    if return_indices:
        return result, _wrap(_max_pool_indices(buf, out, geo))
    return result


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling of ``(N, C, L)`` or ``(C, L)``; with ``return_indices`` also the index of
    each maximum in its input row."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; with ``return_indices`` also the
    flat index of each maximum in its input plane (as PyTorch)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``; with ``return_indices`` also
    the flat index of each maximum in its input volume (as PyTorch)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``max_pool2d`` returning ``(output, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``max_pool3d`` returning ``(output, indices)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


class _MaxUnpoolBackward(Node):
    """Backward of max unpooling: each input takes the gradient at its index."""

    def backward(self, g):
        xp = xp_of(g)
        nd = self.nd
        flat = g.reshape(g.shape[:-nd] + (-1,))
        idx = self.indices.reshape(self.indices.shape[:-nd] + (-1,))
        return (xp.take_along_axis(flat, idx, axis=-1).reshape(self.indices.shape),)


class MaxUnpool2DBackward0(_MaxUnpoolBackward):
    """Backward of ``max_unpool2d``."""

    nd = 2


class MaxUnpool3DBackward0(_MaxUnpoolBackward):
    """Backward of ``max_unpool3d``."""

    nd = 3


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, node_cls):
    """Inverse of ``node_cls.nd``-d max pooling: each value of ``input`` goes to its flat index
    (``indices``, as max pooling returns them) in the output's spatial plane, zeros elsewhere."""
    nd = node_cls.nd
    xd = input._data
    xp = xp_of(xd)
    k = pair(kernel_size, "kernel_size", nd)
    s = k if stride is None else pair(stride, "stride", nd)
    p = pair(padding, "padding", nd)
    if output_size is None:
        size = tuple((n - 1) * si - 2 * pi + ki
                     for n, si, pi, ki in zip(xd.shape[-nd:], s, p, k))
    else:
        size = tuple(int(v) for v in tuple(output_size)[-nd:])
    idx = indices._data
    if type(idx) is not type(xd):  # CuPy would take NumPy indices without a word
        check_same_device(input, indices)
    lead = xd.shape[:-nd]
    out = xp.zeros(lead + (math.prod(size),), dtype=xd.dtype)
    xp.put_along_axis(out, idx.reshape(idx.shape[:-nd] + (-1,)), xd.reshape(lead + (-1,)),
                      axis=-1)
    out = out.reshape(lead + size)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.indices = idx
        return _from_node(out, node)
    return _wrap(out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool1d`` (through ``max_unpool2d`` on a height of one, as PyTorch)."""
    k, p = pair(kernel_size, "kernel_size", 1), pair(padding, "padding", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    size = None if output_size is None else (1, tuple(output_size)[-1])
    return max_unpool2d(input.unsqueeze(-2), indices.unsqueeze(-2), (1,) + k, (1,) + s,
                        (0,) + p, size).squeeze(-2)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool2d``: place each value at its index, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size,
                       MaxUnpool2DBackward0)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool3d``: place each value at its index, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size,
                       MaxUnpool3DBackward0)


# --------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------
def _avg_divisor(geo, count_include_pad, divisor_override, xp, dtype):
    """The divisor of each output: a number, or an ``out``-shaped array."""
    if divisor_override:
        return float(divisor_override)
    counts = []
    for n_out, size, k, s, p in zip(geo.out, geo.size, geo.k, geo.stride, geo.pad):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, size + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, size) - np.maximum(start, 0))
    div = counts[0]
    for c in counts[1:]:
        div = np.multiply.outer(div, c)
    full = math.prod(geo.k)
    if (div == full).all():
        return float(full)
    return xp.asarray(div.astype(dtype))


class AvgPoolBackward(Node):
    """Backward of ``avg_pool1d``/``2d``/``3d``."""

    def backward(self, g):
        xp = xp_of(g)
        geo = self.geo
        gd = g / self.div
        buf = xp.zeros(self.shape[:-geo.n] + geo.ext if geo.needs_buffer() else self.shape,
                       dtype=g.dtype)
        for view in geo.views(buf):
            if geo.overlap:
                view += gd
            else:
                view[...] = gd
        return (_unbuffer(buf, geo),)

    def name(self):
        return f"AvgPool{self.geo.n}DBackward0"


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, n) -> Tensor:
    """The ``n``-d average pooling behind ``avg_pool1d``/``2d``/``3d``."""
    fn = f"avg_pool{n}d"
    geo = _pool_args(input, kernel_size, stride, padding, 1, ceil_mode, fn, n)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    xd = input._data
    if xd.dtype.kind != "f":
        raise RuntimeError(f'"{fn}" not implemented for \'{str(xd.dtype).capitalize()}\'')
    xp = xp_of(xd)
    buf = _buffer(xd, geo, 0)
    views = geo.views(buf)
    out = xp.array(next(views), copy=True)
    for v in views:
        out += v
    div = _avg_divisor(geo, count_include_pad, divisor_override, xp, xd.dtype)
    out /= div
    if _state.enabled and input._requires_grad:
        node = AvgPoolBackward((input,))
        node.geo, node.div, node.shape = geo, div, xd.shape
        return _from_node(out, node)
    return _wrap(out)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """1-D average pooling of ``(N, C, L)`` or ``(C, L)``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling of ``(N, C, H, W)`` or ``(C, H, W)``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """3-D average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 3)


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool, nd) -> Tensor:
    """``(sum over each window of x**p) ** (1/p)`` over ``nd`` dims, by ``avg_pool``."""
    k = pair(kernel_size, "kernel_size", nd)
    out = avg_pool(input.pow(norm_type), k, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """1-D power-average pooling: ``(sum over window of x**p) ** (1/p)``."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool1d, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """2-D power-average pooling: ``(sum over window of x**p) ** (1/p)``."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool2d, 2)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """3-D power-average pooling: ``(sum over window of x**p) ** (1/p)``."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool3d, 3)


# --------------------------------------------------------------------------------------------
# adaptive pooling
# --------------------------------------------------------------------------------------------
def _adaptive_ranges(size, out):
    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _adaptive_args(input, output_size, fn, n):
    """The checks of an ``n``-d adaptive pooling: the input's spatial size, the output size
    (``None`` keeps a dim) and, when every window is a plain pooling's, its kernel (else
    None)."""
    check_tensor(input, "input", fn)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got "
                           f"{list(input.shape)}")
    size = input.shape[-n:]
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size,) * n
    elif len(output_size) != n:
        raise RuntimeError(f"{fn}: output_size must be {n}")
    out = tuple(s if o is None else int(o) for s, o in zip(size, output_size))
    uniform = all(o and s % o == 0 for s, o in zip(size, out))
    return size, out, tuple(s // o for s, o in zip(size, out)) if uniform else None


def _averaging_matrix(size, out, xp, dtype):
    m = np.zeros((out, size), dtype=dtype)
    for i, (s, e) in enumerate(zip(*_adaptive_ranges(size, out))):
        m[i, s:e] = 1.0 / (e - s)
    return _wrap(xp.asarray(m))


def _adaptive_avg_pool(input, output_size, n) -> Tensor:
    """The ``n``-d adaptive average pooling: a plain one when the windows allow, else one
    averaging matrix product per resized dim."""
    size, out, kernel = _adaptive_args(input, output_size, f"adaptive_avg_pool{n}d", n)
    if kernel is not None:
        return _avg_pool(input, kernel, kernel, 0, False, True, None, n)
    xp = input._xp()
    lead = input.shape[:-n]
    x = input
    for i, (s, o) in enumerate(zip(size, out)):
        if s == o:
            continue
        a = _averaging_matrix(s, o, xp, input.dtype)
        if i == n - 1:
            x = x @ a.t()
        else:
            x = (a @ x.reshape(*lead, *out[:i], s, math.prod(size[i + 1:]))).reshape(
                *lead, *out[:i + 1], *size[i + 1:])
    return x


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling of ``(N, C, L)`` or ``(C, L)`` to a fixed output length."""
    return _adaptive_avg_pool(input, output_size, 1)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling of ``(N, C, H, W)`` or ``(C, H, W)`` to a fixed output size (windows as
    PyTorch chooses them; ``None`` keeps a dim)."""
    return _adaptive_avg_pool(input, output_size, 2)


def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """Average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` to a fixed output size."""
    return _adaptive_avg_pool(input, output_size, 3)


def _adaptive_window_positions(size, out):
    """``(*out, K)`` flat positions (row-major over ``size``) of each adaptive window's
    elements, in row-major order. Short windows repeat their last index along a dim: the
    repeats come after the originals, so the first maximum and the last NaN keep their
    positions."""
    n = len(size)
    pos = np.zeros((1,) * (2 * n), dtype=np.int64)
    for i, (s, o) in enumerate(zip(size, out)):
        starts, ends = (np.array(v, dtype=np.int64) for v in _adaptive_ranges(s, o))
        k = int((ends - starts).max(initial=1))
        offsets = np.minimum(starts[:, None] + np.arange(k), ends[:, None] - 1)
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = o, k
        pos = pos * s + offsets.reshape(shape)
    return pos.reshape(*out, math.prod(pos.shape[n:]))


def _adaptive_max_pool(input, output_size, return_indices, n):
    """The ``n``-d adaptive max pooling (exact PyTorch windows); with ``return_indices`` also
    the flat position of each maximum (the first one in a tie, as PyTorch)."""
    size, out, kernel = _adaptive_args(input, output_size, f"adaptive_max_pool{n}d", n)
    if kernel is not None:
        return _max_pool(input, kernel, kernel, 0, 1, False, return_indices, n)
    xp = input._xp()
    lead = input.shape[:-n]
    pos = xp.asarray(_adaptive_window_positions(size, out))
    flat = input.reshape(*lead, math.prod(size))
    windows = flat._data[..., pos]                                # (..., *out, K)
    first = windows.argmax(axis=-1)[..., None]
    nan = xp.isnan(windows)
    if nan.any():                                                 # PyTorch keeps the last NaN
        last_nan = windows.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)[..., None]
        first = xp.where(nan.any(axis=-1, keepdims=True), last_nan, first)
    indices = xp.take_along_axis(xp.broadcast_to(pos, windows.shape), first, -1)[..., 0]
    indices = _wrap(indices.astype(np.int64))
    result = flat.gather(-1, indices.reshape(*lead, math.prod(out))).reshape(*lead, *out)
    return (result, indices) if return_indices else result


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, L)`` or ``(C, L)`` to a fixed output length."""
    return _adaptive_max_pool(input, output_size, return_indices, 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, H, W)`` or ``(C, H, W)`` to a fixed output size; with
    ``return_indices`` also the flat ``h * W + w`` position of each maximum."""
    return _adaptive_max_pool(input, output_size, return_indices, 2)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` to a fixed output size; with
    ``return_indices`` also the flat position of each maximum in its input volume."""
    return _adaptive_max_pool(input, output_size, return_indices, 3)
