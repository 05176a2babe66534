"""Helpers shared by the op modules: argument normalisation and broadcast reduction."""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import _backend
from ..autograd import grad_mode as _grad_mode
from ..dtypes import get_default_dtype
from ..tensor import Tensor

_state = _grad_mode._state


def unbroadcast(g, shape):
    """Sum ``g`` over the dimensions that broadcasting added so it has exactly ``shape``."""
    if g.shape == shape:
        return g
    ndiff = g.ndim - len(shape)
    if ndiff:
        g = sum_leading(g, ndiff)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


# Sums over the first or last dimension as a matrix-vector product with ones: BLAS does it several
# times faster than NumPy's reduction when the rows are short (a bias gradient over a batch, a
# softmax over ten classes), and at least as accurately. Float32 and float64 NumPy arrays only;
# NumPy's pairwise summation stays for full sums and long last-dimension rows, where it is the
# more accurate (and rounds as PyTorch's does).
_LONGEST_GEMV_ROW = 4096
_ones_vectors = {}


def _ones(n, dtype_char):
    """Read-only ones of length ``n``: a vector and a column (cached: sums reuse a few sizes)."""
    ones = _ones_vectors.get((n, dtype_char))
    if ones is None:
        if len(_ones_vectors) >= 64:
            _ones_vectors.clear()
        vector = np.ones(n, dtype_char)
        vector.flags.writeable = False
        ones = _ones_vectors[(n, dtype_char)] = (vector, vector.reshape(n, 1))
    return ones


def sum_leading(a, n=1, out=None):
    """``a`` summed over its first ``n`` dimensions (into ``out`` when given: an array of the
    result's shape and dtype)."""
    if (a.ndim > n and type(a) is np.ndarray and a.dtype.char in "fd"
            and (out is None or out.flags.c_contiguous)):
        rest = a.shape[n:]
        rows = a if a.ndim == 2 else a.reshape(-1, math.prod(rest))
        vector = _ones(rows.shape[0], a.dtype.char)[0]
        if out is None:
            if len(rest) == 1:
                return vector.dot(rows)
            out = np.empty(rest, a.dtype)  # not a reshaped view: the result owns its memory
        vector.dot(rows, out=out.reshape(-1))
        return out
    return a.sum(axis=tuple(range(n)), out=out)


def sum_last(a, keepdims=False):
    """``a`` (at least 1-D) summed over its last dimension."""
    c = a.shape[-1]
    if a.ndim > 1 and c <= _LONGEST_GEMV_ROW and type(a) is np.ndarray and a.dtype.char in "fd":
        vector, column = _ones(c, a.dtype.char)
        if a.ndim == 2:
            return a.dot(column if keepdims else vector)
        total = np.empty(a.shape[:-1] + (1,) if keepdims else a.shape[:-1], a.dtype)
        a.reshape(-1, c).dot(vector, out=total.reshape(-1))
        return total
    return a.sum(axis=-1, keepdims=keepdims)


def sum_axis(a, axis, keepdims=False):
    """``a.sum(axis=axis, keepdims=keepdims)`` for one non-negative ``axis``, through
    ``sum_leading`` or ``sum_last`` where they apply."""
    if axis == a.ndim - 1:
        return sum_last(a, keepdims)
    if axis == 0:
        total = sum_leading(a)
        return total.reshape((1,) + total.shape) if keepdims else total
    return a.sum(axis=axis, keepdims=keepdims)


# A maximum over many short last-dimension rows (logits over ten classes) runs column by column
# on a transposed copy: NumPy's reduction loops row by row, several times slower there.
_LONGEST_SHORT_ROW = 32


def max_axis(a, axis, keepdims=False):
    """``a.max(axis=axis, keepdims=keepdims)`` for one non-negative ``axis``."""
    if (axis == a.ndim - 1 and 0 < a.shape[-1] <= _LONGEST_SHORT_ROW
            and a.size >= _LONGEST_SHORT_ROW * a.shape[-1] and type(a) is np.ndarray):
        top = np.maximum.reduce(a.reshape(-1, a.shape[-1]).T.copy(), axis=0)
        return top.reshape(a.shape[:-1] + (1,) if keepdims else a.shape[:-1])
    return a.max(axis=axis, keepdims=keepdims)


