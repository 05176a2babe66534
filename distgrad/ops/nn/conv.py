"""Convolutions: ``conv2d`` (and ``conv1d`` through it) by im2col + one matrix product.

Layout. Internally the images are held "CHWN" (batch innermost): the input is copied once into
a zero-padded ``(C, Hp, Wp, N)`` buffer, so every window copy moves runs of ``Wo*N``
contiguous values (NCHW windows would move runs of ``Wo``, and NumPy's per-run overhead would
dominate on small images). The columns are a ``(C*kh*kw, Ho*Wo*N)`` matrix, the product is one
GEMM per group, and its ``(O, Ho, Wo, N)`` result is transposed back to NCHW.

Backward: the weight gradient is one GEMM with the saved columns; the input gradient is the
column gradient ``W.T @ g`` folded back (col2im). For stride 1 the column gradient is computed
"row-flat" (over full padded rows, the ``Wp - Wo`` extra columns being zero), which turns
col2im into ``kh*kw`` adds of long contiguous runs; other strides add through strided views.
"""
from __future__ import annotations

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_same_device
from ._util import check_tensor, dtype_kind_name, pair, xp_of

_wrap = Tensor._wrap


# Columns up to this size are kept from the forward for the weight gradient; bigger ones are
# rebuilt in the backward (they hold kh*kw times the input).
SAVE_COLS_LIMIT = 64 * 2 ** 20


def _as_strided(xp, arr, shape, strides):
    return xp.lib.stride_tricks.as_strided(arr, shape=shape, strides=strides)


