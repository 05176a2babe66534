"""Indexing: ``x[key]`` (basic slices, ints, integer tensors with repeats, bool masks), the
out-of-place ``put_at_key`` behind ``x[key] = value``, ``gather``/``scatter``/``scatter_add``
along a dim, ``take_along_dim`` and ``masked_select``; PyTorch's ``index_add``, ``index_copy``,
``index_fill``, ``index_put``, ``take``, ``masked_scatter`` and
``scatter_reduce``."""
from __future__ import annotations

import re
import warnings

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..tensor import Tensor, _from_node
from ._util import (_state, broadcast_error, c_type_name, check_devices, normalize_dims,
                    torch_type_name, unbroadcast)

_wrap = Tensor._wrap


def convert_key(key):
    """An indexing key with tensors replaced by their arrays; and whether it is basic indexing
    (slices, ints, None, Ellipsis only: the result is a view)."""
    if isinstance(key, tuple):
        parts = [convert_key(k) for k in key]
        return tuple(p for p, _ in parts), all(b for _, b in parts)
    if isinstance(key, Tensor):
        data = key._data
        if data.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return data, False
    if isinstance(key, list) and _sequence_as_tuple(key):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; "
                      "use x[tuple(seq)] instead of x[seq].", UserWarning, stacklevel=3)
        return convert_key(tuple(key))
    if isinstance(key, (list, np.ndarray)):
        arr = np.asarray(key)
        return arr, False
    if isinstance(key, (int, np.integer, slice)) or key is None or key is Ellipsis:
        return key, True
    if _backend._cupy is not None and isinstance(key, _backend._cupy.ndarray):
        return key, False
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(key).__name__})")


def _sequence_as_tuple(key: list) -> bool:
    """PyTorch's (and old NumPy's) rule: a short list holding a sequence, tensor, slice, None or
    Ellipsis indexes like a tuple (``x[[rows, cols]]`` is ``x[rows, cols]``)."""
    return len(key) < 32 and any(isinstance(k, (list, tuple, Tensor, slice, np.ndarray))
                                 or k is None or k is Ellipsis for k in key)


def check_setitem_shapes(data, key, basic, value) -> None:
    """After NumPy refused ``data[key] = value`` (ValueError): raise PyTorch's error when the
    value's shape does not broadcast to the indexed part; return when the shapes are fine."""
    from .shape import expand
    target = data[key].shape
    vshape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
    while len(vshape) > len(target) and vshape[0] == 1:
        vshape = vshape[1:]
    try:
        if np.broadcast_shapes(vshape, target) == target:
            return
    except ValueError:
        pass
    if not basic:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be "
                           f"broadcast to indexing result of shape {list(target)}") from None
    try:
        expand(_wrap(np.broadcast_to(np.zeros((), data.dtype), vshape)), target)
    except RuntimeError as exc:
        raise exc from None


def _index_error(exc, key, shape) -> IndexError:
    """NumPy's indexing error in PyTorch's words."""
    msg = str(exc)
    if msg.startswith("too many indices"):
        return IndexError(f"too many indices for tensor of dimension {len(shape)}")
    m = re.match(r"boolean index did not match indexed array along (?:axis|dimension) (\d+)", msg)
    if m:
        axis = int(m.group(1))
        parts = key if isinstance(key, tuple) else (key,)
        pos = 0  # dimensions of the tensor consumed by the key parts before the mask
        for k in parts:
            if getattr(k, "dtype", None) is not None and k.dtype.kind == "b":
                return IndexError(f"The shape of the mask {list(k.shape)} at index {axis - pos} "
                                  "does not match the shape of the indexed tensor "
                                  f"{list(shape)} at index {axis}")
            if k is not None:
                pos += 1
    m = re.match(r"shape mismatch: indexing arrays could not be broadcast together with shapes "
                 r"(.*)", msg)
    if m:
        shapes = ", ".join(str([int(n) for n in re.findall(r"\d+", part)])
                           for part in re.findall(r"\([^)]*\)", m.group(1)))
        return IndexError("shape mismatch: indexing tensors could not be broadcast together with "
                          f"shapes {shapes}")
    return IndexError(msg.replace("axis", "dimension"))


class IndexBackward0(Node):
    """Backward of indexing ``x[index]``."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.basic:
            out[self.key] = g
        else:
            xp.add.at(out, self.key, g)
        return (out,)

    def graph_backward(self, g):
        from .creation import zeros
        base = zeros(self.shape, dtype=g.dtype, device=g.device)
        return (put_at_key(base, self.key, g, accumulate=not self.basic),)


def _index_device_error(input, key):
    """PyTorch's error for index tensors on another device (CPU indices suit any tensor)."""
    dev = input.device
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, Tensor) and k.device.type != "cpu" and k.device != dev:
            return RuntimeError("indices should be either on cpu or on the same device as the "
                                f"indexed tensor ({dev})")
    return None


