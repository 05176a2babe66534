"""Shape operations: reshape/view, transpose/permute, expand, squeeze/unsqueeze, flatten,
cat/stack, split/chunk/unbind, repeat/tile, tril/triu, dtype/device conversion, and diagonals
(diagonal/diag/diag_embed/trace/fill_diagonal_), roll, diff and meshgrid; select, unfold,
repeat_interleave, tensor_split/hsplit/vsplit/dsplit, rot90/fliplr/flipud, broadcasting
(broadcast_tensors/broadcast_shapes) and built matrices (cartesian_prod, block_diag, combinations,
vander).

View operations share storage and the version counter with their input, as in PyTorch.
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import as_dtype, get_default_dtype
from ..tensor import Tensor, _from_node
from .index import IndexBackward0, put_at_key, index_select, record_view
from ._util import (_state, broadcast_error, cast_grads_to_inputs, check_devices, normalize_dims,
                    promote_types, result_type, sizes, torch_type_name, unbroadcast)

_wrap = Tensor._wrap


class WholeView:
    """How a view that covers all of its base (a reshape or a permutation) is made from the base,
    and how a tensor of the view's shape maps back onto the base: in-place ops on such a view
    of a tensor that needs gradients rewrite the base through these (``ops/inplace.py``)."""

    __slots__ = ("make", "unmake")

    def __init__(self, make, unmake):
        self.make, self.unmake = make, unmake


def _view_of(input: Tensor, out, node_cls=None, view=None, **attrs) -> Tensor:
    """Result of a view op: shares the version counter and records its base (and ``view``, the
    ``WholeView`` that recreates it)."""
    if _state.enabled and input._requires_grad and node_cls is not None:
        node = node_cls((input,))
        for k, v in attrs.items():
            setattr(node, k, v)
        t = _from_node(out, node)
    else:
        t = _wrap(out)
    if out.base is not None:
        record_view(t, input, view, node_cls)
    return t


class ViewBackward0(Node):
    """Backward of ``view``/``reshape``: the gradient reshaped back."""

    def backward(self, g):
        return (g.reshape(self.shape),)

    def graph_backward(self, g):
        return (g.reshape(self.shape),)


def reshape(input, *shape) -> Tensor:
    """The same data with a new shape (a view when possible); one size may be -1."""
    shape = sizes(shape)
    try:
        out = input._data.reshape(shape)
    except ValueError:
        _check_shape(shape, input._data.size)
        raise
    return _reshaped(input, out)


def _reshaped(input, out) -> Tensor:
    """``out`` (``input``'s array reshaped) as a tensor: a view of ``input`` when it shares memory."""
    base_shape, view_shape = input._data.shape, out.shape
    return _view_of(input, out, ViewBackward0, shape=base_shape,
                    view=WholeView(lambda b: reshape(b, view_shape),
                                   lambda v: reshape(v, base_shape)))


def _check_shape(shape, size):
    """Raise PyTorch's error for a target ``shape`` that does not fit ``size`` elements."""
    if sum(1 for s in shape if s == -1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = int(np.prod([s for s in shape if s != -1]))
    if (-1 in shape and (known == 0 or size % known)) or (-1 not in shape and known != size):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size}")


VIEW_MESSAGE = ("view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")


def view(input, *shape) -> Tensor:
    """Like ``reshape`` but never copies: errors when the strides do not allow it (a transposed
    tensor flattened, say); ``view(dtype)`` is not supported."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer, Tensor)):
        raise TypeError("view(dtype) is not supported; use .to(dtype)")
    shape = sizes(shape)
    data = input._data
    if data.flags.c_contiguous or data.size <= 1:
        return reshape(input, shape)
    _check_shape(shape, data.size)
    try:
        out = data.reshape(shape, copy=False)
    except TypeError:  # NumPy < 2.1 / CuPy: no copy argument
        out = data.view()
        try:
            out.shape = shape
        except AttributeError:
            raise RuntimeError(VIEW_MESSAGE) from None
    except ValueError:
        raise RuntimeError(VIEW_MESSAGE) from None
    return _reshaped(input, out)


def flatten(input, start_dim=0, end_dim=-1) -> Tensor:
    """Merge dims ``start_dim`` .. ``end_dim`` into one."""
    shape = input._data.shape
    s = normalize_dims(start_dim, len(shape))[0]
    e = normalize_dims(end_dim, len(shape))[0]
    if not shape:
        return reshape(input, (1,))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    new = shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:]
    return reshape(input, new)


def unflatten(input, dim, sizes_) -> Tensor:
    """Split dim ``dim`` into ``sizes_``."""
    shape = input._data.shape
    d = dim % len(shape)
    return reshape(input, shape[:d] + tuple(sizes_) + shape[d + 1:])


class PermuteBackward0(Node):
    """Backward of ``permute``: the inverse permutation."""

    def backward(self, g):
        return (g.transpose(self.inverse),)

    def graph_backward(self, g):
        return (g.permute(self.inverse),)


def permute(input, *dims) -> Tensor:
    """Reorder the dimensions."""
    dims = sizes(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple([d % nd if -nd <= d < nd else normalize_dims(d, nd) for d in dims])
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = tuple([int(i) for i in np.argsort(dims)])
    return _view_of(input, input._data.transpose(dims), PermuteBackward0, inverse=inverse,
                    view=WholeView(lambda b: permute(b, dims), lambda v: permute(v, inverse)))


def transpose(input, dim0, dim1) -> Tensor:
    """Swap two dimensions."""
    nd = input._data.ndim
    if nd == 0:
        return input
    perm = list(range(nd))
    d0, d1 = normalize_dims(dim0, nd)[0], normalize_dims(dim1, nd)[0]
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return permute(input, perm)


def t(input) -> Tensor:
    """Transpose of a matrix (0-D and 1-D tensors are returned as is)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


def T(input) -> Tensor:
    """All dimensions reversed."""
    return permute(input, tuple(range(input._data.ndim - 1, -1, -1)))


class ExpandBackward0(Node):
    """Backward of ``expand``: the gradient summed over the expanded dimensions."""

    def backward(self, g):
        return (unbroadcast(g, self.shape),)

    def graph_backward(self, g):
        from .elementwise import sum_to
        return (sum_to(g, self.shape),)


def expand(input, *shape) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    shape = sizes(shape)
    cur = input._data.shape
    lead = len(shape) - len(cur)
    if lead < 0:
        raise RuntimeError(
            f"expand(distgrad.Tensor{{{list(cur)}}}, size={list(shape)}): the number of sizes "
            f"provided ({len(shape)}) must be greater or equal to the number of dimensions in the "
            f"tensor ({len(cur)})")
    for i in range(lead):
        if shape[i] < 0:
            raise RuntimeError(f"The expanded size of the tensor ({shape[i]}) isn't allowed in a "
                               f"leading, non-existing dimension {i}")
    target = tuple(cur[i - lead] if s == -1 else s for i, s in enumerate(shape))
    for i, s in enumerate(cur):
        if s != 1 and s != target[i + lead]:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[i + lead]}) must match the existing size "
                f"({s}) at non-singleton dimension {i + lead}.  Target sizes: {list(shape)}.  "
                f"Tensor sizes: {list(cur)}")
    out = input._xp().broadcast_to(input._data, target)
    return _view_of(input, out, ExpandBackward0, shape=cur)


