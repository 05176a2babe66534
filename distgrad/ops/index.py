"""Indexing: ``x[key]`` (basic slices, ints, integer tensors with repeats, bool masks) and
the out-of-place ``index_put`` behind ``x[key] = value``."""
from __future__ import annotations

import re

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..tensor import Tensor, _from_node
from ._util import _state, check_devices, normalize_dims, unbroadcast

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
    if isinstance(key, (list, np.ndarray)):
        arr = np.asarray(key)
        return arr, False
    if isinstance(key, (int, np.integer, slice)) or key is None or key is Ellipsis:
        return key, True
    if _backend._cupy is not None and isinstance(key, _backend._cupy.ndarray):
        return key, False
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(key).__name__})")


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
        return (index_put(base, self.key, g, accumulate=not self.basic),)


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
    if isinstance(out, np.generic):
        out = np.asarray(out)
    if _state.enabled and input._requires_grad:
        node = IndexBackward0((input,))
        node.key, node.basic, node.shape = key, basic, data.shape
        t = _from_node(out, node)
    else:
        t = _wrap(out)
    if basic:
        t._version = input._version
        t._base = input
        t._view_key = key
    return t


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


def index_put(input, key, value, accumulate=False) -> Tensor:
    """Out-of-place ``input[key] = value`` (or ``+=`` for repeated indices with ``accumulate``)."""
    if not isinstance(key, tuple) or not all(isinstance(k, (np.ndarray, slice, int)) or k is None
                                            for k in key):
        key, _ = convert_key(key)
    value_t = value if isinstance(value, Tensor) else None
    if value_t is not None and type(value_t._data) is not type(input._data):
        value_t = value_t.to(input.device)  # like PyTorch's copy from another device
    v = value_t._data if value_t is not None else value
    out = input._data.copy()
    xp = input._xp()
    if accumulate:
        xp.add.at(out, key, v)
    else:
        out[key] = v
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
    """``value`` where ``mask`` is True (broadcast), ``input`` elsewhere."""
    from .elementwise import where
    return where(mask, value, input)


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
        return (index_put(base, tuple(grids), g, accumulate=True),)


def gather(input, dim, index) -> Tensor:
    """``out[i][j] = input[i][index[i][j]]`` along ``dim``."""
    d = normalize_dims(dim, input.ndim)[0]
    idx = index._data
    try:
        out = input._xp().take_along_axis(input._data, idx, axis=d)
    except (TypeError, ValueError):
        check_devices(input, index)
        raise
    if _state.enabled and input._requires_grad:
        node = GatherBackward0((input,))
        node.index, node.dim, node.shape = idx, d, input.shape
        return _from_node(out, node)
    return _wrap(out)
