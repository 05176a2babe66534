"""Pooling: ``max_pool2d``/``avg_pool2d`` (and 1-D versions), adaptive pools, ``lp_pool2d``.

The window reductions loop over the ``kh*kw`` kernel offsets, each step one vectorised
operation over a strided view of the whole batch (no per-element Python loops, no window
copies). Max pooling keeps the running maximum; its backward finds, offset by offset, the
outputs whose first maximum sits there (ties and NaN resolved as PyTorch does) and scatters the
gradient with one strided write (or add, when windows overlap) per offset.
"""
from __future__ import annotations

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_same_device
from ._util import check_tensor, pair, xp_of

_wrap = Tensor._wrap


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's ``pooling_output_shape``."""
    num = size + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PoolGeometry:
    __slots__ = ("H", "W", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "Ho", "Wo",
                 "Hb", "Wb", "overlap")

    def __init__(self, H, W, k, s, p, d, ceil_mode):
        self.H, self.W = H, W
        self.kh, self.kw = k
        self.sh, self.sw = s
        self.ph, self.pw = p
        self.dh, self.dw = d
        self.Ho = _pool_out(H, self.kh, self.sh, self.ph, self.dh, ceil_mode)
        self.Wo = _pool_out(W, self.kw, self.sw, self.pw, self.dw, ceil_mode)
        # buffer extent that covers every window
        self.Hb = max(H + self.ph, (self.Ho - 1) * self.sh + (self.kh - 1) * self.dh + 1)
        self.Wb = max(W + self.pw, (self.Wo - 1) * self.sw + (self.kw - 1) * self.dw + 1)
        self.overlap = (self.dh * (self.kh - 1) + 1 > self.sh
                        or self.dw * (self.kw - 1) + 1 > self.sw)

    def needs_buffer(self):
        return self.ph or self.pw or self.Hb > self.H or self.Wb > self.W

    def views(self, arr):
        """The ``kh*kw`` strided views ``arr[..., i*s + p*d, j*s + q*d]``, each ``(.., Ho, Wo)``."""
        hs, ws = self.sh * (self.Ho - 1) + 1, self.sw * (self.Wo - 1) + 1
        for p in range(self.kh):
            for q in range(self.kw):
                h0, w0 = p * self.dh, q * self.dw
                yield arr[..., h0:h0 + hs:self.sh, w0:w0 + ws:self.sw]