def getitem(input, key) -> Tensor:
    """``input[key]``: a view for basic indexing, a copy for advanced indexing."""
    raw_key = key
    key, basic = convert_key(key)
    data = input._data
    try:
        out = data[key]
    except IndexError as exc:
        raise _index_error(exc, key, data.shape) from None
    except (TypeError, ValueError):
        err = _index_device_error(input, raw_key)
        if err is not None:
            raise err from None
        raise
    if isinstance(out, np.generic):  # one element: as a 0-d view, like PyTorch's x[i, j]
        out = data[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
    if _state.enabled and input._requires_grad:
        node = IndexBackward0((input,))
        node.key, node.basic, node.shape = key, basic, data.shape
        t = _from_node(out, node)
    else:
        t = _wrap(out)
    if basic:
        record_view(t, input, key, IndexBackward0)
    return t


def record_view(view: Tensor, base: Tensor, key, node_cls) -> None:
    """Make ``view`` (made by the op whose backward is ``node_cls``) a view of ``base``: it shares
    the version counter and records its base, ``key`` (how the view is made again from the base,
    see ``ops/inplace.py``) and, like PyTorch's creation meta, the grad mode it was made in.

    ``_view_mode`` is ``"no_grad"`` or ``"inference"`` for a view made in that mode and for the
    views of such a view; an in-place op on it that autograd would record is refused.
    ``_view_op`` names the view op in that error when PyTorch would give the view a grad_fn (it
    was made in grad mode from a base that requires grad). Only views made outside grad mode, or
    of such views, pay for more than the first test."""
    view._version_counter = base._version_counter
    view._base = base
    view._view_key = key
    if _state.enabled:
        mode = base._view_mode
        if mode is not None:
            view._view_mode = mode
            if requires_grad_through_base(base):
                view._view_op = view_op_name(node_cls, key, base._data.shape)
    elif not _state.inference:
        view._view_mode = "inference" if base._view_mode == "inference" else "no_grad"
    elif not base._is_inference:  # as in PyTorch, a view of a normal tensor is a normal tensor
        view._is_inference = False
        view._view_mode = "inference"


def requires_grad_through_base(t: Tensor) -> bool:
    """PyTorch's ``requires_grad`` of a view: its own, or that of a tensor it is a view of."""
    while t is not None:
        if t._requires_grad:
            return True
        t = t._base
    return False


def view_op_name(node_cls, key, shape) -> str:
    """The name of PyTorch's grad_fn of a view (without ``Backward0``), for the error above."""
    if node_cls is IndexBackward0:
        return indexing_view_name(key, shape)
    return node_cls.__name__[:-len("Backward0")]


def indexing_view_name(key, shape, setting=False):
    """The name of the last view op PyTorch applies to a tensor of ``shape`` for ``x[key]``
    (``key`` converted by ``convert_key``): ``Select``, ``Slice``, ``Unsqueeze``, or ``Alias``
    when the key selects everything; with ``setting``, for ``x[key] = value``, which makes no
    view (None) for such a key and, like ``x[key]``, skips the slices that keep a whole dim."""
    if not isinstance(key, tuple):
        if isinstance(key, slice) and not setting:
            return "Slice"
        key = (key,)
    taken = [_dims_indexed(k) for k in key]
    name, dim = None, 0
    for k, n in zip(key, taken):
        if k is Ellipsis:
            n = len(shape) - sum(taken)
        elif k is None:
            name = "Unsqueeze"
        elif isinstance(k, slice):
            size = shape[dim] if dim < len(shape) else 0
            if range(*k.indices(size)) != range(size):
                name = "Slice"
        elif n == 1 and np.ndim(k) == 0 and not isinstance(k, (bool, np.bool_)):
            name = "Select"
        dim += n
    return name if name or setting else "Alias"


def _dims_indexed(k) -> int:
    """How many dims of the indexed tensor one key element consumes (None and ``...`` none)."""
    if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_)):
        return 0
    if getattr(k, "dtype", None) is not None and k.dtype.kind == "b":
        return k.ndim
    return 1


class IndexPutBackward0(Node):
    """Backward of ``x[index] = value``."""

    def backward(self, g):
        ns, nv = self.next_functions
        g_self = g_value = None
        if ns:
            g_self = g.copy()
            g_self[self.key] = 0
        if nv:
            g_value = unbroadcast(g[self.key], self.value_shape)
        return g_self, g_value

    def graph_backward(self, g):
        from .creation import zeros
        ns, nv = self.next_functions
        mask = zeros(self.shape, dtype=g.dtype, device=g.device)
        mask._data[self.key] = 1
        from .elementwise import sum_to
        return g * (1 - mask), sum_to(getitem(g, self.key), self.value_shape)


class IndexPutAccumulateBackward0(Node):
    """Backward of ``index_put_(..., accumulate=True)``."""

    def backward(self, g):
        ns, nv = self.next_functions
        return (g if ns else None,
                unbroadcast(g[self.key], self.value_shape) if nv else None)

    def graph_backward(self, g):
        from .elementwise import sum_to
        ns, nv = self.next_functions
        return (g if ns else None,
                sum_to(getitem(g, self.key), self.value_shape) if nv else None)