class _Geometry:
    """Sizes of one convolution call (all plain ints)."""
    __slots__ = ("N", "C", "H", "W", "O", "G", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pb",
                 "pl", "pr", "Hp", "Wp", "Ho", "Wo", "unit")

    def __init__(self, xshape, wshape, stride, pads, dilation, groups):
        self.N, self.C, self.H, self.W = xshape
        self.O, _, self.kh, self.kw = wshape
        self.G = groups
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pt, self.pb, self.pl, self.pr = pads
        self.Hp = self.H + self.pt + self.pb
        self.Wp = self.W + self.pl + self.pr
        self.Ho = (self.Hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
        self.Wo = (self.Wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        # 1x1, stride 1, no padding: the transposed input is the column matrix
        self.unit = (self.kh == 1 and self.kw == 1 and self.sh == 1 and self.sw == 1
                     and self.Hp == self.H and self.Wp == self.W)


def _to_chwn(x, geo):
    """``x`` (N, C, H, W) as a zero-padded ``(C, Hp, Wp, N)`` array."""
    xp = xp_of(x)
    if geo.Hp == geo.H and geo.Wp == geo.W:
        return xp.ascontiguousarray(x.transpose(1, 2, 3, 0))
    buf = xp.zeros((geo.C, geo.Hp, geo.Wp, geo.N), dtype=x.dtype)
    buf[:, geo.pt:geo.pt + geo.H, geo.pl:geo.pl + geo.W, :] = x.transpose(1, 2, 3, 0)
    return buf


def _im2col(x, geo):
    """Columns ``(C*kh*kw, Ho*Wo*N)`` of the input ``x`` (N, C, H, W)."""
    xp = xp_of(x)
    xt = _to_chwn(x, geo)
    if geo.unit:
        return xt.reshape(geo.C, -1)
    s0, s1, s2, s3 = xt.strides
    win = _as_strided(xp, xt, (geo.C, geo.kh, geo.kw, geo.Ho, geo.Wo, geo.N),
                      (s0, geo.dh * s1, geo.dw * s2, geo.sh * s1, geo.sw * s2, s3))
    return xp.ascontiguousarray(win).reshape(geo.C * geo.kh * geo.kw, -1)


def _grad_rows(g, geo):
    """``g`` (N, O, Ho, Wo) as ``(O, Ho*Wo*N)``."""
    xp = xp_of(g)
    return xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(geo.O, -1)


def _row_flat(g2, geo):
    """``(O, Ho*Wo*N)`` rows as row-flat ``(O, Ho*Wp*N)`` (zeros in the columns past ``Wo``)."""
    xp = xp_of(g2)
    out = xp.zeros((geo.O, geo.Ho, geo.Wp, geo.N), dtype=g2.dtype)
    out[:, :, :geo.Wo, :] = g2.reshape(geo.O, geo.Ho, geo.Wo, geo.N)
    return out.reshape(geo.O, -1)


def _col2im(dcols, geo, flat):
    """Fold the column gradient back into an input gradient ``(N, C, H, W)``."""
    xp = xp_of(dcols)
    C, N, H, W = geo.C, geo.N, geo.H, geo.W
    kh, kw, dh, dw = geo.kh, geo.kw, geo.dh, geo.dw
    Hp, Wp, Ho, Wo = geo.Hp, geo.Wp, geo.Ho, geo.Wo
    if geo.unit:
        dxt = dcols.reshape(C, H, W, N)
    elif flat:
        L = Ho * Wp * N
        dc = dcols.reshape(C, kh, kw, L)
        buf = xp.zeros((C, (Hp * Wp + (kw - 1) * dw) * N), dtype=dcols.dtype)
        for p in range(kh):
            for q in range(kw):
                s = (p * dh * Wp + q * dw) * N
                buf[:, s:s + L] += dc[:, p, q]
        dxt = buf[:, :Hp * Wp * N].reshape(C, Hp, Wp, N)
    else:
        dc = dcols.reshape(C, kh, kw, Ho, Wo, N)
        dxt = xp.zeros((C, Hp, Wp, N), dtype=dcols.dtype)
        hs, ws = geo.sh * (Ho - 1) + 1, geo.sw * (Wo - 1) + 1
        for p in range(kh):
            for q in range(kw):
                h0, w0 = p * dh, q * dw
                dxt[:, h0:h0 + hs:geo.sh, w0:w0 + ws:geo.sw, :] += dc[:, p, q]
    dxt = dxt[:, geo.pt:geo.pt + H, geo.pl:geo.pl + W, :]
    return xp.ascontiguousarray(dxt.transpose(3, 0, 1, 2))


def _forward(x, w, b, geo):
    xp = xp_of(x)
    cols = _im2col(x, geo)
    G, O = geo.G, geo.O
    if G == 1:
        out = w.reshape(O, -1) @ cols
    else:
        out = (w.reshape(G, O // G, -1) @ cols.reshape(G, -1, cols.shape[1])).reshape(O, -1)
    if b is not None:
        out += b.reshape(O, 1)
    out = out.reshape(O, geo.Ho, geo.Wo, geo.N)
    return xp.ascontiguousarray(out.transpose(3, 0, 1, 2)), cols


class ConvolutionBackward0(Node):
    """Backward of the convolutions (input, weight and bias gradients)."""

    def backward(self, g):
        x, w = self.saved_tensors
        geo = self.geo
        nexts = self.next_functions
        wd = w._data
        if self.unbatched:
            g = g[None]
        G, O = geo.G, geo.O
        need_x = nexts[0] is not None
        need_w = nexts[1] is not None
        need_b = len(nexts) == 3 and nexts[2] is not None
        flat = geo.sh == 1 and geo.sw == 1 and not geo.unit
        gx = gw = gb = None
        g2 = _grad_rows(g, geo)
        if need_w or need_b:
            if need_b:
                gb = g2.sum(axis=1)
            if need_w:
                cols = self.cols
                if cols is None:
                    cols = _im2col(x._data if not self.unbatched else x._data[None], geo)
                if G == 1:
                    gw = (cols @ g2.T).T.reshape(wd.shape)
                else:
                    cg = cols.reshape(G, -1, cols.shape[1])
                    gg = g2.reshape(G, O // G, -1)
                    gw = (cg @ gg.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(wd.shape)
        if need_x:
            gr = _row_flat(g2, geo) if flat else g2
            if G == 1:
                dcols = wd.reshape(O, -1).T @ gr
            else:
                dcols = (wd.reshape(G, O // G, -1).transpose(0, 2, 1)
                         @ gr.reshape(G, O // G, -1)).reshape(-1, gr.shape[1])
            gx = _col2im(dcols, geo, flat)
            if self.unbatched:
                gx = gx[0]
        return (gx, gw, gb) if len(nexts) == 3 else (gx, gw)

    def release(self):
        super().release()
        self.cols = None


def _conv_padding(padding, stride, dilation, ksize, fn="conv2d", n=2):
    """``(top, bottom, left, right)`` (or 1-D equivalent) from an int/tuple/'same'/'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for d, k in zip(dilation, ksize):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    p = pair(padding, "padding", n)
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    out = []
    for v in p:
        out += [v, v]
    return tuple(out)


def _check_conv_args(input, weight, bias, groups, fn):
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    xd, wd = input._data, weight._data
    if xd.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to {fn}, but got input "
                           f"of size: {list(xd.shape)}")
    if wd.ndim != 4:
        raise RuntimeError(f"weight should have at least three dimensions; expected 4-D weight for "
                           f"{fn}, got weight of size {list(wd.shape)}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    shape4 = xd.shape if xd.ndim == 4 else (1,) + xd.shape
    C = shape4[1]
    if wd.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(wd.shape)} instead")
    if C != wd.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(wd.shape)}, expected "
                           f"input{list(xd.shape)} to have {wd.shape[1] * groups} channels, but "
                           f"got {C} channels instead")
    if xd.dtype != wd.dtype:
        raise RuntimeError(f"Input type ({dtype_kind_name(xd.dtype)}) and weight type "
                           f"({dtype_kind_name(wd.dtype)}) should be the same")
    if type(xd) is not type(wd):
        check_same_device(input, weight)
    if bias is not None:
        bd = bias._data
        if bd.ndim != 1 or bd.shape[0] != wd.shape[0]:
            raise RuntimeError(f"Given weight of size {list(wd.shape)}, expected bias to be "
                               f"1-dimensional with {wd.shape[0]} elements, but got bias of size "
                               f"{list(bd.shape)} instead")
        if bd.dtype != xd.dtype:
            raise RuntimeError(f"Input type ({dtype_kind_name(xd.dtype)}) and bias type "
                               f"({dtype_kind_name(bd.dtype)}) should be the same")
    return shape4


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) of ``(N, C, H, W)`` or ``(C, H, W)`` input with weight
    ``(O, C/groups, kh, kw)``; ``padding`` is an int, a pair, ``'same'`` or ``'valid'``."""
    shape4 = _check_conv_args(input, weight, bias, groups, "conv2d")
    wd = weight._data
    stride = pair(stride, "stride")
    dilation = pair(dilation, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    pads = _conv_padding(padding, stride, dilation, wd.shape[2:])
    geo = _Geometry(shape4, wd.shape, stride, pads, dilation, groups)
    if geo.Hp < geo.dh * (geo.kh - 1) + 1 or geo.Wp < geo.dw * (geo.kw - 1) + 1:
        raise RuntimeError(f"Calculated padded input size per channel: ({geo.Hp} x {geo.Wp}). "
                           f"Kernel size: ({geo.dh * (geo.kh - 1) + 1} x "
                           f"{geo.dw * (geo.kw - 1) + 1}). Kernel size can't be greater than "
                           f"actual input size")
    xd = input._data
    unbatched = xd.ndim == 3
    x4 = xd[None] if unbatched else xd
    out, cols = _forward(x4, wd, None if bias is None else bias._data, geo)
    if unbatched:
        out = out[0]
    if _state.enabled and (input._requires_grad or weight._requires_grad
                           or (bias is not None and bias._requires_grad)):
        inputs = (input, weight) if bias is None else (input, weight, bias)
        node = ConvolutionBackward0(inputs)
        node.save(input, weight)
        node.geo = geo
        node.unbatched = unbatched
        keep = weight._requires_grad and cols.nbytes <= SAVE_COLS_LIMIT
        node.cols = cols if keep else None
        return _from_node(out, node)
    return _wrap(out)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution of ``(N, C, L)`` or ``(C, L)`` input with weight ``(O, C/groups, k)``
    (computed as a 2-D convolution with a height-1 kernel)."""
    check_tensor(input, "input", "conv1d")
    check_tensor(weight, "weight", "conv1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got "
                           f"input of size: {list(input.shape)}")
    if weight.ndim != 3:
        raise RuntimeError(f"expected 3-D weight for conv1d, got weight of size "
                           f"{list(weight.shape)}")
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, pair(padding, "padding", 1)[0])
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, pair(stride, "stride", 1)[0]),
                 pad2, (1, pair(dilation, "dilation", 1)[0]), groups)
    return out.squeeze(-2)
