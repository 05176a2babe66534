"""Spatial transformers: ``affine_grid`` (the sampling grid of a batch of affine maps) and
``grid_sample`` (input read at arbitrary grid positions), each one autograd node.

``grid_sample`` follows PyTorch's coordinate rules: a grid coordinate in [-1, 1] is mapped to a
pixel position of its axis (``grid[..., 0]`` to the last spatial axis, width), with the corner
pixels' centres (``align_corners=True``) or outer edges at -1 and 1. Along each axis an output
point reads one (``'nearest'``), two (``'bilinear'``) or four (``'bicubic'``) input positions
("taps"); the taps of all axes combine into a product of weights. Bilinear and nearest sampling
pad the position (clamped for ``'border'``, reflected then clamped for ``'reflection'``);
bicubic pads each integer tap. Taps outside the input read 0. The forward gathers rows of the
input seen as ``(N * pixels, C)``; the backward scatter-adds the weighted gradient into those
rows and sums, for the grid, the gathered values against the derivatives of the weights.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from ...autograd.graph import Node
from ...dtypes import dtype_name
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, dtype_kind_name, size_str, xp_of
from .embedding import scatter_add_rows

_wrap = Tensor._wrap

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING_MODES = ("zeros", "border", "reflection")
_CUBIC_A = -0.75  # PyTorch's bicubic convolution constant
_ALIGN_CORNERS_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details.")


def _align_corners(align_corners):
    """``align_corners``, with PyTorch's warning when it is left as None (then False)."""
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


# --------------------------------------------------------------------------------------------
# positions along one axis
# --------------------------------------------------------------------------------------------
def _unnormalize(coord, size, align_corners):
    """Grid coordinates to pixel positions of an axis of ``size``, and d position / d coord."""
    scale = (size - 1) / 2 if align_corners else size / 2
    shift = 0 if align_corners else 0.5
    return (coord + 1) * scale - shift, scale


def _clip(pos, size):
    """``pos`` clamped into ``[0, size - 1]`` (NaN to 0, as PyTorch's kernels give), and its
    derivative: 0 at the borders and beyond."""
    xp = xp_of(pos)
    inside = (pos > 0) & (pos < size - 1)
    return xp.fmin(xp.fmax(pos, 0), size - 1), inside.astype(pos.dtype)


def _reflect(pos, size, align_corners):
    """``pos`` reflected at the borders (pixel centres with ``align_corners``, else the outer
    edges) until it falls between them, and its derivative (+1 or -1)."""
    xp = xp_of(pos)
    low, span = (0, size - 1) if align_corners else (-0.5, size)
    if span == 0:
        return xp.zeros_like(pos), xp.zeros_like(pos)
    shifted = pos - low
    dist = xp.abs(shifted)
    odd = xp.floor(dist / span) % 2 == 1
    extra = xp.fmod(dist, span)  # NaN for infinite positions, then 0 when clipped
    out = xp.where(odd, span - extra, extra) + low
    return out, xp.where((shifted < 0) != odd, -1, 1).astype(pos.dtype)


def _pad(pos, size, padding_mode, align_corners):
    """PyTorch's padding of a position (``compute_coordinates``) and its derivative (None: 1)."""
    if padding_mode == "border":
        return _clip(pos, size)
    if padding_mode == "reflection":
        pos, d_reflect = _reflect(pos, size, align_corners)
        pos, d_clip = _clip(pos, size)
        return pos, d_reflect * d_clip
    return pos, None


def _index(pos, size):
    """Integer positions (as floats) to indices (0 where outside) and the inside mask."""
    valid = (pos >= 0) & (pos <= size - 1)
    return xp_of(pos).where(valid, pos, 0).astype(np.int64), valid