def put_at_key(input, key, value, accumulate=False) -> Tensor:
    """Out-of-place ``input[key] = value`` (or ``+=`` for repeated indices with ``accumulate``),
    for any indexing key and value; PyTorch's stricter ``index_put`` is below."""
    basic = False
    if not isinstance(key, tuple) or not all(isinstance(k, (np.ndarray, slice, int)) or k is None
                                            for k in key):
        key, basic = convert_key(key)
    value_t = value if isinstance(value, Tensor) else None
    if value_t is not None and type(value_t._data) is not type(input._data):
        value_t = value_t.to(input.device)  # like PyTorch's copy from another device
    v = value_t._data if value_t is not None else value
    out = input._data.copy()
    xp = input._xp()
    try:
        if accumulate:
            xp.add.at(out, key, v)
        else:
            out[key] = v
    except ValueError:
        check_setitem_shapes(out, key, basic, v)
        raise
    if _state.enabled and (input._requires_grad or (value_t is not None and value_t._requires_grad)):
        cls = IndexPutAccumulateBackward0 if accumulate else IndexPutBackward0
        node = cls((input, value_t) if value_t is not None else (input,))
        if value_t is None:
            node.next_functions = node.next_functions + (None,)
        node.key, node.shape = key, input._data.shape
        node.value_shape = value_t.shape if value_t is not None else ()
        return _from_node(out, node)
    return _wrap(out)


def masked_fill(input, mask, value) -> Tensor:
    """``value`` (a number or a 0-d tensor) where the bool ``mask`` is True (broadcast),
    ``input`` elsewhere; the result keeps ``input``'s dtype."""
    from .elementwise import where
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value._data.ndim} dimension(s).")
    if isinstance(mask, Tensor) and mask._data.dtype.kind != "b":
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{c_type_name(mask._data.dtype)}")
    out = where(mask, value, input)
    return out if out._data.dtype == input._data.dtype else out.to(input._data.dtype)


def index_select(input, dim, index) -> Tensor:
    """Select entries along ``dim`` by an integer tensor."""
    d = normalize_dims(dim, input.ndim)[0]
    return getitem(input, (slice(None),) * d + (index,))


def _open_grid(xp, index, dim):
    """Index arrays addressing ``out[..., index[...], ...]`` along ``dim`` (an open grid, like
    ``numpy.indices(sparse=True)``, which CuPy lacks)."""
    nd = index.ndim
    grids = []
    for d, n in enumerate(index.shape):
        shape = [1] * nd
        shape[d] = n
        grids.append(xp.arange(n).reshape(shape))
    grids[dim] = index
    return tuple(grids)


class GatherBackward0(Node):
    """Backward of ``gather``."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        idx = self.index
        grids = _open_grid(xp, idx, self.dim)  # scatter-add along dim
        xp.add.at(out, tuple(grids), g)
        return (out,)

    def graph_backward(self, g):
        from .creation import zeros
        xp = _backend.get_array_module(g._data)
        grids = _open_grid(xp, self.index, self.dim)
        base = zeros(self.shape, dtype=g.dtype, device=g.device)
        return (put_at_key(base, tuple(grids), g, accumulate=True),)


def _first_outside(idx, low, high):
    """The first entry (in order, as PyTorch reports it) of the integer array ``idx`` outside
    ``[low, high)``, or None."""
    if not idx.size:
        return None
    outside = ((idx < low) | (idx >= high)).ravel()
    return int(idx.ravel()[outside.argmax()]) if outside.any() else None


def _check_bounds(idx, axis, size):
    """PyTorch's error for indices outside ``[0, size)`` (negative ones are not wrapped)."""
    bad = _first_outside(idx, 0, size)
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size}")


def _check_gather(data, axis, idx):
    """PyTorch's checks of the arguments of ``gather`` (arrays)."""
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    if max(idx.ndim, 1) != max(data.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for d, n in enumerate(idx.shape):
        if d != axis and n > data.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{list(idx.shape)} to be no larger than self {list(data.shape)} "
                               f"apart from dimension {axis}")
    _check_bounds(idx, axis, data.shape[axis] if data.ndim else 1)


def gather(input, dim, index) -> Tensor:
    """``out[i][j] = input[i][index[i][j]]`` along ``dim``; ``index`` may be smaller than
    ``input`` in the other dims (their first entries are used)."""
    d = normalize_dims(dim, input.ndim)[0]
    idx = index._data
    data = input._data
    if type(idx) is not type(data):  # fancy indexing would accept a CPU index, PyTorch does not
        check_devices(input, index)
    try:
        _check_gather(data, d, idx)
        if data.ndim == 0 or idx.ndim == 0:  # as one-element vectors
            from .shape import reshape
            return reshape(gather(reshape(input, (1,)), 0, reshape(index, (-1,))), index.shape)
        out = data[_open_grid(input._xp(), idx, d)]
    except (TypeError, ValueError):
        check_devices(input, index)
        raise
    if _state.enabled and input._requires_grad:
        node = GatherBackward0((input,))
        node.index, node.dim, node.shape = idx, d, input.shape
        return _from_node(out, node)
    return _wrap(out)