def expand_as(input, other) -> Tensor:
    """``input`` expanded to ``other``'s shape."""
    return expand(input, other.shape)


def broadcast_to(input, shape) -> Tensor:
    """``input`` broadcast to ``shape`` (``expand``)."""
    return expand(input, shape)


def squeeze(input, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all, or the given ones)."""
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        axes = normalize_dims(dim, len(shape)) or ()
        if not shape:
            axes = ()
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    return reshape(input, new)


def unsqueeze(input, dim) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    shape = input._data.shape
    nd = len(shape) + 1
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                         f"but got {dim})")
    d = dim % nd
    return reshape(input, shape[:d] + (1,) + shape[d:])


class CatBackward0(Node):
    """Backward of ``cat``: the gradient split back into the inputs."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        pieces = xp.split(g, self.offsets, axis=self.dim)
        return tuple(p if e is not None else None for p, e in zip(pieces, self.next_functions))

    def graph_backward(self, g):
        return tuple(g.narrow(self.dim, s, n) for s, n in zip((0,) + tuple(self.offsets), self.lengths))


def cat(tensors, dim=0) -> Tensor:
    """Concatenate tensors along an existing dimension (empty 1-D tensors are skipped next to
    tensors of another rank, as in PyTorch)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    if any(t._data.shape == (0,) for t in tensors) and any(t._data.ndim != 1 for t in tensors):
        # PyTorch's legacy rule: empty 1-D tensors are skipped next to tensors of another rank
        # (they get no gradient)
        tensors = [t for t in tensors if t._data.shape != (0,)]
    nd = tensors[0]._data.ndim
    d = normalize_dims(dim, nd)[0] if nd else 0
    xp = tensors[0]._xp()
    arrays = [t._data for t in tensors]
    try:
        out = xp.concatenate(arrays, axis=d)
    except TypeError:
        check_devices(*tensors)
        raise
    except ValueError:
        check_devices(*tensors)
        for i, t in enumerate(tensors):
            if t._data.ndim == 0:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                                   "concatenated") from None
        normalize_dims(dim, nd)
        ref = tensors[0].shape
        for i, t in enumerate(tensors):
            if t.ndim != nd:
                raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {t.ndim}") from None
            for j, (a, b) in enumerate(zip(ref, t.shape)):
                if j != d and a != b:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                                       f"size {a} but got size {b} for tensor number {i} in the list.") from None
        raise
    dt = arrays[0].dtype
    mixed = False
    for a in arrays:
        if a.dtype is not dt:
            mixed = True
            dt = result_type(*arrays)
            if out.dtype != dt:
                out = out.astype(dt)
            break
    if _state.enabled and any(t._requires_grad for t in tensors):
        node = CatBackward0(tensors)
        if mixed:
            cast_grads_to_inputs(node, tensors)
        lengths = [t._data.shape[d] for t in tensors]
        node.dim, node.lengths = d, lengths
        node.offsets = list(np.cumsum(lengths)[:-1])
        return _from_node(out, node)
    return _wrap(out)


concat = concatenate = cat


def stack(tensors, dim=0) -> Tensor:
    """Stack tensors of equal shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def narrow(input, dim, start, length) -> Tensor:
    """The slice ``start:start+length`` of dimension ``dim`` (a view)."""
    d = normalize_dims(dim, input.ndim)[0]
    key = (slice(None),) * d + (slice(start, start + length),)
    return input[key]


