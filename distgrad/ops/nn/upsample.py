"""``interpolate``: resampling of 3-D, 4-D and 5-D input (``'nearest'``, ``'nearest-exact'``,
``'linear'``, ``'bilinear'``, ``'trilinear'``, ``'bicubic'``; antialiased ``'bilinear'``,
``'bicubic'`` and ``'lanczos'``; ``'area'`` is adaptive average pooling), and the deprecated
``upsample``, ``upsample_nearest``, ``upsample_bilinear``.

Every mode is separable: along each spatial axis an output position reads one, two or four input
positions ("taps") with weights (antialiased modes: every input position under the filter, which
is stretched by the scale when shrinking). The taps are computed once per call on the host with
PyTorch's coordinate rules, in its arithmetic (float64 for double input, float32 otherwise;
indices are floored after rounding to float32, as ``floorf`` does). The forward gathers and weights along the
last axis first, then the others (the order of PyTorch's kernels). The backward is the adjoint,
the gradient summed into the taps axis by axis in the reverse order; its node's backward is the
forward again, so double backward works.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, dtype_kind_name, xp_of
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

_wrap = Tensor._wrap

# mode -> (name in PyTorch's node names, input rank it needs (None: any), index kernel name)
_MODES = {"nearest": ("Nearest", None, "nearest"),
          "nearest-exact": ("NearestExact", None, "nearest"),
          "linear": ("Linear", 3, "linear"), "bilinear": ("Bilinear", 4, "linear"),
          "trilinear": ("Trilinear", 5, "linear"), "bicubic": ("Bicubic", 4, "cubic"),
          "lanczos": ("Lanczos", 4, "lanczos")}
_ALL_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


# --------------------------------------------------------------------------------------------
# source coordinates and taps along one axis (host arrays)
# --------------------------------------------------------------------------------------------
def _floorf(real):
    """``floorf``: round to float32, then floor (as int64 indices)."""
    return np.floor(real.astype(np.float32)).astype(np.int64)


def _scale(n_in, n_out, align_corners, scale, opmath):
    """PyTorch's ``area_pixel_compute_scale``: input steps per output step."""
    if align_corners:
        return opmath(n_in - 1) / opmath(n_out - 1) if n_out > 1 else opmath(0)
    if scale is not None and scale > 0:
        return opmath(1.0 / scale)
    return opmath(n_in) / opmath(n_out)


def _source(s, n_out, align_corners, opmath, cubic=False):
    """PyTorch's ``area_pixel_compute_source_index`` of every output position (the product is
    formed in float64 and rounded once, as by the fused multiply-add of PyTorch's kernels)."""
    d = np.arange(n_out, dtype=np.float64)
    if align_corners:
        return (float(s) * d).astype(opmath)
    real = (float(s) * (d + 0.5) - 0.5).astype(opmath)
    return real if cubic else np.maximum(real, opmath(0))


def _index_and_lambda(real, n_in, opmath):
    """PyTorch's ``guard_index_and_lambda``: the floor index and the fraction past it."""
    idx = np.minimum(_floorf(real), n_in - 1)
    return idx, np.clip(real - idx.astype(opmath), opmath(0), opmath(1))


def _nearest_taps(n_in, n_out, scale, opmath, exact, shortcuts):
    if shortcuts and n_out == n_in:      # PyTorch's 2-D kernel: copy ...
        return [(np.arange(n_out), None)]
    if shortcuts and n_out == 2 * n_in:  # ... and a shift for a doubled size, whatever the scale
        return [(np.arange(n_out) >> 1, None)]
    s = _scale(n_in, n_out, False, scale, opmath)
    if exact:
        real = _source(s, n_out, False, opmath) + opmath(0.5)
    else:
        real = _source(s, n_out, True, opmath)  # scale * index
    return [(np.minimum(_floorf(real), n_in - 1), None)]


def _linear_taps(n_in, n_out, scale, opmath, align_corners):
    if n_in == n_out:
        return [(np.arange(n_out), None)]
    real = _source(_scale(n_in, n_out, align_corners, scale, opmath), n_out, align_corners, opmath)
    i0, l1 = _index_and_lambda(real, n_in, opmath)
    i1 = i0 + (i0 < n_in - 1)
    return [(i0, opmath(1) - l1), (i1, l1)]