def _ufunc_at(name, out, key, values):
    """``out[key] = ufunc(out[key], values)`` for the ufunc ``name`` ("add", "maximum" ...), with
    repeated indices combining in turn. CuPy's atomic ufuncs lack some dtypes (int64, int8,
    bool ...) and some ufuncs: those run on the host."""
    xp = _backend.get_array_module(out)
    try:
        getattr(xp, name).at(out, key, values)
    except (TypeError, AttributeError, NotImplementedError):
        if xp is np:
            raise
        cpu = _backend.CPU
        host = _backend.to_device(out, cpu)
        getattr(np, name).at(host, tuple([_backend.to_device(k, cpu) for k in key]),
                             _backend.to_device(values, cpu))
        out[...] = _backend.to_device(host, _backend.device_of(out))


class _ScatterBackward(Node):
    """Backward of ``scatter``/``scatter_add``: ``input`` gets the gradient (but at the places
    that ``scatter`` overwrote), ``src`` the gradient gathered from the places it went to (zero
    where ``index`` is smaller than ``src``)."""

    overwrites = True

    def backward(self, g):
        grads = [None] * len(self.next_functions)
        if self.next_functions[0] is not None:
            grads[0] = g
            if self.overwrites:
                grads[0] = g.copy()
                grads[0][self.key] = 0
        if len(grads) > 1 and self.next_functions[1] is not None:
            gathered = g[self.key]
            if gathered.shape == self.src_shape:
                grads[1] = gathered
            else:
                grads[1] = _backend.get_array_module(g).zeros(self.src_shape, dtype=g.dtype)
                grads[1][self.src_part] = gathered
        return tuple(grads)

    def graph_backward(self, g):
        grads = [None] * len(self.next_functions)
        if self.next_functions[0] is not None:
            grads[0] = put_at_key(g, self.key, 0) if self.overwrites else g
        if len(grads) > 1 and self.next_functions[1] is not None:
            grads[1] = _grad_of_part(getitem(g, self.key), self.src_shape, self.src_part)
        return tuple(grads)


def _grad_of_part(grad, shape, part):
    """The gradient (a tensor) of a tensor of ``shape`` whose part ``part`` (a key of slices)
    got ``grad`` and the rest none."""
    if grad.shape == tuple(shape):
        return grad
    from .creation import zeros
    return put_at_key(zeros(shape, dtype=grad.dtype, device=grad.device), part, grad)


class ScatterBackward0(_ScatterBackward):
    """Backward of ``scatter`` with a ``src`` tensor."""


class ScatterBackward1(_ScatterBackward):
    """Backward of ``scatter`` with a ``value``."""


class ScatterAddBackward0(_ScatterBackward):
    """Backward of ``scatter_add``."""

    overwrites = False


def _check_scatter(data, axis, idx, src):
    """PyTorch's checks of the arguments of ``scatter``/``scatter_add``/``scatter_reduce``
    (arrays; ``src`` may be None, for a value) but the bounds of ``idx``."""
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src is not None and src.dtype != data.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if idx.ndim != data.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src is not None and src.ndim != idx.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    for d, n in enumerate(idx.shape):
        if (d != axis and n > data.shape[d]) or (src is not None and n > src.shape[d]):
            extra = "" if src is None else f" and to be no larger size than src {list(src.shape)}"
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(data.shape)} apart from dimension {axis}{extra}")


def _scatter(input, dim, index, src, node_cls) -> Tensor:
    """``input`` with ``src`` (a tensor or a number) written (or, for ``scatter_add``, added) at
    ``index`` along ``dim``."""
    data = input._data
    if data.ndim == 0:  # as one-element vectors
        from .shape import reshape
        src = reshape(src, (1,)) if isinstance(src, Tensor) else src
        return reshape(_scatter(reshape(input, (1,)), dim, reshape(index, (1,)), src, node_cls),
                       ())
    axis = normalize_dims(dim, data.ndim)[0]
    idx = index._data
    src_t = src if isinstance(src, Tensor) else None
    try:
        _check_scatter(data, axis, idx, src_t._data if src_t is not None else None)
        _check_bounds(idx, axis, data.shape[axis])
        key = _open_grid(input._xp(), idx, axis)
        out = data.copy()
        if src_t is None:
            out[key] = src
        else:
            src_part = tuple([slice(0, n) for n in idx.shape])
            if node_cls.overwrites:
                out[key] = src_t._data[src_part]
            else:
                _ufunc_at("add", out, key, src_t._data[src_part])
    except (TypeError, ValueError):
        check_devices(input, index, src_t)
        raise
    inputs = (input,) if src_t is None else (input, src_t)
    if _state.enabled and any(t._requires_grad for t in inputs):
        node = node_cls(inputs)
        node.key = key
        if src_t is not None:
            node.src_shape, node.src_part = src_t._data.shape, src_part
        return _from_node(out, node)
    return _wrap(out)