def _cubic_weights(t):
    """The four cubic-convolution weights of the taps at -1, 0, 1, 2 for a fraction ``t``."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):   # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _cubic_weight_grads(t):
    """The derivatives by ``t`` of ``_cubic_weights(t)``."""
    a = _CUBIC_A

    def d_near(x):
        return (3 * (a + 2) * x - 2 * (a + 3)) * x

    def d_far(x):
        return (3 * a * x - 10 * a) * x + 8 * a

    return d_far(t + 1), d_near(t), -d_near(1 - t), -d_far(2 - t)


def _axis_taps(coord, size, mode, padding_mode, align_corners):
    """The taps of grid coordinates ``coord`` along an axis of ``size``: a list of
    ``(index, inside mask, weight, d weight / d coord)``; nearest taps have weight None (1) and
    no derivative (None)."""
    xp = xp_of(coord)
    pos, scale = _unnormalize(coord, size, align_corners)
    if mode == "bicubic":  # the integer taps are padded, not the position
        start = xp.floor(pos)
        t = pos - start
        return [(*_index(_pad(start + (k - 1), size, padding_mode, align_corners)[0], size),
                 w, d * scale)
                for k, (w, d) in enumerate(zip(_cubic_weights(t), _cubic_weight_grads(t)))]
    pos, d_pad = _pad(pos, size, padding_mode, align_corners)
    if mode == "nearest":
        return [(*_index(xp.rint(pos), size), None, None)]  # rint: ties to even, as nearbyint
    d_pos = scale if d_pad is None else d_pad * scale
    start = xp.floor(pos)
    return [(*_index(start, size), (start + 1) - pos, -d_pos),
            (*_index(start + 1, size), pos - start, d_pos)]


# --------------------------------------------------------------------------------------------
# taps of all axes, the forward and the backward on raw arrays
# --------------------------------------------------------------------------------------------
def _product(factors):
    """The product of the factors that are not None (None when all are)."""
    out = None
    for f in factors:
        if f is not None:
            out = f if out is None else out * f
    return out


def _taps(grid, spatial, mode, padding_mode, align_corners, with_grads):
    """Every tap of every output point, as ``(rows, inside mask, weight, weight grads)``, each
    of shape (N, M) for M output points: ``rows`` index the input seen as ``(N * pixels, C)``
    rows; ``weight`` is None for nearest; ``weight grads`` (with ``with_grads``, not for
    nearest) lists the weight's derivative by each grid component."""
    xp = xp_of(grid)
    n, dim = grid.shape[0], len(spatial)
    coords = grid.reshape(n, math.prod(grid.shape[1:-1]), dim)
    # grid component k runs along spatial axis dim - 1 - k
    sizes = spatial[::-1]
    strides = [math.prod(sizes[:k]) for k in range(dim)]
    with np.errstate(invalid="ignore", over="ignore"):  # quiet NaN for non-finite coordinates
        per_axis = [_axis_taps(coords[..., k], sizes[k], mode, padding_mode, align_corners)
                    for k in range(dim)]
    offsets = xp.arange(n).reshape(n, 1) * math.prod(spatial)
    taps = []
    for combo in itertools.product(*per_axis):
        rows, inside = offsets, None
        for stride, (index, valid, _, _) in zip(strides, combo):
            rows = rows + index * stride
            inside = valid if inside is None else inside & valid
        weights = [w for _, _, w, _ in combo]
        grads = None
        if with_grads and mode != "nearest":
            grads = [_product(weights[:k] + [d] + weights[k + 1:])
                     for k, (_, _, _, d) in enumerate(combo)]
        taps.append((rows, inside, _product(weights), grads))
    return taps


def _as_rows(x):
    """``(N, C, *spatial)`` array as ``(N * pixels, C)`` rows."""
    n, c, *spatial = x.shape
    return xp_of(x).moveaxis(x, 1, -1).reshape(n * math.prod(spatial), c)


def _read(rows, index, inside):
    """``rows[index]`` (N, M, C), 0 where the tap is outside the input."""
    return xp_of(rows).where(inside[..., None], rows[index], 0)


def _from_points(points, shape):
    """``(N, M, C)`` point values as an ``(N, C, *shape)`` array."""
    xp = xp_of(points)
    return xp.ascontiguousarray(xp.moveaxis(points, -1, 1)).reshape(shape)