def _cubic_taps(n_in, n_out, scale, opmath, align_corners):
    real = _source(_scale(n_in, n_out, align_corners, scale, opmath), n_out, align_corners,
                   opmath, cubic=True)
    i0, t = _index_and_lambda(real, n_in, opmath)
    a, one = opmath(-0.75), opmath(1)

    def near(x):  # PyTorch's cubic_convolution1, for |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):   # cubic_convolution2, for 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + one), near(t), near(one - t), far((one - t) + one))
    return [(np.clip(i0 - 1 + j, 0, n_in - 1), w) for j, w in enumerate(weights)]


def _triangle(x):
    return np.maximum(1 - np.abs(x), 0)


def _keys_cubic(x):  # a = -0.5, as in PIL (the non-antialiased bicubic uses -0.75)
    x = np.abs(x)
    near = ((-0.5 + 2) * x - (-0.5 + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * -0.5
    return np.where(x < 1, near, np.where(x < 2, far, 0))


def _lanczos3(x):  # sinc(x) sinc(x / 3) on [-3, 3)
    return np.where((x >= -3) & (x < 3), np.sinc(x) * np.sinc(x / 3), 0).astype(x.dtype)


# mode -> (filter, its support: the filter is 0 beyond)
_AA_FILTERS = {"bilinear": (_triangle, 1), "bicubic": (_keys_cubic, 2), "lanczos": (_lanczos3, 3)}


def _aa_taps(n_in, n_out, scale, opmath, align_corners, mode):
    """PyTorch's antialiased taps (``_compute_weights_aa``, after PIL's resampling): output ``i``
    reads the window of input positions around ``center = s (i + 0.5)`` under the filter, whose
    support is stretched by ``s`` when shrinking (``s > 1``); the weights of a window are
    normalised to sum to 1. Windows are padded with zero weights to the widest one."""
    filter_fn, half = _AA_FILTERS[mode]
    s = _scale(n_in, n_out, align_corners, scale, opmath)
    support = opmath(half * s) if s >= 1 else opmath(half)
    invscale = opmath(1) / s if s >= 1 else opmath(1)
    width = int(math.ceil(support)) * 2 + 1
    center = s * (np.arange(n_out, dtype=opmath) + opmath(0.5))
    start = np.maximum((center - support + opmath(0.5)).astype(np.int64), 0)
    size = np.clip(np.minimum((center + support + opmath(0.5)).astype(np.int64), n_in) - start,
                   0, width)
    offsets = np.arange(width)
    w = filter_fn((offsets + start[:, None] - center[:, None] + opmath(0.5)) * invscale)
    w = np.where(offsets < size[:, None], w, 0).astype(opmath)
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=w, where=total != 0)
    return [(np.minimum(start + k, n_in - 1), w[:, k]) for k in range(width)]


# --------------------------------------------------------------------------------------------
# the plan: taps for every resampled axis, on the input's device
# --------------------------------------------------------------------------------------------
class _Plan:
    """What ``interpolate`` does to one input: its node name and, per resampled axis (last axis
    first), ``(axis, input size, taps)``; a tap is ``(indices, weights or None, adjoint steps)``
    (see ``_adjoint_steps``)."""

    def __init__(self, name, axes):
        self.name = name
        self.axes = axes


def _key(positions, xp):
    """A slice for evenly spaced, increasing ``positions`` (a view), else an index array."""
    step = int(positions[1] - positions[0]) if len(positions) > 1 else 1
    if step > 0 and (np.diff(positions) == step).all():
        return slice(int(positions[0]), int(positions[-1]) + 1, step)
    return xp.asarray(positions)


def _pieces(dst, src, xp):
    """``out[dst] += g[src]`` as pairs of slices when the positions fall into at most four evenly
    spaced stretches, else as one pair of keys (slice or index array each)."""
    d, e = np.diff(dst), np.diff(src)
    cuts = np.flatnonzero((d[1:] != d[:-1]) | (e[1:] != e[:-1])) + 1
    bounds = [0, *cuts.tolist(), len(dst)]
    if len(bounds) > 5:
        return [(_key(dst, xp), _key(src, xp))]
    return [(_key(dst[a:b], xp), _key(src[a:b], xp)) for a, b in zip(bounds, bounds[1:])]


def _adjoint_steps(idx, xp):
    """``(destinations, sources)`` index pairs that sum a gradient along the axis into the
    (never decreasing) ``idx``: step ``k`` adds the ``k``-th output of every run of equal indices,
    so the destinations of a step are distinct and a plain indexed ``+=`` is exact."""
    starts = np.flatnonzero(np.diff(idx, prepend=-1))
    lengths = np.diff(np.append(starts, len(idx)))
    steps = []
    for k in range(int(lengths.max())):
        runs = starts[lengths > k]
        steps += _pieces(idx[runs], runs + k, xp)
    return steps


def _plan(x, output_size, scales, mode, align_corners, antialias=False):
    """The ``_Plan`` of resampling array ``x`` to ``output_size`` (one size per spatial dim)."""
    xp = xp_of(x)
    opmath = np.float64 if x.dtype == np.float64 else np.float32
    dim = x.ndim - 2
    axes = []
    for i in reversed(range(dim)):
        n_in, n_out = x.shape[2 + i], int(output_size[i])
        scale = None if scales is None else scales[i]
        if antialias:
            taps = _aa_taps(n_in, n_out, scale, opmath, align_corners, mode)
        elif mode in ("nearest", "nearest-exact"):
            taps = _nearest_taps(n_in, n_out, scale, opmath, mode == "nearest-exact",
                                 shortcuts=mode == "nearest" and dim == 2)
        elif mode == "bicubic":
            taps = _cubic_taps(n_in, n_out, scale, opmath, align_corners)
        else:
            taps = _linear_taps(n_in, n_out, scale, opmath, align_corners)
        idx = taps[0][0]
        if len(taps) == 1 and n_in == n_out and (idx == np.arange(n_out)).all():
            continue  # this axis is copied as it is
        axes.append((i - dim, n_in, [(xp.asarray(idx),
                                      None if w is None else xp.asarray(w.astype(x.dtype)),
                                      _adjoint_steps(idx, xp)) for idx, w in taps]))
    return _Plan(f"Upsample{_MODES[mode][0]}{dim}D{'Aa' if antialias else ''}", axes)


def _along(w, ndim, axis):
    """The 1-D weights ``w`` shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis % ndim))


def _gather(x, axis, taps):
    """Forward along ``axis``: ``sum_k x[..., idx_k, ...] * w_k``."""
    xp = xp_of(x)
    out = None
    for idx, w, _ in taps:
        v = xp.take(x, idx, axis=axis)
        if w is not None:
            v *= _along(w, v.ndim, axis)
        if out is None:
            out = v
        else:
            out += v
    return out


def _spread(g, axis, n_in, taps):
    """Adjoint of ``_gather``: ``g * w_k`` summed into positions ``idx_k`` along ``axis``. Index
    arrays along the last axis are slow to write through, so that case runs with the axis moved
    to the front, where every index picks a contiguous block."""
    xp = xp_of(g)
    axis %= g.ndim
    front = axis == g.ndim - 1 and any(type(dst) is not slice or type(src) is not slice
                                       for _, _, steps in taps for dst, src in steps)
    if front:
        g = xp.ascontiguousarray(xp.moveaxis(g, axis, 0))
    at = 0 if front else axis
    shape = list(g.shape)
    shape[at] = n_in
    out = xp.zeros(shape, dtype=g.dtype)
    lead = (slice(None),) * at
    for _, w, steps in taps:
        v = g if w is None else g * _along(w, g.ndim, at)
        for dst, src in steps:
            out[lead + (dst,)] += v[lead + (src,)]
    return xp.moveaxis(out, 0, axis) if front else out


def _resample_array(x, plan, adjoint):
    """Array ``x`` resampled by ``plan`` (or by its adjoint, from output to input shape)."""
    if adjoint:
        for axis, n_in, taps in reversed(plan.axes):
            x = _spread(x, axis, n_in, taps)
        return xp_of(x).ascontiguousarray(x)
    for axis, _, taps in plan.axes:
        x = _gather(x, axis, taps)
    return x


class UpsampleBackward0(Node):
    """Backward of ``interpolate``: the adjoint resampling (and, for the node of that adjoint in
    a double-backward graph, the forward one). ``name()`` is PyTorch's, e.g.
    ``UpsampleBilinear2DBackward0`` or ``UpsampleBilinear2DBackwardBackward0``."""

    def backward(self, g):
        return (_resample_array(g, self.plan, not self.adjoint),)

    def graph_backward(self, g):
        return (_resample(g, self.plan, not self.adjoint),)

    def name(self):
        return self.plan.name + ("BackwardBackward0" if self.adjoint else "Backward0")


def _resample(input, plan, adjoint=False):
    """``_resample_array`` on a tensor, recorded for autograd."""
    xd = input._data
    out = _resample_array(xd, plan, adjoint)
    if out is xd:
        out = out.copy()
    if _state.enabled and input._requires_grad:
        node = UpsampleBackward0((input,))
        node.plan, node.adjoint = plan, adjoint
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------------
def _is_integer(x):
    if isinstance(x, Tensor):
        return not x.is_floating_point()
    return isinstance(x, (int, np.integer))


def _size_and_scales(input, size, scale_factor, dim):
    """PyTorch's validation: exactly one of ``size`` and ``scale_factor``, one per spatial dim."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if not isinstance(size, (list, tuple)):
            return [size] * dim, None
        if len(size) != dim:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input "
                f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                f"input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                f"(o1, o2, ...,oK) format.")
        if not all(_is_integer(x) for x in size):
            raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                            f"Tuple[int, int, int], but got size with types "
                            f"{[type(x) for x in size]}")
        return list(size), None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if not isinstance(scale_factor, (list, tuple)):
        return None, [scale_factor] * dim
    if len(scale_factor) != dim:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {spatial} and scale_factor of shape "
            f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
            f"scale_factor in (s1, s2, ...,sK) format.")
    return None, list(scale_factor)