def scatter(input, dim, index, src=None, *, value=None) -> Tensor:
    """A copy of ``input`` with ``src[i][j]`` written at ``[index[i][j]][j]`` (for ``dim=0``;
    likewise along any dim), or the number ``value`` at the places ``index`` names."""
    if src is None or not isinstance(src, Tensor):
        value = src if src is not None else value
        if value is None:
            raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
        return _scatter(input, dim, index, value, ScatterBackward1)
    return _scatter(input, dim, index, src, ScatterBackward0)


def scatter_add(input, dim, index, src) -> Tensor:
    """A copy of ``input`` with ``src[i][j]`` added at ``[index[i][j]][j]`` (for ``dim=0``;
    likewise along any dim); repeated indices accumulate."""
    return _scatter(input, dim, index, src, ScatterAddBackward0)


class MaskedSelectBackward0(Node):
    """Backward of ``masked_select``: the gradient put back where the (broadcast) mask is True,
    summed over what broadcasting added."""

    def backward(self, g):
        out = _backend.get_array_module(g).zeros(self.mask.shape, dtype=g.dtype)
        out[self.mask] = g
        return (unbroadcast(out, self.shape),)

    def graph_backward(self, g):
        from .creation import zeros
        from .elementwise import sum_to
        base = zeros(self.mask.shape, dtype=g.dtype, device=g.device)
        return (sum_to(put_at_key(base, (self.mask,), g), self.shape),)


def masked_select(input, mask) -> Tensor:
    """The elements of ``input`` where the bool ``mask`` is True (both broadcast), as a 1-D
    tensor."""
    if mask._data.dtype.kind != "b":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    data, m = input._data, mask._data
    try:
        shape = np.broadcast_shapes(data.shape, m.shape)
    except ValueError:
        raise broadcast_error(m.shape, data.shape) from None
    xp = input._xp()
    m = xp.broadcast_to(m, shape)
    try:
        out = xp.broadcast_to(data, shape)[m]
    except (TypeError, ValueError):
        check_devices(input, mask)
        raise
    if _state.enabled and input._requires_grad:
        node = MaskedSelectBackward0((input,))
        node.mask, node.shape = m, data.shape
        return _from_node(out, node)
    return _wrap(out)


def take_along_dim(input, indices, dim=None) -> Tensor:
    """``input`` gathered at ``indices`` along ``dim`` (the two broadcast over the other dims),
    or at flat ``indices`` of the flattened ``input`` without ``dim``."""
    from .shape import expand, reshape
    if indices._data.dtype != np.int64:
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{torch_type_name(indices._data.dtype)}")
    if dim is None:
        return gather(reshape(input, (-1,)), 0, reshape(indices, (-1,)))
    if input.ndim != indices.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same number "
                           f"of dimensions, but got {input.ndim} dimensions for input, and "
                           f"{indices.ndim} dimensions for indices")
    d = normalize_dims(dim, input.ndim)[0]
    idx = indices._data
    if idx.size and idx.min() < 0:  # along a dim, PyTorch counts negative indices from the end
        indices = _wrap(input._xp().where(idx < 0, idx + input.shape[d], idx))
    a = input.shape[:d] + (1,) + input.shape[d + 1:]
    b = indices.shape[:d] + (1,) + indices.shape[d + 1:]
    try:
        batch = list(np.broadcast_shapes(a, b))
    except ValueError:
        raise broadcast_error(a, b) from None
    grow = [batch[:d] + [t.shape[d]] + batch[d + 1:] for t in (input, indices)]
    return gather(expand(input, grow[0]), d, expand(indices, grow[1]))


# -- index_add, index_copy, index_fill, index_put, take, masked_scatter, scatter_reduce --------
# Most are compositions of the differentiable ops above (put_at_key, getitem, expand ...), so
# they have PyTorch's gradients and double backward without nodes of their own.


def _require_tensor(fn, name, position, value) -> Tensor:
    """``value``, or PyTorch's TypeError for an argument of ``fn`` that must be a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")
    return value


def _dim_size(shape, d) -> int:
    """The size of dim ``d`` (1 for a 0-d tensor, which the index ops treat as a vector)."""
    return shape[d] if shape else 1


def _without_dim(shape, d) -> tuple:
    """``shape`` without dim ``d`` (a 0-d shape stays empty)."""
    return tuple(shape[:d]) + tuple(shape[d + 1:])


def _put_along_dim(input, d, idx, values, accumulate=False) -> Tensor:
    """``input`` with ``values`` (a tensor or a number) written at the integer vector ``idx`` (an
    array) along dim ``d``, or added there with ``accumulate``; a 0-d ``input`` as a vector."""
    if input.ndim == 0:
        from .shape import reshape
        if isinstance(values, Tensor):
            values = reshape(values, (1,))
        return reshape(put_at_key(reshape(input, (1,)), (idx,), values, accumulate), ())
    return put_at_key(input, (slice(None),) * d + (idx,), values, accumulate)


def _scaled(source, alpha) -> Tensor:
    """``alpha * source`` for ``index_add``: an integer or bool ``source`` takes ``alpha`` cast
    to an integer, as PyTorch casts it to the tensor's dtype."""
    if alpha == 1:
        return source
    if source._data.dtype.kind == "f":
        from .elementwise import mul
        return mul(source, alpha)
    return _wrap((source._data * int(alpha)).astype(source._data.dtype))