def split(input, split_size_or_sections, dim=0):
    """Split into chunks of a given size, or into the given list of sizes (views)."""
    d = normalize_dims(dim, input.ndim)[0]
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        lengths = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        lengths = list(split_size_or_sections)
        if sum(lengths) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                               f"tensor's size at dimension {d}), but got split_sizes={lengths}")
    out, start = [], 0
    for length in lengths:
        out.append(narrow(input, d, start, length))
        start += length
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of (nearly) equal size."""
    n = input.shape[normalize_dims(dim, input.ndim)[0]]
    size = -(-n // chunks)
    return split(input, max(size, 1), dim)


def unbind(input, dim=0):
    """Slices along ``dim``, with that dimension removed."""
    d = normalize_dims(dim, input.ndim)[0]
    return tuple(input[(slice(None),) * d + (i,)] for i in range(input.shape[d]))


class ToCopyBackward0(Node):
    """Backward of ``to``: the gradient back on the input's device and dtype."""

    def backward(self, g):
        return (_backend.to_device(g, self.device).astype(self.dtype, copy=False),)

    def graph_backward(self, g):
        return (g.to(device=self.device, dtype=self.dtype),)


def to(input, *args, dtype=None, device=None, copy=False, non_blocking=False) -> Tensor:
    """Convert to another dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
    ``to(other_tensor)``."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (_backend.device,)) or (isinstance(a, str) and _looks_like_device(a)):
            device = a
        else:
            dtype = a
    dtype = as_dtype(dtype)
    data = input._data
    src_device = _backend.device_of(data)
    target_device = _backend.as_device(device) if device is not None else src_device
    same_dtype = dtype is None or dtype == data.dtype
    if same_dtype and target_device == src_device and not copy:
        return input
    out = _backend.to_device(data, target_device)
    if not same_dtype:
        out = out.astype(dtype)
    elif out is data:
        out = data.copy()
    if _state.enabled and input._requires_grad and out.dtype.kind == "f":
        node = ToCopyBackward0((input,))
        node.dtype, node.device = data.dtype, src_device
        return _from_node(out, node)
    return _wrap(out)


def _looks_like_device(s: str) -> bool:
    return s.split(":")[0] in ("cpu", "cuda")


def contiguous(input) -> Tensor:
    """A C-contiguous tensor with the same values (self if already contiguous)."""
    if input._data.flags.c_contiguous:
        return input
    return clone(input)


class CloneBackward0(Node):
    """Backward of ``clone``."""

    def backward(self, g):
        return (g,)

    def graph_backward(self, g):
        return (g,)


def clone(input) -> Tensor:
    """A copy with its own storage, differentiable."""
    out = input._data.copy()
    if _state.enabled and input._requires_grad:
        return _from_node(out, CloneBackward0((input,)))
    return _wrap(out)


def flip(input, *dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a tuple, or several ints)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return clone(_reversed(input, normalize_dims(list(dims), input.ndim) or ()))


def _reversed(input, axes) -> Tensor:
    """``input`` reversed along the (non-negative) dims ``axes``: a view with negative strides."""
    return input[tuple(slice(None, None, -1) if i in axes else slice(None)
                       for i in range(input.ndim))]


class RepeatBackward0(Node):
    """Backward of ``repeat``/``tile``: the gradient summed over the copies."""

    def backward(self, g):
        return (_sum_copies(g, self.split, self.axes, self.shape),)

    def graph_backward(self, g):
        return (_sum_copies(g, self.split, self.axes, self.shape),)


def _sum_copies(g, split, axes, shape):
    """``g`` (an array or a tensor) of a repeated tensor summed over its copies: reshaped to
    ``split`` (copies, size) pairs, summed over the copy ``axes`` and reshaped to ``shape``."""
    return g.reshape(split).sum(axes).reshape(shape)


def repeat(input, *repeats) -> Tensor:
    """``input`` repeated along each dim (``x.repeat(2, 1)``); more sizes than dims add leading
    dims."""
    reps = sizes(repeats)
    shape = input._data.shape
    if len(reps) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    padded = (1,) * (len(reps) - len(shape)) + shape
    target = [r * s for r, s in zip(reps, padded)]
    for r, size in zip(reps, target):
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{size if size < 0 else r}: {target}")
    out = input._xp().tile(input._data, reps)
    if _state.enabled and input._requires_grad:
        node = RepeatBackward0((input,))
        node.split = tuple([n for pair in zip(reps, padded) for n in pair])
        node.axes, node.shape = tuple(range(0, 2 * len(reps), 2)), shape
        return _from_node(out, node)
    return _wrap(out)


def tile(input, dims) -> Tensor:
    """``input`` repeated ``dims`` times along each dim; with fewer ``dims`` than dimensions the
    leading dims are repeated once (``repeat`` otherwise)."""
    reps = sizes(dims if isinstance(dims, (tuple, list)) else (dims,))
    return repeat(input, (1,) * (input._data.ndim - len(reps)) + reps)


class _TriangleBackward(Node):
    """Backward of ``tril``/``triu``: the same triangle of the gradient."""

    def backward(self, g):
        return (getattr(_backend.get_array_module(g), self.part)(g, self.diagonal),)

    def graph_backward(self, g):
        return (_triangle(g, self.diagonal, type(self)),)


class TrilBackward0(_TriangleBackward):
    """Backward of ``tril``."""

    part = "tril"


class TriuBackward0(_TriangleBackward):
    """Backward of ``triu``."""

    part = "triu"


def _triangle(input, diagonal, node_cls) -> Tensor:
    data = input._data
    if data.ndim < 2:
        raise RuntimeError(f"{node_cls.part}: input tensor must have at least 2 dimensions")
    out = getattr(input._xp(), node_cls.part)(data, diagonal)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.diagonal = diagonal
        return _from_node(out, node)
    return _wrap(out)


def tril(input, diagonal=0) -> Tensor:
    """The lower triangle of each matrix (the last two dims): the elements above diagonal
    ``diagonal`` (0 the main one, > 0 above it) set to zero."""
    return _triangle(input, diagonal, TrilBackward0)


def triu(input, diagonal=0) -> Tensor:
    """The upper triangle of each matrix (the last two dims): the elements below diagonal
    ``diagonal`` (0 the main one, < 0 below it) set to zero."""
    return _triangle(input, diagonal, TriuBackward0)


# --------------------------------------------------------------------------------------------
# diagonals, roll, diff, meshgrid
# --------------------------------------------------------------------------------------------
def _diagonal_key(xp, shape, offset, dim1, dim2):
    """Index arrays picking diagonal ``offset`` of the (non-negative, distinct) dims ``dim1`` and
    ``dim2`` of an array of ``shape``, laid out as ``diagonal`` lays it out: the other dims in
    order, then the diagonal. They write a gradient onto a diagonal, or values into one."""
    others = [d for d in range(len(shape)) if d not in (dim1, dim2)]
    nd = len(others) + 1
    length = max(0, min(shape[dim1] - max(-offset, 0), shape[dim2] - max(offset, 0)))
    key = [None] * len(shape)
    for pos, d in enumerate(others):
        key[d] = xp.arange(shape[d]).reshape([shape[d] if i == pos else 1 for i in range(nd)])
    diag = xp.arange(length).reshape([1] * (nd - 1) + [length])
    key[dim1] = diag + max(-offset, 0)
    key[dim2] = diag + max(offset, 0)
    return tuple(key)


def _diagonal_dims(ndim, dim1, dim2):
    """``dim1``, ``dim2`` normalised, with PyTorch's error when they are the same dim."""
    d1, d2 = normalize_dims(dim1, ndim)[0], normalize_dims(dim2, ndim)[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


class DiagonalBackward0(IndexBackward0):
    """Backward of ``diagonal`` (and of ``diag`` of a matrix): the gradient written onto the
    diagonal of zeros (the indices of ``key`` are distinct, so it is assigned)."""

    basic = True


class TraceBackward0(DiagonalBackward0):
    """Backward of ``trace``: the gradient on every element of the main diagonal."""


def _diagonal(input, offset, dim1, dim2, view) -> Tensor:
    """Diagonal ``offset`` of dims ``dim1``/``dim2`` as the last dim: a view of ``input`` (writable,
    as in PyTorch), or a copy without ``view``."""
    data = input._data
    xp = input._xp()
    d1, d2 = _diagonal_dims(data.ndim, dim1, dim2)
    out = xp.diagonal(data, offset, d1, d2)
    key = _diagonal_key(xp, data.shape, offset, d1, d2)
    if view:
        if xp is np and data.flags.writeable:
            out.flags.writeable = True  # NumPy's diagonal view is read-only
        return _view_of(input, out, DiagonalBackward0, view=key, key=key, shape=data.shape)
    out = out.copy()
    if _state.enabled and input._requires_grad:
        node = DiagonalBackward0((input,))
        node.key, node.shape = key, data.shape
        return _from_node(out, node)
    return _wrap(out)


def diagonal(input, offset=0, dim1=0, dim2=1) -> Tensor:
    """Diagonal ``offset`` (0 the main one, > 0 above it) of the matrices in dims ``dim1`` and
    ``dim2``, appended as the last dim: a view sharing storage with ``input``."""
    return _diagonal(input, offset, dim1, dim2, True)


class DiagEmbedBackward0(Node):
    """Backward of ``diag_embed``: the diagonal of the gradient."""

    def backward(self, g):
        return (g[self.key],)

    def graph_backward(self, g):
        return (diagonal(g, self.offset, self.dim1, self.dim2),)


def diag_embed(input, offset=0, dim1=-2, dim2=-1) -> Tensor:
    """Matrices (in dims ``dim1``/``dim2`` of a result with one dim more) whose diagonal
    ``offset`` holds the last dim of ``input``; zeros elsewhere."""
    data = input._data
    d1, d2 = _diagonal_dims(data.ndim + 1, dim1, dim2)
    n = data.shape[-1] + abs(offset)
    rest = iter(data.shape[:-1])
    shape = tuple([n if d in (d1, d2) else next(rest) for d in range(data.ndim + 1)])
    xp = input._xp()
    key = _diagonal_key(xp, shape, offset, d1, d2)
    out = xp.zeros(shape, dtype=data.dtype)
    out[key] = data
    if _state.enabled and input._requires_grad:
        node = DiagEmbedBackward0((input,))
        node.key, node.offset, node.dim1, node.dim2 = key, offset, d1, d2
        return _from_node(out, node)
    return _wrap(out)


def diag(input, diagonal=0) -> Tensor:
    """A matrix with the vector ``input`` on diagonal ``diagonal`` (0 the main one, > 0 above
    it), or the diagonal of the matrix ``input`` as a new vector."""
    if input._data.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input._data.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")
    return _diagonal(input, diagonal, 0, 1, False)


def trace(input) -> Tensor:
    """Sum of the main diagonal of a matrix (int64 for integer input)."""
    data = input._data
    if data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {data.ndim}")
    if data.dtype.kind == "b":
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    out = data.trace(dtype=np.int64 if data.dtype.kind in "iu" else None)
    if _state.enabled and input._requires_grad:
        node = TraceBackward0((input,))
        node.key, node.shape = _diagonal_key(input._xp(), data.shape, 0, 0, 1), data.shape
        return _from_node(out, node)
    return _wrap(out)


def fill_diagonal_(input, fill_value, wrap=False) -> Tensor:
    """Fill the main diagonal in place (of a matrix, or of a tensor whose dims are all equal);
    with ``wrap``, the diagonal of a tall matrix starts again every ``columns + 1`` rows."""
    from .inplace import apply_inplace
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    size = int(np.prod(shape))
    step = sum([int(np.prod(shape[i + 1:])) for i in range(len(shape))])  # (i, i, ..) -> i + 1
    end = size if wrap or len(shape) > 2 else min(size, shape[1] * shape[1])
    xp = input._xp()
    key = xp.unravel_index(xp.arange(0, end, step), shape)
    return apply_inplace(input, put_at_key, tuple(key), fill_value)


class RollBackward0(Node):
    """Backward of ``roll``: the gradient rolled back."""

    def backward(self, g):
        return (_backend.get_array_module(g).roll(g, self.back, self.axes),)

    def graph_backward(self, g):
        return (roll(g, self.back, self.axes),)


def roll(input, shifts, dims=None) -> Tensor:
    """Shift the elements along ``dims`` by ``shifts`` (ints or tuples), wrapping around; without
    ``dims`` the flattened tensor is rolled."""
    shifts = [int(s) for s in (shifts if isinstance(shifts, (tuple, list)) else [shifts])]
    if dims is not None:
        dims = [int(d) for d in (dims if isinstance(dims, (tuple, list)) else [dims])]
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != (1 if dims is None else len(dims)):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims or ())}")
    data = input._data
    if dims is None:
        shift, axes = shifts[0], None
    else:
        if data.ndim == 0:
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
        shift, axes = tuple(shifts), tuple([normalize_dims(d, data.ndim)[0] for d in dims])
    out = input._xp().roll(data, shift, axes)
    if _state.enabled and input._requires_grad:
        node = RollBackward0((input,))
        node.back = -shift if axes is None else tuple([-s for s in shift])
        node.axes = axes
        return _from_node(out, node)
    return _wrap(out)