def _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, fn, n=2):
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
                           f"kH: {k[0]} kW: {k[-1]}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{fn}: stride should be greater than zero, but got "
                           f"dH: {s[0]} dW: {s[-1]}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{fn}: dilation should be greater than zero, but got "
                           f"dilationH: {d[0]} dilationW: {d[-1]}")
    for pv, kv, dv in zip(p, k, d):
        if pv < 0 or pv > (dv * (kv - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pv}, kernel_size={kv} and dilation={dv}")
    H, W = xd.shape[-2], xd.shape[-1]
    geo = _PoolGeometry(H, W, k, s, p, d, ceil_mode)
    if geo.Ho <= 0 or geo.Wo <= 0:
        raise RuntimeError(f"Given input size: ({'x'.join(str(v) for v in xd.shape[-3:])}). "
                           f"Calculated output size: ({xd.shape[-3]}x{geo.Ho}x{geo.Wo}). Output "
                           f"size is too small")
    return geo


def _buffer(x, geo, fill):
    """``x`` placed in a buffer of ``(.., Hb, Wb)`` filled with ``fill`` (or ``x`` itself)."""
    if not geo.needs_buffer():
        return x
    xp = xp_of(x)
    buf = xp.full(x.shape[:-2] + (geo.Hb, geo.Wb), fill, dtype=x.dtype)
    buf[..., geo.ph:geo.ph + geo.H, geo.pw:geo.pw + geo.W] = x
    return buf


def _unbuffer(buf, geo):
    if buf.shape[-2:] == (geo.H, geo.W):
        return buf
    return buf[..., geo.ph:geo.ph + geo.H, geo.pw:geo.pw + geo.W]


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
    last = geo.kh * geo.kw - 1
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
    """PyTorch's indices (flat ``h*W + w`` in each input plane) of the first maxima."""
    xp = xp_of(m)
    arg = xp.zeros(m.shape, dtype=np.int64)
    for t, hit in _first_hits(buf, m, geo):
        if t:
            arg[hit] = t
    i = xp.arange(geo.Ho, dtype=np.int64).reshape(-1, 1)
    j = xp.arange(geo.Wo, dtype=np.int64)
    h = i * geo.sh - geo.ph + (arg // geo.kw) * geo.dh
    w = j * geo.sw - geo.pw + (arg % geo.kw) * geo.dw
    return h * geo.W + w


class MaxPool2DWithIndicesBackward0(Node):
    """Backward of ``max_pool2d``: the gradient routed to the maxima."""

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

    def release(self):
        """Drop the saved tensors and the input buffer (after backward without retain_graph)."""
        super().release()
        self.buf = None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; with ``return_indices`` also the
    flat index of each maximum in its input plane (as PyTorch)."""
    geo = _pool_args(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    xd = input._data
    buf, out = _max_pool_forward(xd, geo)
    if _state.enabled and input._requires_grad:
        node = MaxPool2DWithIndicesBackward0((input,))
        node.save(input)
        node.geo, node.buf = geo, buf
        result = _from_node(out, node)
        node.save_output(result)
    else:
        result = _wrap(out)
    if return_indices:
        return result, _wrap(_max_pool_indices(buf, out, geo))
    return result


def _pool1d_window(input, fn, kernel_size, stride):
    """The checks of a 1-D pooling's input, and its ``(kernel, stride)`` (stride defaults to the
    kernel)."""
    check_tensor(input, "input", fn)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{fn}() Expected 2D or 3D input tensor, but got {list(input.shape)}")
    k = pair(kernel_size, "kernel_size", 1)[0]
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else pair(stride, "stride", 1)[0]
    return k, s


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling of ``(N, C, L)`` or ``(C, L)``."""
    k, s = _pool1d_window(input, "max_pool1d", kernel_size, stride)
    res = max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, pair(padding, "padding", 1)[0]),
                     (1, pair(dilation, "dilation", 1)[0]), ceil_mode, return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """``max_pool2d`` returning ``(output, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


class MaxUnpool2DBackward0(Node):
    """Backward of ``max_unpool2d``."""

    def backward(self, g):
        xp = xp_of(g)
        flat = g.reshape(g.shape[:-2] + (-1,))
        idx = self.indices.reshape(self.indices.shape[:-2] + (-1,))
        return (xp.take_along_axis(flat, idx, axis=-1).reshape(self.indices.shape),)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool2d``: place each value at its index, zeros elsewhere."""
    xd = input._data
    xp = xp_of(xd)
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    if output_size is None:
        H = (xd.shape[-2] - 1) * s[0] - 2 * p[0] + k[0]
        W = (xd.shape[-1] - 1) * s[1] - 2 * p[1] + k[1]
    else:
        H, W = tuple(output_size)[-2:]
    idx = indices._data
    if type(idx) is not type(xd):  # CuPy would take NumPy indices without a word
        check_same_device(input, indices)
    out = xp.zeros(xd.shape[:-2] + (H * W,), dtype=xd.dtype)
    xp.put_along_axis(out, idx.reshape(idx.shape[:-2] + (-1,)),
                      xd.reshape(xd.shape[:-2] + (-1,)), axis=-1)
    out = out.reshape(xd.shape[:-2] + (H, W))
    if _state.enabled and input._requires_grad:
        node = MaxUnpool2DBackward0((input,))
        node.indices = idx
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------
def _avg_divisor(geo, ceil_mode, count_include_pad, divisor_override, xp, dtype):
    """The divisor of each output: a number, or an ``(Ho, Wo)`` array."""
    if divisor_override:
        return float(divisor_override)
    def sizes(n_out, size, k, s, p):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, size + p)
        pool = end - start
        lo, hi = np.maximum(start, 0), np.minimum(end, size)
        return pool, hi - lo
    ph_, ch_ = sizes(geo.Ho, geo.H, geo.kh, geo.sh, geo.ph)
    pw_, cw_ = sizes(geo.Wo, geo.W, geo.kw, geo.sw, geo.pw)
    div = np.outer(ph_, pw_) if count_include_pad else np.outer(ch_, cw_)
    if (div == geo.kh * geo.kw).all():
        return float(geo.kh * geo.kw)
    return xp.asarray(div.astype(dtype))


