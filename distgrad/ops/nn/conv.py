"""Convolutions over 1, 2 or 3 spatial dims: ``conv1d``/``conv2d``/``conv3d`` by im2col + one
matrix product; the transposed convolutions ``conv_transpose1d``/``2d``/``3d`` (the input
gradient of a convolution, so its backward formulas with the roles swapped); ``unfold``/``fold``
(2-D im2col and col2im as differentiable ops, each the other's backward). One N-d
implementation serves every dimensionality; the public functions are thin wrappers.

Layout. Internally the images are held "C*N" (channels first, batch innermost): the input is
copied once into a zero-padded ``(C, *padded, N)`` buffer, so every window copy moves runs of
``Wo*N`` contiguous values (NCHW windows would move runs of ``Wo``, and NumPy's per-run
overhead would dominate on small images). The columns are a ``(C*prod(k), prod(out)*N)``
matrix, the product is one GEMM per group, and its ``(O, *out, N)`` result is transposed back
to ``(N, O, *out)``.

Backward: the weight gradient is one GEMM with the saved columns; the input gradient is the
column gradient ``W.T @ g`` folded back (col2im). For stride 1 the column gradient is computed
"row-flat" (over the padded extent of every dim but the first, the extra positions being zero),
which turns col2im into ``prod(k)`` adds of long contiguous runs; other strides add through
strided views. Double backward (``graph_backward``) uses the transposed convolution for the
input gradient and ``unfold`` plus a batched matmul for the weight gradient.
"""
from __future__ import annotations

import itertools
import math
from operator import mul

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_same_device, sum_last
from ._util import check_tensor, dtype_kind_name, pair, requires_grad, xp_of

_wrap = Tensor._wrap


# Columns up to this size are kept from the forward for the weight gradient; bigger ones are
# rebuilt in the backward (they hold prod(k) times the input).
SAVE_COLS_LIMIT = 64 * 2 ** 20

# PyTorch's names of the spatial dims in messages, by their number
_DIM_NAMES = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _as_strided(xp, arr, shape, strides):
    return xp.lib.stride_tricks.as_strided(arr, shape=shape, strides=strides)


def window_slices(kernel, stride, dilation, out, lead):
    """For each kernel offset (in row-major order), the index ``(lead, *slices)`` that picks
    that tap of every window: ``out`` windows per dim, ``stride`` apart, with taps ``dilation``
    apart (``lead`` indexes the dims before the windowed ones)."""
    per_dim = [[slice(o * d, o * d + s * (n - 1) + 1, s) for o in range(k)]
               for k, d, s, n in zip(kernel, dilation, stride, out)]
    return itertools.product((lead,), *per_dim)


def _sizes_str(sizes) -> str:
    """``(3 x 4 x 5)``, as PyTorch prints spatial sizes."""
    return "(" + " x ".join(str(s) for s in sizes) + ")"


