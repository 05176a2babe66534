"""Convolutions: ``conv2d`` (and ``conv1d`` through it) by im2col + one matrix product; the
transposed convolutions ``conv_transpose2d``/``conv_transpose1d`` (the input gradient of a
convolution, so its backward formulas with the roles swapped); ``unfold``/``fold`` (im2col and
col2im as differentiable ops, each the other's backward).

Layout. Internally the images are held "CHWN" (batch innermost): the input is copied once into
a zero-padded ``(C, Hp, Wp, N)`` buffer, so every window copy moves runs of ``Wo*N``
contiguous values (NCHW windows would move runs of ``Wo``, and NumPy's per-run overhead would
dominate on small images). The columns are a ``(C*kh*kw, Ho*Wo*N)`` matrix, the product is one
GEMM per group, and its ``(O, Ho, Wo, N)`` result is transposed back to NCHW.

Backward: the weight gradient is one GEMM with the saved columns; the input gradient is the
column gradient ``W.T @ g`` folded back (col2im). For stride 1 the column gradient is computed
"row-flat" (over full padded rows, the ``Wp - Wo`` extra columns being zero), which turns
col2im into ``kh*kw`` adds of long contiguous runs; other strides add through strided views.
Double backward (``graph_backward``) uses the transposed convolution for the input gradient and
``unfold`` plus a batched matmul for the weight gradient.
"""
from __future__ import annotations

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_same_device
from ._util import check_tensor, dtype_kind_name, pair, requires_grad, xp_of

_wrap = Tensor._wrap


# Columns up to this size are kept from the forward for the weight gradient; bigger ones are
# rebuilt in the backward (they hold kh*kw times the input).
SAVE_COLS_LIMIT = 64 * 2 ** 20


def _as_strided(xp, arr, shape, strides):
    return xp.lib.stride_tricks.as_strided(arr, shape=shape, strides=strides)