def index_add(input, dim, index, source, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source`` added at ``index`` (a vector) along ``dim``; repeated
    indices add up."""
    index = _require_tensor("index_add", "index", 3, index)
    source = _require_tensor("index_add", "source", 4, source)
    d = normalize_dims(dim, input.ndim)[0]
    idx, src, dtype = index._data, source._data, input._data.dtype
    if idx.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {idx.ndim} "
                         f"with type: {torch_type_name(idx.dtype)} and size: {list(idx.shape)}")
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{torch_type_name(idx.dtype)}")
    if src.dtype != dtype:
        raise RuntimeError(f"index_add_(): self ({torch_type_name(dtype)}) and source "
                           f"({torch_type_name(src.dtype)}) must have the same scalar type")
    if d and d >= src.ndim:
        raise RuntimeError(f"index_add_(): Indexing dim {d} is out of bounds of the source tensor "
                           f"with dim {src.ndim}")
    if src.ndim == 0 and idx.size != 1:  # PyTorch fails on source.size(0) writing its message
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if src.ndim and idx.size != src.shape[d]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({src.shape[d]}), for dim: {d}")
    if src.ndim != input.ndim or _without_dim(src.shape, d) != _without_dim(input.shape, d):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(src.shape)}")
    size = _dim_size(input.shape, d)
    bad = _first_outside(idx, 0, size)
    if bad is not None:
        if input.ndim > 1:
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {size}")
        raise IndexError("index out of range in self")
    return _put_along_dim(input, d, idx.reshape(-1), _scaled(source, alpha), accumulate=True)


def index_copy(input, dim, index, source) -> Tensor:
    """``input`` with the slices of ``source`` copied to ``index`` (a vector of int64) along
    ``dim`` (for a repeated index, the last slice)."""
    index = _require_tensor("index_copy", "index", 3, index)
    source = _require_tensor("index_copy", "source", 4, source)
    d = normalize_dims(dim, input.ndim)[0]
    idx, src, data = index._data, source._data, input._data
    if idx.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
    if src.ndim == 0 and idx.size != 1:
        raise IndexError("index_copy_(): When source is scalar, index should have one element "
                         f"(got {idx.size})")
    if src.ndim != data.ndim and src.ndim and data.ndim:
        raise IndexError("index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({src.ndim}), "
                         f"destination dimensionality ({data.ndim})")
    if idx.dtype != np.int64:
        raise RuntimeError("index_copy_(): Expected a long tensor for index, but got "
                           f"{torch_type_name(idx.dtype)}")
    if src.dtype != data.dtype:
        raise RuntimeError("index_copy_(): self and source expected to have the same dtype, but "
                           f"got (self) {torch_type_name(data.dtype)} and (source) "
                           f"{torch_type_name(src.dtype)}")
    dest_slice, src_slice = _without_dim(data.shape, d), _without_dim(src.shape, d)
    if dest_slice != src_slice:
        raise RuntimeError("index_copy_(): Source/destination tensor must have same slice shapes. "
                           f"Destination slice shape: {' '.join(map(str, dest_slice))} at "
                           f"dimension {d} and source slice shape: "
                           f"{' '.join(map(str, src_slice))} at dimension 0.")
    if src.ndim and idx.size != src.shape[d]:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({src.shape[d]})")
    size = _dim_size(data.shape, d)
    bad = _first_outside(idx, 0, size)
    if bad is not None:
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {d} with "
                         f"size {size}")
    return _put_along_dim(input, d, idx.reshape(-1), source)


def index_fill(input, dim, index, value) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) at ``index`` (a vector of int64;
    negative entries count from the end) along ``dim``."""
    index = _require_tensor("index_fill", "index", 3, index)
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got tensor "
                           f"with {value._data.ndim} dimension(s).")
    idx = index._data
    if idx.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    d = normalize_dims(dim, input.ndim)[0]
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    size = _dim_size(input.shape, d)
    bad = _first_outside(idx, -size, size)
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {size}")
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = value.to(input._data.dtype)
    idx = idx.reshape(-1)
    if idx.size:  # each place once: a value tensor's gradient sums the gradient there
        idx = input._xp().unique(idx % size)
    return _put_along_dim(input, d, idx, value)


def _index_array(a):
    """An index tensor's array as ``index_put`` uses it: uint8 masks (deprecated, as
    PyTorch warns) as bool; PyTorch's error for dtypes other than int64, int32 and bool."""
    if a.dtype == np.uint8:
        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                      "torch.bool instead.", UserWarning, stacklevel=3)
        return a.astype(bool)
    if a.dtype != np.int64 and a.dtype != np.int32 and a.dtype != np.bool_:
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return a