class AvgPool2DBackward0(Node):
    """Backward of ``avg_pool2d``."""

    def backward(self, g):
        xp = xp_of(g)
        geo = self.geo
        gd = g / self.div
        buf = xp.zeros(self.shape[:-2] + (geo.Hb, geo.Wb) if geo.needs_buffer()
                       else self.shape, dtype=g.dtype)
        for view in geo.views(buf):
            if geo.overlap:
                view += gd
            else:
                view[...] = gd
        return (_unbuffer(buf, geo),)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling of ``(N, C, H, W)`` or ``(C, H, W)``."""
    geo = _pool_args(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    xd = input._data
    if xd.dtype.kind != "f":
        raise RuntimeError(f'"avg_pool2d" not implemented for \'{str(xd.dtype).capitalize()}\'')
    xp = xp_of(xd)
    buf = _buffer(xd, geo, 0)
    views = geo.views(buf)
    out = xp.array(next(views), copy=True)
    for v in views:
        out += v
    div = _avg_divisor(geo, ceil_mode, count_include_pad, divisor_override, xp, xd.dtype)
    out /= div
    if _state.enabled and input._requires_grad:
        node = AvgPool2DBackward0((input,))
        node.geo, node.div, node.shape = geo, div, xd.shape
        return _from_node(out, node)
    return _wrap(out)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """1-D average pooling of ``(N, C, L)`` or ``(C, L)``."""
    k, s = _pool1d_window(input, "avg_pool1d", kernel_size, stride)
    out = avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, pair(padding, "padding", 1)[0]),
                     ceil_mode, count_include_pad)
    return out.squeeze(-2)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """``(sum over window of x**p) ** (1/p)``."""
    kh, kw = pair(kernel_size)
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)


# --------------------------------------------------------------------------------------------
# adaptive pooling
# --------------------------------------------------------------------------------------------
def _adaptive_ranges(size, out):
    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _output_size(output_size, H, W):
    if isinstance(output_size, (tuple, list)):
        oh, ow = output_size
    else:
        oh = ow = output_size
    return (H if oh is None else int(oh)), (W if ow is None else int(ow))


def _averaging_matrix(size, out, xp, dtype):
    m = np.zeros((out, size), dtype=dtype)
    for i, (s, e) in enumerate(zip(*_adaptive_ranges(size, out))):
        m[i, s:e] = 1.0 / (e - s)
    return _wrap(xp.asarray(m))


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size (windows as PyTorch chooses them)."""
    check_tensor(input, "input", "adaptive_avg_pool2d")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{list(input.shape)}")
    H, W = input.shape[-2:]
    oh, ow = _output_size(output_size, H, W)
    if H % oh == 0 and W % ow == 0:
        return avg_pool2d(input, (H // oh, W // ow))
    xp = input._xp()
    ah = _averaging_matrix(H, oh, xp, input.dtype)
    aw = _averaging_matrix(W, ow, xp, input.dtype)
    return ah @ input @ aw.t()


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """1-D adaptive average pooling of ``(N, C, L)`` or ``(C, L)``."""
    size = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, size)).squeeze(-2)


def _adaptive_window_positions(H, W, oh, ow):
    """``(oh, ow, K)`` flat positions ``h * W + w`` of each adaptive window in row-major order.
    Short windows repeat their last row and column: the repeats come after the originals, so
    the first maximum and the last NaN keep their positions."""
    def offsets(size, out):
        starts, ends = _adaptive_ranges(size, out)
        k = max(e - s for s, e in zip(starts, ends))
        return np.minimum(np.array(starts)[:, None] + np.arange(k), np.array(ends)[:, None] - 1)
    rows, cols = offsets(H, oh), offsets(W, ow)
    pos = rows[:, None, :, None] * W + cols[None, :, None, :]     # (oh, ow, kh, kw)
    return pos.reshape(oh, ow, -1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size (exact PyTorch windows); with ``return_indices`` also
    the flat ``h * W + w`` position of each maximum (the first one in a tie, as PyTorch)."""
    check_tensor(input, "input", "adaptive_max_pool2d")
    H, W = input.shape[-2:]
    oh, ow = _output_size(output_size, H, W)
    if H % oh == 0 and W % ow == 0:
        return max_pool2d(input, (H // oh, W // ow), return_indices=return_indices)
    xp = input._xp()
    lead = input.shape[:-2]
    pos = xp.asarray(_adaptive_window_positions(H, W, oh, ow))
    flat = input.reshape(*lead, H * W)
    windows = flat._data[..., pos]                                # (..., oh, ow, K)
    first = windows.argmax(axis=-1)[..., None]
    nan = xp.isnan(windows)
    if nan.any():                                                 # PyTorch keeps the last NaN
        last_nan = windows.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)[..., None]
        first = xp.where(nan.any(axis=-1, keepdims=True), last_nan, first)
    indices = xp.take_along_axis(xp.broadcast_to(pos, windows.shape), first, -1)[..., 0]
    indices = _wrap(indices.astype(np.int64))
    out = flat.gather(-1, indices.reshape(*lead, oh * ow)).reshape(*lead, oh, ow)
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, L)`` input to a fixed output length."""
    size = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    res = adaptive_max_pool2d(input.unsqueeze(-2), (1, size), return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)

