"""Matrix products: ``matmul`` (with batch broadcasting and vectors), ``mm``, ``bmm``, ``dot``,
``mv``, ``outer``."""
from __future__ import annotations

from .. import _backend
from ..autograd.graph import Node
from ..tensor import Tensor, _from_node
from ._util import _state, check_same_device, unbroadcast

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
        raise RuntimeError(_matmul_error(ad.shape, bd.shape)) from None
    except TypeError:
        check_same_device(input, other)
        raise
    if ad.dtype is not bd.dtype and ad.dtype != bd.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {ad.dtype} != {bd.dtype}")
    if _state.enabled and (input._requires_grad or other._requires_grad):
        cls = MmBackward0 if ad.ndim == 2 and bd.ndim == 2 else MatmulBackward0
        node = cls((input, other))
        node.save(input, other)
        return _from_node(out, node)
    return _wrap(out)


def _matmul_error(sa, sb):
    if len(sa) == 2 and len(sb) == 2:
        return (f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and "
                f"{sb[0]}x{sb[1]})")
    return f"matmul: shapes {tuple(sa)} and {tuple(sb)} are not aligned"


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