# NumPy's maximum of an array and a scalar has no vectorised loop; against an array of zeros it
# is two to three times faster (64x256 float32: 7 -> 3 us). The zeros are views of one read-only
# anonymous mapping, whose pages all read as the kernel's zero page: they take no memory.
_ZERO_MAPPING_BYTES = 1 << 28
_SHORTEST_ZEROS_MAXIMUM = 2048
_zero_mapping = None
_zero_flats = {}


def _zeros_view(a):
    """Read-only zeros of ``a``'s shape and dtype (at most ``_ZERO_MAPPING_BYTES``)."""
    global _zero_mapping
    flat = _zero_flats.get(a.dtype)
    if flat is None:
        if _zero_mapping is None:
            import mmap
            _zero_mapping = mmap.mmap(-1, _ZERO_MAPPING_BYTES, prot=mmap.PROT_READ)
        flat = _zero_flats[a.dtype] = np.frombuffer(_zero_mapping, a.dtype)
    return flat[:a.size].reshape(a.shape)


def maximum_zero(a):
    """``maximum(a, 0)`` (NaN stays NaN), through the zero mapping for NumPy float arrays."""
    if (type(a) is np.ndarray and a.dtype.char in "fd"
            and _SHORTEST_ZEROS_MAXIMUM <= a.size and a.nbytes <= _ZERO_MAPPING_BYTES):
        return np.maximum(a, _zeros_view(a))
    return _backend.get_array_module(a).maximum(a, 0)


def promote_types(a, b):
    """PyTorch's ``promote_types`` for two dtypes: a float or complex wins over any int/bool (so
    int64 with float16 gives float16, where NumPy gives float64); otherwise NumPy's rule (which
    matches)."""
    if a == b:
        return a
    fa, fb = a.kind in "fc", b.kind in "fc"
    if fa != fb:
        return a if fa else b
    return np.promote_types(a, b)


_CATEGORIES = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _combine_categories(higher, lower):
    # c10 ``combine_categories``: a lower-priority operand (0-d tensor) only matters when it is of
    # a higher category (bool < integer < float < complex) than the higher-priority ones.
    if higher is None:
        return lower
    if lower is None or _CATEGORIES[lower.kind] <= _CATEGORIES[higher.kind]:
        return higher
    return promote_types(higher, lower)


def result_type(*arrays):
    """The dtype PyTorch gives an op on these arrays: tensors with dimensions decide the type;
    0-d tensors only promote the category (float32 tensor + float64 0-d tensor -> float32,
    int32 tensor + float64 0-d tensor -> float64)."""
    dim = zero = None
    for arr in arrays:
        dt = arr.dtype
        if arr.ndim:
            dim = dt if dim is None else promote_types(dim, dt)
        else:
            zero = dt if zero is None else promote_types(zero, dt)
    return _combine_categories(dim, zero)


def fix_dtype(out, a, b, true_divide=False):
    """``out`` (NumPy's result of a binary op on arrays ``a`` and ``b``) cast to PyTorch's result
    dtype. Called only when the dtypes differ (or for true division), off the fast path."""
    dt = result_type(a, b)
    if true_divide and dt.kind not in "fc":
        dt = get_default_dtype()
    if out.dtype != dt and out.dtype.kind != "b":
        return out.astype(dt)
    return out


class _CastGrads:
    """Mixin for nodes of ops on inputs of different float dtypes: each gradient is returned in
    its input's dtype (PyTorch's engine casts them), so a float32 subgraph never carries float64
    gradients. Only such nodes get it, so the common path pays nothing."""

    def backward(self, *grads):
        return _cast(super().backward(*grads), self._in_dtypes, False)

    def graph_backward(self, *grads):
        return _cast(super().graph_backward(*grads), self._in_dtypes, True)


def _cast(grads, dtypes, tensors):
    out = []
    for g, dt in zip(grads, dtypes):
        if g is not None and dt is not None and g.dtype != dt:
            if g.dtype.kind == "c":  # a real input's gradient is the real part
                g = g.real
            g = g.to(dt) if tensors else g.astype(dt)
        out.append(g)
    return tuple(out)