def _check_sizes(input, output_size, mode, antialias=False):
    in_sizes = input.shape[2:]
    out_sizes = [int(s) for s in output_size]
    if min(in_sizes) <= 0 or min(out_sizes) <= 0:
        letters = "DHW"[-len(in_sizes):]
        got_in = ", ".join(f"{c}: {s}" for c, s in zip(letters, in_sizes))
        got_out = ", ".join(f"{c}: {s}" for c, s in zip(letters, out_sizes))
        joint = ") and output (" if len(in_sizes) == 1 else ") output ("
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({got_in}{joint}{got_out})")
    dtype, kernel = input.dtype, _MODES[mode][2]
    if antialias and dtype.kind != "f":  # PyTorch also takes uint8 images here (PIL's rounding)
        raise NotImplementedError(f'"compute_index_ranges_weights" not implemented for '
                                  f"'{dtype_kind_name(dtype)}' in distgrad: resample a float copy")
    if dtype.kind != "f" and not (dtype == np.uint8 and kernel == "nearest"):
        raise NotImplementedError(f'"compute_indices_weights_{kernel}" not implemented for '
                                  f"'{dtype_kind_name(dtype)}'")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False) -> Tensor:
    """Resample the spatial dims of ``(N, C, *spatial)`` input to ``size`` or by
    ``scale_factor``, with PyTorch's coordinate rules: a given ``scale_factor`` (not the rounded
    size ratio) places the samples unless ``recompute_scale_factor=True``. Modes ``'nearest'``,
    ``'nearest-exact'`` (3-5-D), ``'linear'`` (3-D), ``'bilinear'``/``'bicubic'`` (4-D),
    ``'trilinear'`` (5-D) and ``'area'`` (3-5-D); with ``antialias=True`` (4-D) ``'bilinear'``,
    ``'bicubic'`` and ``'lanczos'`` (Lanczos-3, antialiased only) filter like PIL when
    shrinking."""
    check_tensor(input, "input", "interpolate")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    ndim = input.ndim
    output_size, scales = _size_and_scales(input, size, scale_factor, ndim - 2)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if output_size is None or recompute_scale_factor:  # the size that the scale factors give
        output_size = [int(input.shape[i + 2] * s) for i, s in enumerate(scales)]
        if recompute_scale_factor:
            scales = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input")
    if mode == "lanczos" and ndim == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if antialias:
        _check_sizes(input, output_size, mode, antialias=True)
        return _resample(input, _plan(input._data, output_size, scales, mode, align_corners,
                                      antialias=True))
    if mode == "area" and 3 <= ndim <= 5:
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[ndim - 3]
        return pool(input, output_size)
    if mode in _MODES and mode != "lanczos" and 3 <= ndim <= 5:
        needed = _MODES[mode][1]
        if needed in (None, ndim):
            _check_sizes(input, output_size, mode)
            return _resample(input, _plan(input._data, output_size, scales, mode, align_corners))
        if mode != "bicubic":
            raise NotImplementedError(f"Got {ndim}D input, but {mode} mode needs {needed}D input")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                              f"{ndim}D) for the modes: {_ALL_MODES} (got {mode})")


def _warn_deprecated(name):
    warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` "
                  f"instead.", UserWarning, stacklevel=3)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None) -> Tensor:
    """Deprecated alias of ``interpolate`` (warns)."""
    _warn_deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')`` (warns)."""
    _warn_deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)`` (warns)."""
    _warn_deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
