"""Matrix products: ``matmul`` (with batch broadcasting and vectors), ``mm``, ``bmm``, ``dot``,
``mv``, ``outer``."""
from __future__ import annotations

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..tensor import Tensor, _from_node
from ._util import _state, broadcast_error, check_same_device, torch_type_name, unbroadcast

_wrap = Tensor._wrap


class MmBackward0(Node):
    """Backward of ``a @ b`` for 2-D operands (the common, fast case)."""

    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        return (g @ b._data.T if na else None,
                a._data.T @ g if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return g @ b.transpose(-1, -2), a.transpose(-1, -2) @ g


class MatmulBackward0(Node):
    """Backward of ``matmul`` for vectors and batched (broadcast) operands."""

    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        na, nb = self.next_functions
        xp = _backend.get_array_module(g)
        if ad.ndim == 1 and bd.ndim == 1:
            return (g * bd if na else None, g * ad if nb else None)
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        g2 = g
        if ad.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if bd.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape)
        if nb:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bd.shape)
        return ga, gb

    def graph_backward(self, g):
        from .elementwise import sum_to
        a, b = self.saved_tensors
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = sum_to(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)
        gb = sum_to(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics (vectors, matrices, broadcast batches)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}")
    ad, bd = input._data, other._data
    try:
        out = ad @ bd
    except ValueError:
        check_same_device(input, other)  # CuPy: arrays on two GPUs raise ValueError
        raise RuntimeError(_matmul_error(ad.shape, bd.shape)) from None
    except TypeError:
        check_same_device(input, other)
        raise
    if ad.dtype is not bd.dtype and ad.dtype != bd.dtype:
        raise RuntimeError(_dtype_error(ad, bd))
    if _state.enabled and (input._requires_grad or other._requires_grad):
        cls = MmBackward0 if ad.ndim == 2 and bd.ndim == 2 else MatmulBackward0
        node = cls((input, other))
        node.save(input, other)
        return _from_node(out, node)
    return _wrap(out)


_C10_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _dtype_error(ad, bd):
    """PyTorch's message for operands of different dtypes (it depends on the kernel)."""
    if ad.ndim == 1 and bd.ndim == 1:
        return (f"dot : expected both vectors to have same dtype, but found "
                f"{torch_type_name(ad.dtype)} and {torch_type_name(bd.dtype)}")
    if ad.ndim <= 2 and bd.ndim <= 2:
        return (f"expected m1 and m2 to have the same dtype, but got: "
                f"{_C10_NAMES.get(ad.dtype.name, ad.dtype.name)} != "
                f"{_C10_NAMES.get(bd.dtype.name, bd.dtype.name)}")
    return (f"expected scalar type {torch_type_name(ad.dtype)} but found "
            f"{torch_type_name(bd.dtype)}")


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _matmul_error(sa, sb):
    """PyTorch's message for matmul operands whose shapes do not fit (by operand ranks)."""
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        return f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
    if na == 1 and nb == 1:
        return (f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have "
                f"the same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
    if nb == 1:  # matrix (batches folded into rows) times vector
        rows = _prod(sa[:-1])
        return f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec ({sb[0]})"
    if nb == 2:  # batches of the first operand folded into rows
        rows = _prod(sa[:-1])
        return (f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                f"{sb[0]}x{sb[1]})")
    batch_a, batch_b = tuple(sa[:-2]), tuple(sb[:-2])
    try:
        batch = np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        return str(broadcast_error(batch_a, batch_b))
    n = _prod(batch)
    return (f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {sa[-1]}] "
            f"but got: [{n}, {sb[-2]}].")


def mm(input, mat2) -> Tensor:
    """Product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError("mm(): both arguments must be 2-D matrices")
    return matmul(input, mat2)


def bmm(input, mat2) -> Tensor:
    """Batched product of 3-D tensors."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("bmm(): both arguments must be 3-D tensors")
    return matmul(input, mat2)


def mv(input, vec) -> Tensor:
    """Matrix-vector product."""
    return matmul(input, vec)


def dot(input, other) -> Tensor:
    """Dot product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2) -> Tensor:
    """Outer product of two vectors."""
    return input.unsqueeze(-1) * vec2.unsqueeze(0)