def _sample(x, grid, mode, padding_mode, align_corners):
    """``grid_sample`` on arrays."""
    n, c, *spatial = x.shape
    rows = _as_rows(x)
    out = xp_of(x).zeros((n, math.prod(grid.shape[1:-1]), c), dtype=x.dtype)
    for index, inside, weight, _ in _taps(grid, spatial, mode, padding_mode, align_corners,
                                          with_grads=False):
        v = _read(rows, index, inside)
        out += v if weight is None else v * weight[..., None]
    return _from_points(out, (n, c, *grid.shape[1:-1]))


class GridSamplerBackward0(Node):
    """Backward of ``grid_sample``: the weighted output gradient scatter-added into the input's
    taps, and for the grid the tap values against the weights' derivatives (zero for
    ``'nearest'``, as in PyTorch). ``name()`` is PyTorch's ``GridSampler2DBackward0`` or
    ``GridSampler3DBackward0``."""

    def backward(self, g):
        input, grid = self.saved_tensors
        x, gd = input._data, grid._data
        xp = xp_of(x)
        n, c, *spatial = x.shape
        need_input, need_grid = (e is not None for e in self.next_functions)
        points = math.prod(gd.shape[1:-1])
        g_points = xp.moveaxis(g.reshape(n, c, points), 1, -1)  # (N, M, C)
        rows = _as_rows(x)
        g_rows = xp.zeros_like(rows) if need_input else None
        g_coords = [0] * len(spatial)
        taps = _taps(gd, spatial, self.mode, self.padding_mode, self.align_corners,
                     with_grads=need_grid)
        for index, inside, weight, grads in taps:
            if need_input:
                g_tap = g_points if weight is None else g_points * weight[..., None]
                scatter_add_rows(g_rows, index[inside], g_tap[inside])
            if grads is not None:
                dot = (_read(rows, index, inside) * g_points).sum(axis=-1)
                g_coords = [gk + dot * dk for gk, dk in zip(g_coords, grads)]
        grad_input = grad_grid = None
        if need_input:
            grad_input = _from_points(g_rows.reshape(n, math.prod(spatial), c), x.shape)
        if need_grid:
            if self.mode == "nearest":
                grad_grid = xp.zeros_like(gd)
            else:
                grad_grid = xp.stack(g_coords, axis=-1).reshape(gd.shape)
        return grad_input, grad_grid

    def name(self):
        return f"GridSampler{self.dim}DBackward0"