def index_put(input, indices, values, accumulate=False) -> Tensor:
    """PyTorch's ``index_put`` (``distgrad.index_put``): ``input`` with the tensor ``values``
    written at ``input[indices]`` (a tuple of index tensors), or added there with
    ``accumulate`` (repeated indices add up)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError("index_put(): argument 'indices' (position 2) must be tuple of Tensors, "
                        f"not {type(indices).__name__}")
    for i, k in enumerate(indices):
        if not isinstance(k, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                            f"{type(k).__name__}")
    values = _require_tensor("index_put", "values", 3, values)
    if len(indices) > input.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input.ndim} "
                         f"(got {len(indices)})")
    key = tuple([_index_array(k._data) for k in indices])
    dtype = input._data.dtype
    if values._data.dtype != dtype:
        # PyTorch puts one value by a single mask through masked_fill_, which casts it
        if accumulate or values.numel() != 1 or len(key) != 1 or key[0].dtype != np.bool_:
            raise RuntimeError("Index put requires the source and destination dtypes match, got "
                               f"{torch_type_name(dtype)} for the destination and "
                               f"{torch_type_name(values._data.dtype)} for the source.")
        values = values.to(dtype)
    try:
        return put_at_key(input, key, values, accumulate)
    except IndexError as exc:
        raise _index_error(exc, key, input._data.shape) from None


def take(input, index) -> Tensor:
    """The elements of the flattened ``input`` at ``index`` (int64; negative entries count from
    the end), in ``index``'s shape."""
    from .shape import reshape
    index = _require_tensor("take", "index", 2, index)
    idx = index._data
    if idx.dtype != np.int64:
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{torch_type_name(idx.dtype)}")
    n = input.numel()
    if n == 0 and idx.size:
        raise IndexError("take(): tried to take from an empty tensor")
    bad = _first_outside(idx, -n, n)
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return getitem(reshape(input, (-1,)), idx)


def _check_masked_scatter_dtypes(input, source) -> None:
    """PyTorch's error when ``masked_scatter``'s ``input`` and ``source`` differ in dtype."""
    a, b = input._data.dtype, source._data.dtype
    if a != b:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but got"
                           f"{torch_type_name(a)} and {torch_type_name(b)}")


def masked_scatter(input, mask, source) -> Tensor:
    """``input`` (broadcast with the bool ``mask``) with the leading elements of ``source``, in
    order, written where ``mask`` is True."""
    from .shape import expand, reshape
    mask = _require_tensor("masked_scatter", "mask", 2, mask)
    source = _require_tensor("masked_scatter", "source", 3, source)
    m = mask._data
    try:
        shape = np.broadcast_shapes(m.shape, input.shape)
    except ValueError:
        raise broadcast_error(m.shape, input.shape) from None
    _check_masked_scatter_dtypes(input, source)
    if m.dtype != np.bool_:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{torch_type_name(m.dtype)}")
    m = input._xp().broadcast_to(m, shape)
    count = int(m.sum())
    if source.numel() < count:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    base = input if input.shape == shape else expand(input, shape)
    return put_at_key(base, (m,), getitem(reshape(source, (-1,)), slice(0, count)))


def masked_scatter_(input, mask, source) -> Tensor:
    """In-place ``masked_scatter``: ``mask`` must broadcast to ``input``'s shape."""
    from .inplace import apply_inplace
    from .shape import expand
    mask = _require_tensor("masked_scatter_", "mask", 1, mask)
    source = _require_tensor("masked_scatter_", "source", 2, source)
    _check_masked_scatter_dtypes(input, source)
    expand(mask, input.shape)  # PyTorch's error for a mask that does not expand to input
    return apply_inplace(input, masked_scatter, mask, source)


_SCATTER_UFUNCS = {"sum": "add", "prod": "multiply", "mean": "add", "amax": "maximum",
                   "amin": "minimum"}