def diff(input, n=1, dim=-1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``out[i] = x[i + 1] - x[i]``, ``!=`` for
    bool), of ``input`` with ``prepend``/``append`` concatenated to it along ``dim`` first."""
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = normalize_dims(dim, nd)[0]
    parts = [input]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        if not isinstance(extra, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not "
                            f"{type(extra).__name__}")
        if extra._data.ndim != nd:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for i, (a, b) in enumerate(zip(input.shape, extra.shape)):
            if i != d and a != b:
                raise RuntimeError("diff expects the shape of tensor to prepend or append to match "
                                   "that of input except along the differencing dimension; "
                                   f"input.size({i}) = {a}, but got tensor.size({i}) = {b}")
        parts.insert(0 if name == "prepend" else len(parts), extra)
    out = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        length = out.shape[d]
        if length == 0:
            break
        later, earlier = narrow(out, d, 1, length - 1), narrow(out, d, 0, length - 1)
        out = later != earlier if out._data.dtype.kind == "b" else later - earlier
    return out


MESHGRID_WARNING = ("torch.meshgrid: in an upcoming release, it will be required to pass the "
                    "indexing argument.")


def meshgrid(*tensors, indexing=None):
    """Coordinate grids of 0-D/1-D tensors (or one list of them): output ``i`` holds
    ``tensors[i]`` along dim ``i`` (``indexing='ij'``, the default, which warns when not given)
    or with the first two dims swapped (``'xy'``). The outputs are expanded views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for x in tensors:
        if x._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {x}")
        if x.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if x.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    order = list(range(len(tensors)))
    if indexing == "xy" and len(order) > 1:
        order[0], order[1] = 1, 0  # tensor i goes to dim order[i]
    shape = [0] * len(tensors)
    for i, x in zip(order, tensors):
        shape[i] = x._data.size
    return tuple([expand(reshape(x, [-1 if j == i else 1 for j in range(len(shape))]), shape)
                  for i, x in zip(order, tensors)])