def _check_grid_sample(input, grid, mode):
    """PyTorch's argument checks of ``grid_sampler``, in its order."""
    for position, (name, value) in enumerate((("input", input), ("grid", grid)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"grid_sampler(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(value).__name__}")
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be on same device, but "
                           f"input is on {input.device} and grid is on {grid.device}")
    in_sizes, grid_sizes = list(input.shape), list(grid.shape)
    if in_sizes[:1] != grid_sizes[:1]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {in_sizes} and grid with sizes "
                           f"{grid_sizes}")
    if grid_sizes[-1:] != [input.ndim - 2]:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in "
                           f"last dimension, but got grid with sizes {grid_sizes}")
    for i in range(2, input.ndim):
        if in_sizes[i] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {in_sizes} with dimension {i} "
                               f"being empty")
    rank = 4 if input.ndim == 4 else 5
    if input.ndim != rank or grid.ndim != rank:
        raise RuntimeError(f"grid_sampler(): expected {rank}D input and grid with same number "
                           f"of dimensions, but got input with sizes {in_sizes} and grid with "
                           f"sizes {grid_sizes}")
    if rank == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input.dtype.kind != "f":
        kernel = "grid_sampler_2d_cpu_kernel_impl" if rank == 4 else "grid_sampler3d_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{dtype_kind_name(input.dtype)}'")
    if grid.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {dtype_kind_name(input.dtype)} but found "
                           f"{dtype_kind_name(grid.dtype)}")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None) -> Tensor:
    """Sample ``input`` (N, C, H, W) or (N, C, D, H, W) at the positions of ``grid``
    (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), whose last axis holds normalised
    (x, y[, z]) coordinates in [-1, 1]. ``mode``: ``'bilinear'`` (trilinear for 5-D),
    ``'nearest'`` or ``'bicubic'`` (4-D only); ``padding_mode``: ``'zeros'``, ``'border'`` or
    ``'reflection'`` for positions outside the input; ``align_corners=True`` puts -1 and 1 at
    the centres of the corner pixels, False (the default, with a warning when not given) at
    their outer edges. Differentiable w.r.t. ``input`` and ``grid``."""
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _align_corners(align_corners)
    _check_grid_sample(input, grid, mode)
    out = _sample(input._data, grid._data, mode, padding_mode, align_corners)
    if _state.enabled and (input._requires_grad or grid._requires_grad):
        node = GridSamplerBackward0((input, grid))
        node.save(input, grid)
        node.mode, node.padding_mode, node.align_corners = mode, padding_mode, align_corners
        node.dim = input.ndim - 2
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# affine_grid
# --------------------------------------------------------------------------------------------
def _positions(n, align_corners, dtype):
    """PyTorch's ``n`` grid positions along an axis: ``linspace(-1, 1, n)`` (computed from both
    ends, so it is symmetric), scaled by ``(n - 1) / n`` without ``align_corners``; 0 for one."""
    if n <= 1:
        return np.zeros(max(n, 0), dtype)
    i = np.arange(n, dtype=dtype)
    step = dtype.type(2) / dtype.type(n - 1)
    out = np.where(i < n // 2, -1 + step * i, 1 - step * (n - 1 - i)).astype(dtype)
    return out if align_corners else out * (n - 1) / dtype.type(n)


def _base_grid(spatial, align_corners, dtype):
    """The homogeneous positions (x, y[, z], 1) of the output points, as (points, dim + 1)."""
    axes = [_positions(s, align_corners, dtype) for s in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # component k runs along spatial axis dim - 1 - k
    return np.stack([*mesh[::-1], np.ones(mesh[0].shape, dtype)], axis=-1).reshape(
        -1, len(spatial) + 1)


class AffineGridGeneratorBackward0(Node):
    """Backward of ``affine_grid``: ``grad_theta[n] = grad[n]^T @ base`` (itself differentiable
    for double backward)."""

    def backward(self, g):
        xp = xp_of(g)
        g = g.reshape(g.shape[0], self.base.shape[0], g.shape[-1])
        return (xp.matmul(g.transpose(0, 2, 1), self.base),)

    def graph_backward(self, g):
        g = g.reshape(g.shape[0], self.base.shape[0], g.shape[-1])
        return (g.transpose(1, 2).matmul(_wrap(self.base)),)


def affine_grid(theta, size, align_corners=None) -> Tensor:
    """The sampling grid of ``grid_sample`` for a batch of affine maps: ``theta`` (N, 2, 3)
    with ``size`` (N, C, H, W) gives (N, H, W, 2); ``theta`` (N, 3, 4) with ``size``
    (N, C, D, H, W) gives (N, D, H, W, 3). Each output point is ``theta[n] @ (x, y[, z], 1)`` of
    its normalised position (see ``grid_sample`` for ``align_corners``). Differentiable w.r.t.
    ``theta``."""
    align_corners = _align_corners(align_corners)
    check_tensor(theta, "theta", "affine_grid")
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"distgrad.{dtype_name(theta.dtype)}")
    dims = [int(s) for s in size]
    if len(dims) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    dim = len(dims) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (dim, dim + 1):
        raise ValueError(f"Expected a batch of {dim}D affine matrices of shape "
                         f"Nx{dim}x{dim + 1} for size {size}. Got {size_str(theta.shape)}.")
    spatial = dims[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", UserWarning,
                      stacklevel=2)
    elif min(dims) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != dims[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{dims[0]}, {dim + 1}] but got: [{theta.shape[0]}, {dim + 1}].")
    th = theta._data
    xp = xp_of(th)
    base = xp.asarray(_base_grid(spatial, align_corners, th.dtype))
    out = xp.matmul(base, th.transpose(0, 2, 1)).reshape(dims[0], *spatial, dim)
    if _state.enabled and theta._requires_grad:
        node = AffineGridGeneratorBackward0((theta,))
        node.base = base
        return _from_node(out, node)
    return _wrap(out)