def _reduce_identity(reduce, dtype):
    """The value ``scatter_reduce`` starts from at the places it writes without ``include_self``."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    low = reduce == "amax"
    if dtype.kind == "f":
        return -np.inf if low else np.inf
    if dtype.kind == "b":
        return not low
    info = np.iinfo(dtype)
    return info.min if low else info.max


def _scatter_count(data, key, include_self):
    """How many values ``scatter_reduce``'s mean averages at each place of ``data`` (an array;
    the count in its dtype, as in PyTorch), at least 1."""
    xp = _backend.get_array_module(data)
    count = xp.full(data.shape, int(include_self), dtype=data.dtype)
    ones = xp.ones(np.broadcast_shapes(*[k.shape for k in key]), dtype=data.dtype)
    _ufunc_at("add", count, key, ones)  # (NumPy's fast path needs an array of values)
    count[count == 0] = 1
    return count


class DelayedError(Node):
    """Stands in the graph for a gradient that PyTorch cannot differentiate again: backward
    through it raises ``message``."""

    def backward(self, g):
        raise RuntimeError(self.message)

    graph_backward = backward


def _delayed_error(t, message) -> Tensor:
    """``t`` as the output of a ``DelayedError`` node raising ``message``."""
    node = DelayedError((t,))
    node.message = message
    return _from_node(t._data, node)


class ScatterReduceBackward0(Node):
    """Backward of ``scatter_reduce``: PyTorch's formulas, written with differentiable ops (so
    double backward works); a plain backward runs them without recording."""

    def backward(self, g):
        from ..autograd.grad_mode import no_grad
        with no_grad():
            grads = self.graph_backward(_wrap(g))
        return tuple([None if t is None else t._data for t in grads])

    def graph_backward(self, g):
        x, src = self.saved_tensors
        key, reduce = self.key, self.reduce
        src_p = getitem(src, self.src_part) if src.shape != self.index_shape else src
        if reduce == "sum":
            g_self, g_src = g, getitem(g, key)
        elif reduce == "mean":
            count = _scatter_count(x._data, key, self.include_self)
            g_self, g_src = g / _wrap(count), getitem(g, key) / _wrap(count[key])
        elif reduce == "prod":
            g_self, g_src = self._prod_grads(g, x, src_p)
        else:  # amax, amin: the gradient shared evenly by the values equal to the result
            result = self.saved_output_tensor()
            x_is = (x == result).to(x.dtype)
            src_is = (src_p == getitem(result, key)).to(x.dtype)
            share = g / put_at_key(x_is, key, src_is, accumulate=True)
            g_self, g_src = x_is * share, src_is * getitem(share, key)
        if not self.include_self:
            g_self = put_at_key(g_self, key, 0)
        return g_self, _grad_of_part(g_src, src.shape, self.src_part)

    def _prod_grads(self, g, x, src_p):
        """The gradients of a product: from the products without the value itself where it is
        the one zero at its place."""
        from .elementwise import where
        key, include_self = self.key, self.include_self
        result = self.saved_output_tensor()
        x_fill = masked_fill(x, x == 0, 1)
        x_fill_result = _scatter_reduce(x_fill, src_p, key, self.src_part, "prod", include_self)
        g_self = g * x_fill_result / x_fill
        zero = (src_p == 0)._data
        zeros_at = src_p._xp().zeros(x.shape, dtype=x._data.dtype)
        _ufunc_at("add", zeros_at, key, zero.astype(zeros_at.dtype))
        zeros_at = zeros_at[key]
        single = _wrap(zero & (zeros_at == 1))
        without = _scatter_reduce(x, masked_fill(src_p, single, 1), key, self.src_part, "prod",
                                  include_self)
        g_src = where(single, getitem(g * without, key),
                      getitem(g * result, key) / masked_fill(src_p, _wrap(zero), 1))
        if _state.enabled and g_src.requires_grad and (zeros_at > 1).any():
            g_src = _delayed_error(g_src, "scatter_reduce(): Double backward is unsupported for "
                                   "src when >1 zeros in src are scattered to the same position "
                                   "in self")
        return g_self, g_src


def _scatter_reduce(input, src, key, src_part, reduce, include_self) -> Tensor:
    """``scatter_reduce`` at the open-grid ``key`` of a checked index, ``src`` cut to ``src_part``
    (the index's shape)."""
    data = input._data
    out = data.copy()
    if not include_self:
        out[key] = _reduce_identity(reduce, data.dtype)
    _ufunc_at(_SCATTER_UFUNCS[reduce], out, key, src._data[src_part])
    if reduce == "mean":
        count = _scatter_count(data, key, include_self)
        out = out / count if data.dtype.kind == "f" else out // count
    if _state.enabled and (input._requires_grad or src._requires_grad):
        node = ScatterReduceBackward0((input, src))
        node.save(input, src)
        node.key, node.src_part, node.reduce = key, src_part, reduce
        node.include_self = include_self
        node.index_shape = tuple([s.stop for s in src_part])
        t = _from_node(out, node)
        node.save_output(t)
        return t
    return _wrap(out)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True) -> Tensor:
    """``input`` with ``src[i][j]`` reduced into ``[index[i][j]][j]`` (for ``dim=0``; likewise
    along any dim) by ``reduce`` ("sum", "prod", "mean", "amax" or "amin"), starting from
    ``input``'s value there or, without ``include_self``, from the values alone."""
    index = _require_tensor("scatter_reduce", "index", 3, index)
    src = _require_tensor("scatter_reduce", "src", 4, src)
    if not isinstance(include_self, bool):
        raise TypeError("scatter_reduce(): argument 'include_self' must be bool, not "
                        f"{type(include_self).__name__}")
    if input._data.ndim == 0:  # as one-element vectors
        from .shape import reshape
        return reshape(scatter_reduce(reshape(input, (1,)), dim, reshape(index, (-1,)),
                                      reshape(src, (-1,)), reduce, include_self=include_self), ())
    data, idx = input._data, index._data
    axis = normalize_dims(dim, data.ndim)[0]
    _check_scatter(data, axis, idx, src._data)
    if reduce not in _SCATTER_UFUNCS:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _check_bounds(idx, axis, data.shape[axis])
    try:
        key = _open_grid(input._xp(), idx, axis)
        return _scatter_reduce(input, src, key, tuple([slice(0, n) for n in idx.shape]), reduce,
                               include_self)
    except (TypeError, ValueError):
        check_devices(input, index, src)
        raise