class _Geometry:
    """Sizes of one convolution call over ``n`` spatial dims (plain ints and tuples): the image
    ``(N, C, *size)``, the kernel ``k``, ``O`` output channels, the zero-padded size and the
    output size ``out``, computed unless ``out_size`` gives it (a transposed convolution: its
    input is the output of this convolution). ``pads`` is ``(lo0, hi0, lo1, hi1, ...)``."""
    __slots__ = ("n", "N", "C", "O", "G", "size", "k", "stride", "dil", "lo", "padded", "out",
                 "unit", "interior")

    def __init__(self, xshape, ksize, O, stride, pads, dilation, groups, out_size=None):
        self.N, self.C = xshape[:2]
        self.size = size = tuple(xshape[2:])
        self.n = len(size)
        self.k, self.stride, self.dil = tuple(ksize), tuple(stride), tuple(dilation)
        self.O = O
        self.G = groups
        self.lo = pads[0::2]
        # (one loop, not a generator per attribute: this runs at every call)
        padded, interior, out = [], [], []
        for s, lo, hi, k, d, t in zip(size, self.lo, pads[1::2], self.k, self.dil, self.stride):
            padded.append(s + lo + hi)
            interior.append(slice(lo, lo + s))    # the image inside its zero-padded extent
            out.append((s + lo + hi - d * (k - 1) - 1) // t + 1)
        self.padded, self.interior = tuple(padded), tuple(interior)
        self.out = tuple(out) if out_size is None else tuple(out_size)
        # 1x1, stride 1, no padding (nor an output cut short): the transposed input is the
        # column matrix
        ones = (1,) * self.n
        self.unit = self.k == self.stride == ones and self.padded == size and self.out == size

    def sizes(self) -> str:
        """``kernel_size=(..), dilation=(..), padding=(..)`` as PyTorch's messages print them."""
        def tup(v):
            return ", ".join(str(x) for x in v)
        return f"kernel_size=({tup(self.k)}), dilation=({tup(self.dil)}), padding=({tup(self.lo)})"


def _to_cn(x, geo):
    """``x`` (N, C, *size) as a zero-padded ``(C, *padded, N)`` array."""
    xp = xp_of(x)
    xt = x.transpose(*range(1, geo.n + 2), 0)
    if geo.padded == geo.size:
        return xp.ascontiguousarray(xt)
    buf = xp.zeros((geo.C, *geo.padded, geo.N), dtype=x.dtype)
    buf[(slice(None), *geo.interior)] = xt
    return buf


def _im2col(x, geo):
    """Columns ``(C*prod(k), prod(out)*N)`` of the input ``x`` (N, C, *size)."""
    xp = xp_of(x)
    xt = _to_cn(x, geo)
    if geo.unit:
        return xt.reshape(geo.C, -1)
    sc, *sp, sn = xt.strides
    win = _as_strided(xp, xt, (geo.C, *geo.k, *geo.out, geo.N),
                      (sc, *map(mul, geo.dil, sp), *map(mul, geo.stride, sp), sn))
    return xp.ascontiguousarray(win).reshape(geo.C * math.prod(geo.k), -1)


def _grad_rows(g, geo):
    """An output-space array ``g`` (N, O, *out) as rows ``(O, prod(out)*N)``."""
    xp = xp_of(g)
    return xp.ascontiguousarray(g.transpose(*range(1, geo.n + 2), 0)).reshape(geo.O, -1)


def _from_rows(rows, geo):
    """Rows ``(O, prod(out)*N)`` back as ``(N, O, *out)``."""
    xp = xp_of(rows)
    return xp.ascontiguousarray(rows.reshape(geo.O, *geo.out, geo.N)
                                .transpose(geo.n + 1, *range(geo.n + 1)))


def _row_flat(g2, geo):
    """``(O, prod(out)*N)`` rows as row-flat ``(O, out[0]*prod(padded[1:])*N)`` (zeros past
    the output in every dim but the first)."""
    if geo.out[1:] == geo.padded[1:]:
        return g2
    xp = xp_of(g2)
    out = xp.zeros((geo.O, geo.out[0], *geo.padded[1:], geo.N), dtype=g2.dtype)
    out[(slice(None), slice(None), *[slice(o) for o in geo.out[1:]])] = \
        g2.reshape(geo.O, *geo.out, geo.N)
    return out.reshape(geo.O, -1)


def _col2im(dcols, geo, flat):
    """Fold the column gradient back into an input gradient ``(N, C, *size)``."""
    xp = xp_of(dcols)
    C, N, K = geo.C, geo.N, math.prod(geo.k)
    if geo.unit:
        dxt = dcols.reshape(C, *geo.size, N)
    elif flat:
        # the strides of the padded (C, *padded, N) image, and where each kernel tap's run of
        # L values starts (row-major order of the taps)
        steps = [N]
        for p in geo.padded[:0:-1]:
            steps.insert(0, steps[0] * p)
        starts = [0]
        for k, d, st in zip(geo.k, geo.dil, steps):
            starts = [s + o * d * st for s in starts for o in range(k)]
        L = geo.out[0] * steps[0]
        n_in = geo.padded[0] * steps[0]
        dc = dcols.reshape(C, K, L)
        buf = xp.zeros((C, max(n_in, starts[-1] + L)), dtype=dcols.dtype)
        for t, s in enumerate(starts):
            buf[:, s:s + L] += dc[:, t]
        dxt = buf[:, :n_in].reshape(C, *geo.padded, N)
    else:
        dc = dcols.reshape(C, K, *geo.out, N)
        dxt = xp.zeros((C, *geo.padded, N), dtype=dcols.dtype)
        taps = window_slices(geo.k, geo.stride, geo.dil, geo.out, slice(None))
        for t, index in enumerate(taps):
            dxt[index] += dc[:, t]
    if geo.padded != geo.size:
        dxt = dxt[(slice(None), *geo.interior)]
    return xp.ascontiguousarray(dxt.transpose(geo.n + 1, *range(geo.n + 1)))


def _apply_weight(w, cols, geo):
    """The output rows ``(O, prod(out)*N)`` of the columns: one GEMM per group."""
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
    """The image-space ``(N, C, *size)`` result of output-space rows ``g2``: ``W.T @ g2``
    folded back (col2im); the input gradient of a convolution, the forward of a transposed
    one."""
    flat = geo.stride == (1,) * geo.n and not geo.unit
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
        out += b.reshape((1, -1) + (1,) * geo.n)
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
                gb = g.sum(axis=(0, *range(2, g.ndim)))
            if need_x or need_w:
                cols = _im2col(g, geo)
                if need_x:
                    gx = _from_rows(_apply_weight(wd, cols, geo), geo)
                if need_w:
                    gw = _weight_grad(cols, _grad_rows(xd, geo), geo, wd.shape)
        else:
            g2 = _grad_rows(g, geo)
            if need_b:
                gb = sum_last(g2)
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
            gb = g.sum((0, *range(2, g.ndim)))
        return (gx, gw, gb) if len(nexts) == 3 else (gx, gw)

    def release(self):
        """Drop the saved tensors and im2col columns (after backward without retain_graph)."""
        super().release()
        self.cols = None


def _convolution(input, weight, bias, geo, transposed) -> Tensor:
    """The convolution ``geo`` describes (``transposed``: its input gradient, from the output
    space to the image space) of a batched or unbatched input, as one node."""
    xd = input._data
    unbatched = xd.ndim == geo.n + 1
    xb = xd[None] if unbatched else xd
    wd = weight._data
    bd = None if bias is None else bias._data
    if transposed:
        out, cols = _transposed_forward(xb, wd, bd, geo), None
    else:
        out, cols = _forward(xb, wd, bd, geo)
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
    (N, C, *size) against the output-space ``rows`` (N, O, *out), summed over the batch."""
    N, G, O = geo.N, geo.G, geo.O
    cols = _unfold(image, geo)
    L = cols.shape[-1]
    gw = rows.reshape(N, G, O // G, L).matmul(cols.reshape(N, G, -1, L).transpose(-1, -2))
    return gw.sum(0).reshape(wshape)


# --------------------------------------------------------------------------------------------
# unfold / fold (im2col / col2im on tensors)
# --------------------------------------------------------------------------------------------
def _unfold_array(x, geo):
    """The sliding blocks of ``x`` (N, C, *size) or (C, *size) as a new array
    ``(N, C*prod(k), prod(out))`` (or ``(C*prod(k), prod(out))``)."""
    xp = xp_of(x)
    unbatched = x.ndim == geo.n + 1
    cols = _im2col(x[None] if unbatched else x, geo)
    out = xp.empty((geo.N, cols.shape[0], math.prod(geo.out)), dtype=x.dtype)
    out[...] = cols.reshape(cols.shape[0], -1, geo.N).transpose(2, 0, 1)
    return out[0] if unbatched else out


def _fold_array(c, geo):
    """Blocks ``c`` (N, C*prod(k), prod(out)) or (C*prod(k), prod(out)) summed back into a
    new array ``(N, C, *size)`` (or ``(C, *size)``)."""
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
    if min(geo.out) < 1:
        raise RuntimeError(f"Given {what}, {geo.sizes()}, calculated shape of the array of "
                           f"sliding blocks as ({geo.out[0]}, {geo.out[1]}), but its components "
                           f"must be at least one.")


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
    _check_blocks(geo, f"input with spatial size ({geo.size[0]}, {geo.size[1]})")
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
    Ho, Wo = geo.out
    if Ho * Wo != L:
        raise RuntimeError(f"Given {what}, {geo.sizes()}, stride=({s[0]}, {s[1]}), expected size "
                           f"of input's dimension {dim + 1} to match the calculated number of "
                           f"sliding blocks {Ho} * {Wo} = {Ho * Wo}, but got "
                           f"input.size({dim + 1})={L}.")
    _check_blocks(geo, what)
    return _fold(input, geo)


def _conv_padding(padding, stride, dilation, ksize, n):
    """``(lo0, hi0, lo1, hi1, ...)`` from an int, a tuple, ``'same'`` or ``'valid'``."""
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


def _check_conv_args(input, weight, bias, groups, fn, n, transposed=False):
    """PyTorch's checks of an ``n``-d (transposed) convolution's arguments; the input shape
    with its batch dim."""
    check_tensor(input, "input", fn)
    check_tensor(weight, "weight", fn)
    xd, wd = input._data, weight._data
    if xd.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {fn}, "
                           f"but got input of size: {list(xd.shape)}")
    if wd.ndim != n + 2:
        raise RuntimeError(f"weight should have at least three dimensions; expected {n + 2}-D "
                           f"weight for {fn}, got weight of size {list(wd.shape)}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    shape = xd.shape if xd.ndim == n + 2 else (1,) + xd.shape
    C = shape[1]
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
    return shape


def _stride_dilation(stride, dilation, n):
    """``stride`` and ``dilation`` as validated ``n``-tuples."""
    stride = pair(stride, "stride", n)
    dilation = pair(dilation, "dilation", n)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    return stride, dilation


def _conv(input, weight, bias, stride, padding, dilation, groups, n) -> Tensor:
    """The ``n``-d convolution behind ``conv1d``, ``conv2d`` and ``conv3d``."""
    shape = _check_conv_args(input, weight, bias, groups, f"conv{n}d", n)
    wd = weight._data
    ksize = wd.shape[2:]
    stride, dilation = _stride_dilation(stride, dilation, n)
    pads = _conv_padding(padding, stride, dilation, ksize, n)
    geo = _Geometry(shape, ksize, wd.shape[0], stride, pads, dilation, groups)
    if min(geo.out) < 1:
        span = [d * (k - 1) + 1 for d, k in zip(geo.dil, geo.k)]
        raise RuntimeError(f"Calculated padded input size per channel: {_sizes_str(geo.padded)}. "
                           f"Kernel size: {_sizes_str(span)}. Kernel size can't be greater than "
                           f"actual input size")
    return _convolution(input, weight, bias, geo, False)


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                    n) -> Tensor:
    """The ``n``-d transposed convolution behind ``conv_transpose1d``/``2d``/``3d``."""
    fn = f"conv_transpose{n}d"
    shape = _check_conv_args(input, weight, bias, groups, fn, n, transposed=True)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    wd = weight._data
    ksize = wd.shape[2:]
    stride, dilation = _stride_dilation(stride, dilation, n)
    pads = _conv_padding(padding, stride, dilation, ksize, n)
    opad = pair(output_padding, "output_padding", n)
    if any(o < 0 for o in opad):
        raise RuntimeError("negative output_padding is not supported")
    if any(o >= s and o >= d for o, s, d in zip(opad, stride, dilation)):
        got = " ".join(f"{what}_{dim}: {v}" for what, values in
                       (("output_padding", opad), ("stride", stride), ("dilation", dilation))
                       for dim, v in zip(_DIM_NAMES[n], values))
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got {got}")
    insize = shape[2:]
    size = [(i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in
            zip(insize, stride, pads[::2], dilation, ksize, opad)]
    if min(size) <= 0:
        raise RuntimeError(f"Given input size per channel: {_sizes_str(insize)}. Calculated "
                           f"output size per channel: {_sizes_str(size)}. Output size is too "
                           f"small")
    geo = _Geometry((shape[0], wd.shape[1] * groups, *size), ksize, wd.shape[0], stride, pads,
                    dilation, groups, out_size=insize)
    return _convolution(input, weight, bias, geo, True)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) of ``(N, C, L)`` or ``(C, L)`` input with weight
    ``(O, C/groups, k)``; ``padding`` is an int, a 1-tuple, ``'same'`` or ``'valid'``."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) of ``(N, C, H, W)`` or ``(C, H, W)`` input with weight
    ``(O, C/groups, kh, kw)``; ``padding`` is an int, a pair, ``'same'`` or ``'valid'``."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution (cross-correlation) of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with
    weight ``(O, C/groups, kd, kh, kw)``; ``padding`` is an int, a triple, ``'same'`` or
    ``'valid'``."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 1-D convolution (the input gradient of ``conv1d``) of ``(N, C_in, L)`` or
    ``(C_in, L)`` input with weight ``(C_in, C_out/groups, k)``."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 2-D convolution (the input gradient of ``conv2d``) of ``(N, C_in, H, W)`` or
    ``(C_in, H, W)`` input with weight ``(C_in, C_out/groups, kh, kw)``: the output has
    ``(H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1`` rows (columns
    likewise)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 3-D convolution (the input gradient of ``conv3d``) of ``(N, C_in, D, H, W)``
    or ``(C_in, D, H, W)`` input with weight ``(C_in, C_out/groups, kd, kh, kw)``."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 3)