_CAST_CLASSES = {}


def cast_grads_to_inputs(node, inputs):
    """Make ``node`` (of an op whose tensor ``inputs`` have different dtypes, float or integer)
    return gradients in the dtype of each float input. Returns the node."""
    dtypes = tuple([t._data.dtype if isinstance(t, Tensor) and t._data.dtype.kind == "f" else None
                    for t in inputs])
    floats = set(dtypes) - {None}
    # An integer operand matters too: ``g * int_array`` would be float64 in NumPy.
    if not floats or len(floats) == 1 and len({t._data.dtype for t in inputs
                                               if isinstance(t, Tensor)}) == 1:
        return node
    cls = type(node)
    sub = _CAST_CLASSES.get(cls)
    if sub is None:  # keeps the class name, so name() is unchanged
        sub = _CAST_CLASSES[cls] = type(cls.__name__, (_CastGrads, cls), {})
    node.__class__ = sub
    node._in_dtypes = dtypes
    return node


def scalar_value(value):
    """A NumPy scalar (``np.float64(2)``) as the Python number PyTorch treats it as."""
    if isinstance(value, np.generic):
        return value.item()
    return value


TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                     "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool"}


def torch_type_name(dtype) -> str:
    """PyTorch's scalar type name (``Float``, ``Long`` ...) used in its error messages."""
    return TORCH_DTYPE_NAMES.get(np.dtype(dtype).name, np.dtype(dtype).name)


_C_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                 "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                 "uint8": "unsigned char"}


def c_type_name(dtype) -> str:
    """The C++ type name of ``dtype`` (``float``, ``long int`` ...) that some PyTorch errors use."""
    name = np.dtype(dtype).name
    return _C_TYPE_NAMES.get(name, name)


def sizes(args) -> tuple:
    """Sizes given as varargs or one tuple/list: ``f(2, 3)`` and ``f((2, 3))`` both give (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    if len(args) == 1 and isinstance(args[0], Tensor):
        args = args[0].tolist()
        if not isinstance(args, list):
            args = [args]
    return tuple([int(s) for s in args])


def normalize_dims(dim, ndim):
    """A dim argument (None, an int or a sequence) as a sorted tuple of non-negative axes, or None."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if not dim:  # PyTorch: an empty dim list reduces over all dimensions
            return None
        axes = tuple(sorted([_wrap_dim(d, ndim) for d in dim]))
        for i in range(1, len(axes)):
            if axes[i] == axes[i - 1]:
                raise RuntimeError(f"dim {axes[i]} appears multiple times in the list of dims")
        return axes
    return (_wrap_dim(dim, ndim),)


def _wrap_dim(d, ndim):
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {d})")
    return d % n


def broadcast_error(a_shape, b_shape) -> RuntimeError:
    """PyTorch's message for shapes that do not broadcast."""
    n = max(len(a_shape), len(b_shape))
    a = (1,) * (n - len(a_shape)) + tuple(a_shape)
    b = (1,) * (n - len(b_shape)) + tuple(b_shape)
    for i in range(n - 1, -1, -1):
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            return RuntimeError(
                f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                f"non-singleton dimension {i}")
    return RuntimeError(f"shapes {tuple(a_shape)} and {tuple(b_shape)} cannot be broadcast")


def check_same_device(a: Tensor, b: Tensor):
    """Raise PyTorch's error when two tensors live on different devices."""
    da, db = a.device, b.device
    if da != db:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two "
                           f"devices, {da} and {db}!")


def check_devices(*values):
    """Raise PyTorch's same-device error when the tensors among ``values`` (other values are
    skipped) live on different devices. Called after an op failed, so the fast path pays
    nothing: CuPy raises TypeError for a NumPy operand and ValueError for another GPU's array."""
    first = None
    for v in values:
        if isinstance(v, Tensor):
            if first is None:
                first = v
            elif type(v._data) is not type(first._data) or v._data is not first._data:
                check_same_device(first, v)


def device_guard(fn):
    """``fn`` (an op on several tensors) with PyTorch's same-device error when it fails on
    tensors of different devices."""
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError):
            check_devices(*args, *kwargs.values())
            raise
    return guarded