# --------------------------------------------------------------------------------------------
# Dimension moves and stacking helpers (compositions of permute, reshape and cat)
# --------------------------------------------------------------------------------------------
def _dim_list(dims, nd, name):
    """``dims`` (an int or a sequence) as a list of non-negative dims, without repeats."""
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    out = [normalize_dims(d, nd)[0] for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    return out


def movedim(input, source, destination) -> Tensor:
    """``input`` with the dims ``source`` moved to positions ``destination`` (ints or sequences);
    the other dims keep their order."""
    nd = input._data.ndim
    src = _dim_list(source, nd, "source")
    dst = _dim_list(destination, nd, "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    perm = [-1] * max(nd, 1)
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter([i for i in range(nd) if i not in src])
    perm = [p if p >= 0 else next(rest) for p in perm]
    return permute(input, perm) if nd else input


moveaxis = movedim


def swapaxes(input, axis0, axis1) -> Tensor:
    """Swap two dims (NumPy's name for ``transpose``)."""
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def _atleast(tensors, ndim, shape_of):
    """``atleast_Nd``: each tensor reshaped by ``shape_of`` when it has fewer than ``ndim`` dims;
    one tensor in gives one tensor out, several (or a sequence) give a tuple."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple([t if t._data.ndim >= ndim else reshape(t, shape_of(t.shape)) for t in tensors])
    return out[0] if single else out


def atleast_1d(*tensors):
    """Each tensor with at least one dim (a 0-d tensor becomes shape (1,))."""
    return _atleast(tensors, 1, lambda s: (1,))


def atleast_2d(*tensors):
    """Each tensor with at least two dims (shape (n,) becomes (1, n))."""
    return _atleast(tensors, 2, lambda s: (1,) * (2 - len(s)) + tuple(s))


def atleast_3d(*tensors):
    """Each tensor with at least three dims: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""
    return _atleast(tensors, 3, lambda s: ((1,) + tuple(s) + (1,))[-3:] if s else (1, 1, 1))


def _stack_list(tensors, name):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors) -> Tensor:
    """Concatenate horizontally: along dim 0 for 1-d tensors, along dim 1 otherwise."""
    tensors = atleast_1d(_stack_list(tensors, "hstack"))
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate vertically (along dim 0) after ``atleast_2d``."""
    return cat(atleast_2d(_stack_list(tensors, "vstack")), 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Concatenate depthwise (along dim 2) after ``atleast_3d``."""
    return cat(atleast_3d(_stack_list(tensors, "dstack")), 2)


def column_stack(tensors) -> Tensor:
    """Concatenate along dim 1, 0-d and 1-d tensors taken as columns."""
    tensors = _stack_list(tensors, "column_stack")
    return cat([reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors], 1)


# --------------------------------------------------------------------------------------------
# Selections, sliding windows, interleaved repeats, splits, rotations, broadcasting and built
# matrices (compositions of indexing, expand, cat and cumprod, except unfold's strided view)
# --------------------------------------------------------------------------------------------
def dim_size(input, dim) -> int:
    """``input.size(dim)``, with PyTorch's errors for a 0-d tensor and a dim out of range."""
    nd = input._data.ndim
    if nd == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return input._data.shape[normalize_dims(dim, nd)[0]]


def _tensor_args(tensors):
    """The tensors given to a varargs op (``block_diag(*tensors)`` ...), with PyTorch's error
    for anything else (a list of tensors included)."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return tensors


def select(input, dim, index) -> Tensor:
    """The slice ``index`` of dim ``dim``, with that dim removed (a view)."""
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = normalize_dims(dim, len(shape))[0]
    index = int(index)
    if not -shape[d] <= index < shape[d]:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(shape)} at dimension {d}")
    return input[(slice(None),) * d + (index,)]


class UnfoldBackward0(IndexBackward0):
    """Backward of ``unfold``: each window's gradient added back onto the elements it covers
    (where windows overlap, their gradients add up)."""

    basic = False

    def backward(self, g):
        out = _backend.get_array_module(g).zeros(self.shape, dtype=g.dtype)
        lead = (slice(None),) * self.dim
        span = self.step * (g.shape[self.dim] - 1) + 1  # first to last window start
        for j in range(g.shape[-1]):  # element j of every window at once
            out[lead + (slice(j, j + span, self.step),)] += g[..., j]
        return (out,)


def _window_key(xp, shape, dim, count, size, step):
    """Index arrays that pick ``unfold``'s windows from an array of ``shape`` (broadcasting to
    the unfolded shape): window ``i`` of dim ``dim`` starts at ``i * step``, its ``size``
    elements lie along a new last dim, and the other dims stay in place."""
    nd = len(shape) + 1
    key = []
    for d, n in enumerate(shape):
        axis = xp.arange(count) * step if d == dim else xp.arange(n)
        key.append(axis.reshape([axis.size if i == d else 1 for i in range(nd)]))
    key[dim] = key[dim] + xp.arange(size).reshape((1,) * (nd - 1) + (size,))
    return tuple(key)


def unfold(input, dimension, size, step) -> Tensor:
    """``Tensor.unfold``: the windows of ``size`` elements of dim ``dimension``, ``step`` apart,
    with each window's elements along a new last dim: a strided view (windows may overlap)."""
    data = input._data
    d = normalize_dims(dimension, data.ndim)[0]
    length = data.shape[d] if data.ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is "
                           f"{size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if not data.ndim:
        return narrow(reshape(input, (1,)), 0, 0, size)
    count = (length - size) // step + 1
    strides = data.strides
    out = input._xp().lib.stride_tricks.as_strided(
        data, data.shape[:d] + (count,) + data.shape[d + 1:] + (size,),
        strides[:d] + (strides[d] * step,) + strides[d + 1:] + (strides[d],))
    key = _window_key(input._xp(), data.shape, d, count, size, step)
    return _view_of(input, out, UnfoldBackward0, view=key, key=key, shape=data.shape, dim=d,
                    step=step)