class _Geometry:
    """Sizes of one convolution call (all plain ints): the image ``(N, C, H, W)``, the kernel,
    ``O`` output channels and the output size ``(Ho, Wo)``, computed unless ``out_size`` gives
    it (a transposed convolution: its input is the output of this convolution)."""
    __slots__ = ("N", "C", "H", "W", "O", "G", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pb",
                 "pl", "pr", "Hp", "Wp", "Ho", "Wo", "unit")

    def __init__(self, xshape, ksize, O, stride, pads, dilation, groups, out_size=None):
        self.N, self.C, self.H, self.W = xshape
        self.kh, self.kw = ksize
        self.O = O
        self.G = groups
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pt, self.pb, self.pl, self.pr = pads
        self.Hp = self.H + self.pt + self.pb
        self.Wp = self.W + self.pl + self.pr
        if out_size is None:
            self.Ho = (self.Hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
            self.Wo = (self.Wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        else:
            self.Ho, self.Wo = out_size
        # 1x1, stride 1, no padding (nor an output cut short): the transposed input is the
        # column matrix
        self.unit = (self.kh == 1 and self.kw == 1 and self.sh == 1 and self.sw == 1
                     and self.Hp == self.H and self.Wp == self.W
                     and self.Ho == self.H and self.Wo == self.W)

    def sizes(self) -> str:
        """``kernel_size=(..), dilation=(..), padding=(..)`` as PyTorch's messages print them."""
        return (f"kernel_size=({self.kh}, {self.kw}), dilation=({self.dh}, {self.dw}), "
                f"padding=({self.pt}, {self.pl})")


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
    """An output-space array ``g`` (N, O, Ho, Wo) as rows ``(O, Ho*Wo*N)``."""
    xp = xp_of(g)
    return xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(geo.O, -1)


def _from_rows(rows, geo):
    """Rows ``(O, Ho*Wo*N)`` back as ``(N, O, Ho, Wo)``."""
    xp = xp_of(rows)
    return xp.ascontiguousarray(rows.reshape(geo.O, geo.Ho, geo.Wo, geo.N).transpose(3, 0, 1, 2))


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


def _apply_weight(w, cols, geo):
    """The output rows ``(O, Ho*Wo*N)`` of the columns: one GEMM per group."""
    G, O = geo.G, geo.O
    if G == 1:
        return w.reshape(O, -1) @ cols
    return (w.reshape(G, O // G, -1) @ cols.reshape(G, -1, cols.shape[1])).reshape(O, -1)


def _weight_grad(cols, g2, geo, wshape):
    """The weight gradient from the image's columns and the output-space rows ``g2``."""
    G, O = geo.G, geo.O
    if G == 1:
        return (cols @ g2.T).T.reshape(wshape)
    cg = cols.reshape(G, -1, cols.shape[1])
    gg = g2.reshape(G, O // G, -1)
    return (cg @ gg.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(wshape)


def _input_grad(g2, w, geo):
    """The image-space ``(N, C, H, W)`` result of output-space rows ``g2``: ``W.T @ g2`` folded
    back (col2im); the input gradient of a convolution, the forward of a transposed one."""
    flat = geo.sh == 1 and geo.sw == 1 and not geo.unit
    gr = _row_flat(g2, geo) if flat else g2
    G, O = geo.G, geo.O
    if G == 1:
        dcols = w.reshape(O, -1).T @ gr
    else:
        dcols = (w.reshape(G, O // G, -1).transpose(0, 2, 1)
                 @ gr.reshape(G, O // G, -1)).reshape(-1, gr.shape[1])
    return _col2im(dcols, geo, flat)


def _forward(x, w, b, geo):
    cols = _im2col(x, geo)
    out = _apply_weight(w, cols, geo)
    if b is not None:
        out += b.reshape(geo.O, 1)
    return _from_rows(out, geo), cols


def _transposed_forward(x, w, b, geo):
    out = _input_grad(_grad_rows(x, geo), w, geo)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


class ConvolutionBackward0(Node):
    """Backward of the convolutions and the transposed convolutions (input, weight and bias
    gradients). A transposed convolution is the input gradient of the convolution ``geo``
    describes, so both use the same formulas with the image and output roles swapped."""

    def backward(self, g):
        x, w = self.saved_tensors
        geo = self.geo
        nexts = self.next_functions
        wd, xd = w._data, x._data
        if self.unbatched:
            g, xd = g[None], xd[None]
        need_x = nexts[0] is not None
        need_w = nexts[1] is not None
        need_b = len(nexts) == 3 and nexts[2] is not None
        gx = gw = gb = None
        if self.transposed:          # g is image-space, x output-space
            if need_b:
                gb = g.sum(axis=(0, 2, 3))
            if need_x or need_w:
                cols = _im2col(g, geo)
                if need_x:
                    gx = _from_rows(_apply_weight(wd, cols, geo), geo)
                if need_w:
                    gw = _weight_grad(cols, _grad_rows(xd, geo), geo, wd.shape)
        else:
            g2 = _grad_rows(g, geo)
            if need_b:
                gb = g2.sum(axis=1)
            if need_w:
                cols = self.cols if self.cols is not None else _im2col(xd, geo)
                gw = _weight_grad(cols, g2, geo, wd.shape)
            if need_x:
                gx = _input_grad(g2, wd, geo)
        if self.unbatched and gx is not None:
            gx = gx[0]
        return (gx, gw, gb) if len(nexts) == 3 else (gx, gw)

    def graph_backward(self, g):
        x, w = self.saved_tensors
        geo = self.geo
        nexts = self.next_functions
        gx = gw = gb = None
        if nexts[0] is not None:
            gx = _convolution(g, w, None, geo, not self.transposed)
        if self.unbatched:
            g, x = g.unsqueeze(0), x.unsqueeze(0)
        if nexts[1] is not None:
            image, rows = (g, x) if self.transposed else (x, g)
            gw = _weight_grad_tensor(image, rows, geo, w.shape)
        if len(nexts) == 3 and nexts[2] is not None:
            gb = g.sum((0, 2, 3))
        return (gx, gw, gb) if len(nexts) == 3 else (gx, gw)

    def release(self):
        """Drop the saved tensors and im2col columns (after backward without retain_graph)."""
        super().release()
        self.cols = None


def _convolution(input, weight, bias, geo, transposed) -> Tensor:
    """The convolution ``geo`` describes (``transposed``: its input gradient, from the output
    space to the image space) of a batched or unbatched input, as one node."""
    xd = input._data
    unbatched = xd.ndim == 3
    x4 = xd[None] if unbatched else xd
    wd = weight._data
    bd = None if bias is None else bias._data
    if transposed:
        out, cols = _transposed_forward(x4, wd, bd, geo), None
    else:
        out, cols = _forward(x4, wd, bd, geo)
    if unbatched:
        out = out[0]
    if _state.enabled and requires_grad(input, weight, bias):
        inputs = (input, weight) if bias is None else (input, weight, bias)
        node = ConvolutionBackward0(inputs)
        node.save(input, weight)
        node.geo, node.unbatched, node.transposed = geo, unbatched, transposed
        keep = cols is not None and weight._requires_grad and cols.nbytes <= SAVE_COLS_LIMIT
        node.cols = cols if keep else None
        return _from_node(out, node)
    return _wrap(out)


def _weight_grad_tensor(image, rows, geo, wshape) -> Tensor:
    """``_weight_grad`` on tensors (for double backward): the blocks of ``image``
    (N, C, H, W) against the output-space ``rows`` (N, O, Ho, Wo), summed over the batch."""
    N, G, O = geo.N, geo.G, geo.O
    cols = _unfold(image, geo)
    L = cols.shape[-1]
    gw = rows.reshape(N, G, O // G, L).matmul(cols.reshape(N, G, -1, L).transpose(-1, -2))
    return gw.sum(0).reshape(wshape)


# --------------------------------------------------------------------------------------------
# unfold / fold (im2col / col2im on tensors)
# --------------------------------------------------------------------------------------------
def _unfold_array(x, geo):
    """The sliding blocks of ``x`` (N, C, H, W) or (C, H, W) as a new array
    ``(N, C*kh*kw, Ho*Wo)`` (or ``(C*kh*kw, Ho*Wo)``)."""
    xp = xp_of(x)
    unbatched = x.ndim == 3
    cols = _im2col(x[None] if unbatched else x, geo)
    out = xp.empty((geo.N, cols.shape[0], geo.Ho * geo.Wo), dtype=x.dtype)
    out[...] = cols.reshape(cols.shape[0], -1, geo.N).transpose(2, 0, 1)
    return out[0] if unbatched else out


def _fold_array(c, geo):
    """Blocks ``c`` (N, C*kh*kw, Ho*Wo) or (C*kh*kw, Ho*Wo) summed back into a new array
    ``(N, C, H, W)`` (or ``(C, H, W)``)."""
    unbatched = c.ndim == 2
    c3 = c[None] if unbatched else c
    out = _col2im(c3.transpose(1, 2, 0), geo, False)
    if geo.unit:   # a reshaped view of ``c``
        out = out.copy()
    return out[0] if unbatched else out


class Im2ColBackward0(Node):
    """Backward of ``unfold``: the gradient folded back (col2im)."""

    def backward(self, g):
        return (_fold_array(g, self.geo),)

    def graph_backward(self, g):
        return (_fold(g, self.geo),)


class Col2ImBackward0(Node):
    """Backward of ``fold``: the blocks of the gradient (im2col)."""

    def backward(self, g):
        return (_unfold_array(g, self.geo),)

    def graph_backward(self, g):
        return (_unfold(g, self.geo),)


def _block_op(input, geo, array_fn, node_cls) -> Tensor:
    out = array_fn(input._data, geo)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.geo = geo
        return _from_node(out, node)
    return _wrap(out)


def _unfold(input, geo) -> Tensor:
    return _block_op(input, geo, _unfold_array, Im2ColBackward0)


def _fold(input, geo) -> Tensor:
    return _block_op(input, geo, _fold_array, Col2ImBackward0)


def _block_args(kernel_size, dilation, padding, stride):
    """Validated ``(kernel, dilation, pads, stride)`` of ``unfold``/``fold``."""
    k = _exact_pair(kernel_size, "kernel_size")
    d = _exact_pair(dilation, "dilation")
    p = _exact_pair(padding, "padding")
    s = _exact_pair(stride, "stride")
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{k[0]} kernel_width: {k[1]}")
    if min(s) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} "
                           f"stride_width: {s[1]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: "
                           f"{d[0]} dilation_width: {d[1]}")
    if min(p) < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} "
                           f"pad_width: {p[1]}")
    return k, d, (p[0], p[0], p[1], p[1]), s


def _exact_pair(value, name):
    """``torch.nn.modules.utils._pair`` with PyTorch's length check of ``im2col``/``col2im``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * 2


def _check_blocks(geo, what):
    if geo.Ho < 1 or geo.Wo < 1:
        raise RuntimeError(f"Given {what}, {geo.sizes()}, calculated shape of the array of "
                           f"sliding blocks as ({geo.Ho}, {geo.Wo}), but its components must "
                           f"be at least one.")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks of ``(N, C, H, W)`` (or ``(C, H, W)``) input as columns
    ``(N, C*kh*kw, L)``, ``L`` the number of blocks (im2col)."""
    check_tensor(input, "input", "unfold")
    xd = input._data
    if xd.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got: {list(xd.shape)}")
    k, d, pads, s = _block_args(kernel_size, dilation, padding, stride)
    shape4 = xd.shape if xd.ndim == 4 else (1,) + xd.shape
    geo = _Geometry(shape4, k, 0, s, pads, d, 1)
    _check_blocks(geo, f"input with spatial size ({geo.H}, {geo.W})")
    return _unfold(input, geo)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding local blocks ``(N, C*kh*kw, L)`` (or ``(C*kh*kw, L)``) into an
    ``(N, C, *output_size)`` tensor (col2im; the adjoint of ``unfold``)."""
    check_tensor(input, "input", "fold")
    xd = input._data
    if xd.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch "
                           f"size and non-zero dimensions for input, but got: {list(xd.shape)}")
    H, W = _exact_pair(output_size, "output_size")
    k, d, pads, s = _block_args(kernel_size, dilation, padding, stride)
    ckk, L = xd.shape[-2:]
    dim = xd.ndim - 2
    if ckk % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension {dim} to be divisible by the "
                           f"product of kernel_size, but got input.size({dim})={ckk} and "
                           f"kernel_size=({k[0]}, {k[1]}).")
    N = xd.shape[0] if xd.ndim == 3 else 1
    geo = _Geometry((N, ckk // (k[0] * k[1]), H, W), k, 0, s, pads, d, 1)
    what = f"output_size=({H}, {W})"
    if geo.Ho * geo.Wo != L:
        raise RuntimeError(f"Given {what}, {geo.sizes()}, stride=({s[0]}, {s[1]}), expected size "
                           f"of input's dimension {dim + 1} to match the calculated number of "
                           f"sliding blocks {geo.Ho} * {geo.Wo} = {geo.Ho * geo.Wo}, but got "
                           f"input.size({dim + 1})={L}.")
    _check_blocks(geo, what)
    return _fold(input, geo)


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


def _check_conv_args(input, weight, bias, groups, fn, transposed=False):
    """PyTorch's checks of a (transposed) convolution's arguments; the input shape as 4-D."""
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
    wsize = [list(wd.shape)] if transposed else list(wd.shape)  # PyTorch prints [[...]] there
    if wd.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {wsize} instead")
    if transposed:
        given = "Given transposed=1, "
        channels, out_channels = wd.shape[0], wd.shape[1] * groups
    else:
        given = f"Given groups={groups}, "
        channels, out_channels = wd.shape[1] * groups, wd.shape[0]
    if C != channels:
        raise RuntimeError(f"{given}weight of size {list(wd.shape)}, expected "
                           f"input{list(xd.shape)} to have {channels} channels, but got {C} "
                           f"channels instead")
    if xd.dtype != wd.dtype:
        raise RuntimeError(f"Input type ({dtype_kind_name(xd.dtype)}) and weight type "
                           f"({dtype_kind_name(wd.dtype)}) should be the same")
    if type(xd) is not type(wd):
        check_same_device(input, weight)
    if bias is not None:
        bd = bias._data
        if bd.ndim != 1 or bd.shape[0] != out_channels:
            given = "Given transposed=1, " if transposed else "Given "
            raise RuntimeError(f"{given}weight of size {list(wd.shape)}, expected bias to be "
                               f"1-dimensional with {out_channels} elements, but got bias of size "
                               f"{list(bd.shape)} instead")
        if bd.dtype != xd.dtype:
            raise RuntimeError(f"Input type ({dtype_kind_name(xd.dtype)}) and bias type "
                               f"({dtype_kind_name(bd.dtype)}) should be the same")
    return shape4


def _stride_dilation(stride, dilation):
    """``stride`` and ``dilation`` as validated pairs."""
    stride = pair(stride, "stride")
    dilation = pair(dilation, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    return stride, dilation


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) of ``(N, C, H, W)`` or ``(C, H, W)`` input with weight
    ``(O, C/groups, kh, kw)``; ``padding`` is an int, a pair, ``'same'`` or ``'valid'``."""
    shape4 = _check_conv_args(input, weight, bias, groups, "conv2d")
    wd = weight._data
    stride, dilation = _stride_dilation(stride, dilation)
    pads = _conv_padding(padding, stride, dilation, wd.shape[2:])
    geo = _Geometry(shape4, wd.shape[2:], wd.shape[0], stride, pads, dilation, groups)
    if geo.Hp < geo.dh * (geo.kh - 1) + 1 or geo.Wp < geo.dw * (geo.kw - 1) + 1:
        raise RuntimeError(f"Calculated padded input size per channel: ({geo.Hp} x {geo.Wp}). "
                           f"Kernel size: ({geo.dh * (geo.kh - 1) + 1} x "
                           f"{geo.dw * (geo.kw - 1) + 1}). Kernel size can't be greater than "
                           f"actual input size")
    return _convolution(input, weight, bias, geo, False)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 2-D convolution (the input gradient of ``conv2d``) of ``(N, C_in, H, W)`` or
    ``(C_in, H, W)`` input with weight ``(C_in, C_out/groups, kh, kw)``: the output has
    ``(H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1`` rows (columns
    likewise)."""
    shape4 = _check_conv_args(input, weight, bias, groups, "conv_transpose2d", transposed=True)
    if isinstance(padding, str):
        raise TypeError("conv_transpose2d(): argument 'padding' must be tuple of ints, not str")
    wd = weight._data
    stride, dilation = _stride_dilation(stride, dilation)
    pads = _conv_padding(padding, stride, dilation, wd.shape[2:])
    opad = pair(output_padding, "output_padding")
    if any(o < 0 for o in opad):
        raise RuntimeError("negative output_padding is not supported")
    if any(o >= s and o >= d for o, s, d in zip(opad, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got output_padding_height: {opad[0]} output_padding_width: {opad[1]} "
                           f"stride_height: {stride[0]} stride_width: {stride[1]} "
                           f"dilation_height: {dilation[0]} dilation_width: {dilation[1]}")
    N, _, H, W = shape4
    size = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
            zip((H, W), stride, pads[::2], dilation, wd.shape[2:], opad)]
    if min(size) <= 0:
        raise RuntimeError(f"Given input size per channel: ({H} x {W}). Calculated output size "
                           f"per channel: ({size[0]} x {size[1]}). Output size is too small")
    geo = _Geometry((N, wd.shape[1] * groups, *size), wd.shape[2:], wd.shape[0], stride, pads,
                    dilation, groups, out_size=(H, W))
    return _convolution(input, weight, bias, geo, True)


def _check_1d(input, weight, fn):
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to {fn}, but got "
                           f"input of size: {list(input.shape)}")
    if weight.ndim != 3:
        raise RuntimeError(f"expected 3-D weight for {fn}, got weight of size "
                           f"{list(weight.shape)}")


def _widen(value, name, height):
    """A 1-D ``stride``/``padding``/... as the pair ``(height, value)``."""
    return (height, pair(value, name, 1)[0])


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution of ``(N, C, L)`` or ``(C, L)`` input with weight ``(O, C/groups, k)``
    (computed as a 2-D convolution with a height-1 kernel)."""
    _check_1d(input, weight, "conv1d")
    pad2 = padding if isinstance(padding, str) else _widen(padding, "padding", 0)
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, _widen(stride, "stride", 1),
                 pad2, _widen(dilation, "dilation", 1), groups)
    return out.squeeze(-2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 1-D convolution of ``(N, C_in, L)`` or ``(C_in, L)`` input with weight
    ``(C_in, C_out/groups, k)`` (a transposed 2-D convolution with a height-1 kernel)."""
    _check_1d(input, weight, "conv_transpose1d")
    if isinstance(padding, str):
        raise TypeError("conv_transpose1d(): argument 'padding' must be tuple of ints, not str")
    out = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias,
                           _widen(stride, "stride", 1), _widen(padding, "padding", 0),
                           _widen(output_padding, "output_padding", 0), groups,
                           _widen(dilation, "dilation", 1))
    return out.squeeze(-2)