def _repeat_indices(repeats, output_size) -> Tensor:
    """``repeat_interleave(repeats)``: each index ``i`` of the 1-d int32/int64 tensor
    ``repeats`` repeated ``repeats[i]`` times (in ``repeats``' dtype)."""
    counts = repeats._data
    if counts.dtype not in (np.int32, np.int64):
        raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for "
                                  f"'{torch_type_name(counts.dtype)}'")
    if counts.ndim != 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    if counts.size:
        if output_size is not None and int(counts.sum()) != output_size:
            raise RuntimeError("allocated size does not match required size")
        if int(counts.min()) < 0:
            raise RuntimeError("repeats can not be negative")
    xp = repeats._xp()
    return _wrap(xp.repeat(xp.arange(counts.size, dtype=counts.dtype), counts))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each slice of dim ``dim`` (each element of the flattened tensor without ``dim``) repeated
    ``repeats`` times, an int or a tensor of counts (0-d or one per slice); with a tensor of
    counts alone, ``repeat_interleave(counts)``, each index ``i`` repeated ``counts[i]`` times."""
    if repeats is None:
        return _repeat_indices(input, output_size)
    source = input if dim is not None else flatten(input)
    if isinstance(repeats, Tensor):
        d = 0 if dim is None else dim
        if repeats._data.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        n = dim_size(source, d)
        if repeats._data.size == 1:
            repeats = expand(reshape(repeats, (1,)), (n,))
        elif repeats._data.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {repeats._data.shape[0]} and "
                               f"input.size({d}) = {n}")
        return index_select(source, d, _repeat_indices(repeats, output_size))
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"repeat_interleave() received an invalid combination of arguments - got "
                        f"({type(repeats).__name__}), but expected repeats to be an int or a "
                        f"Tensor")
    d = normalize_dims(0 if dim is None else dim, input._data.ndim)[0]
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    wide = unsqueeze(source, d + 1)  # PyTorch's IndexError for a 0-d input with a dim
    shape = source._data.shape
    if output_size is not None and output_size != shape[d] * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected "
                           f"{shape[d] * repeats} but got {output_size}")
    copies = clone(expand(wide, shape[:d + 1] + (repeats,) + shape[d + 1:]))
    return reshape(copies, shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


def tensor_split(input, indices_or_sections, dim=0):
    """Views of ``input`` split along ``dim`` into ``indices_or_sections`` pieces (an int: the
    first ``size % sections`` one longer than the others) or at the given indices (a sequence,
    sliced as Python slices: negative, out of range or decreasing indices give short or empty
    pieces); a tensor holds either (0-d or 1-d, int64)."""
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = normalize_dims(dim, nd)[0]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec._data.dtype != np.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of "
                               f"long, but got {torch_type_name(spec._data.dtype)}")
        if spec._data.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {spec._data.ndim} dims")
        spec = spec.tolist()
    if isinstance(spec, (int, np.integer)):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        small, extra = divmod(input._data.shape[d], int(spec))
        bounds = [i * small + min(i, extra) for i in range(1, spec)]
    else:
        bounds = [int(i) for i in spec]
    lead = (slice(None),) * d
    return tuple([input[lead + (slice(start, stop),)]
                  for start, stop in zip([0] + bounds, bounds + [None])])


def _split_along(input, indices_or_sections, name, min_dims, dim):
    """``hsplit``/``vsplit``/``dsplit``: ``tensor_split`` along ``dim`` of a tensor with at least
    ``min_dims`` dims, where a number of sections must divide the dim's size."""
    nd = input._data.ndim
    if nd < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {nd} dimensions!")
    n = input._data.shape[dim]
    sections = indices_or_sections
    if isinstance(sections, (int, np.integer)) and (sections == 0 or n % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size "
                           f"of the dimension {n} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 of a 1-d tensor); sections must divide the size."""
    dim = 0 if input._data.ndim == 1 else 1
    return _split_along(input, indices_or_sections, "hsplit", 1, dim)


def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of an at least 2-d tensor; sections must divide the size."""
    return _split_along(input, indices_or_sections, "vsplit", 2, 0)


def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of an at least 3-d tensor; sections must divide the size."""
    return _split_along(input, indices_or_sections, "dsplit", 3, 2)


def rot90(input, k=1, dims=(0, 1)) -> Tensor:
    """``input`` rotated by ``k`` quarter turns (any int) in the plane of ``dims``, from the
    first dim towards the second: a contiguous copy."""
    dims = list(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = normalize_dims(dims[0], nd)[0], normalize_dims(dims[1], nd)[0]
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k %= 4
    if k % 2:
        return clone(transpose(_reversed(input, (d1 if k == 1 else d0,)), d0, d1))
    return clone(_reversed(input, (d0, d1) if k else ()))


def fliplr(input) -> Tensor:
    """``input`` reversed along dim 1, left to right (at least 2-d)."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input) -> Tensor:
    """``input`` reversed along dim 0, upside down (at least 1-d)."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of ``shapes`` (sequences of sizes, or ints for 1-d shapes; None
    is skipped) broadcast to, with the errors of PyTorch's Python implementation."""
    shapes = [(s,) if isinstance(s, int) else s for s in shapes if s is not None]
    for s in shapes:
        if not isinstance(s, Sequence):
            raise RuntimeError("Input shapes should be of type ints, a tuple of ints, or a list "
                               f"of ints, got {s}")
    common = [1] * max([len(s) for s in shapes], default=0)
    for i, s in enumerate(shapes):
        for d in range(-1, -1 - len(s), -1):
            if s[d] == common[d]:
                continue
            if common[d] == 1:
                if s[d] < 0:
                    raise ValueError("Attempting to broadcast a dimension with negative length!")
                common[d] = s[d]
            elif s[d] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {s[d]} at "
                                   f"{d}! Mismatching argument at index {i} had {s}; but "
                                   f"expected shape should be broadcastable to {common}")
    return tuple(common)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views; one that has that shape
    already is returned as is)."""
    shape = ()
    for t in _tensor_args(tensors):
        try:
            shape = np.broadcast_shapes(shape, t.shape)
        except ValueError:
            raise broadcast_error(shape, t.shape) from None
    return tuple([t if t.shape == shape else expand(t, shape) for t in tensors])


def cartesian_prod(*tensors) -> Tensor:
    """The Cartesian product of 1-d tensors of one dtype, one row per tuple in
    ``itertools.product`` order (a single tensor is returned as is)."""
    for t in _tensor_args(tensors):
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([flatten(g) for g in meshgrid(*tensors, indexing="ij")], 1)


def block_diag(*tensors) -> Tensor:
    """The block-diagonal matrix of the tensors (at most 2-d; a 0-d or 1-d one is one row) in
    their promoted dtype, zeros elsewhere."""
    for i, t in enumerate(_tensor_args(tensors)):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t._data.ndim} dimensions")
    if not tensors:
        return _wrap(np.empty((1, 0), get_default_dtype()))
    dtype = result_type(*[t._data for t in tensors])
    blocks = [to(t if t._data.ndim == 2 else reshape(t, (1, t._data.size)), dtype)
              for t in tensors]
    width = sum([b.shape[1] for b in blocks])
    xp = tensors[0]._xp()
    rows, left = [], 0
    for b in blocks:
        height, cols = b.shape
        rows.append(cat([_wrap(xp.zeros((height, left), dtype)), b,
                         _wrap(xp.zeros((height, width - left - cols), dtype))], 1))
        left += cols
    return cat(rows, 0)


def combinations(input, r=2, with_replacement=False) -> Tensor:
    """The ``r``-element combinations of a 1-d tensor's elements, one per row in ``itertools``
    order (with repeated elements when ``with_replacement``)."""
    data = input._data
    if data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    xp = input._xp()
    if r == 0:
        return _wrap(xp.empty((0,), data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.fromiter(itertools.chain.from_iterable(pick(range(data.shape[0]), r)), np.int64)
    return input[xp.asarray(index.reshape(-1, r))]


def vander(x, N=None, increasing=False) -> Tensor:
    """The Vandermonde matrix of a 1-d tensor: column ``j`` of ``N`` (default ``len(x)``) holds
    ``x ** (N - 1 - j)``, ``x ** j`` when ``increasing``, as cumulative products; integer and
    bool input give int64."""
    from .scan import cumprod
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    m = x._data.shape[0]
    n = m if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = promote_types(x._data.dtype, np.dtype(np.int64))
    out = _wrap(x._xp().ones((m, min(n, 1)), dtype))
    if n > 1:
        out = cat([out, cumprod(expand(unsqueeze(to(x, dtype), 1), (m, n - 1)), 1)], 1)
    return out if increasing else flip(out, 1)
