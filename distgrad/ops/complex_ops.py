"""Complex tensors: ``real``, ``imag``, ``conj``, ``view_as_real``, ``view_as_complex`` and
``complex``, differentiable with PyTorch's convention for complex gradients.

The gradient of a real loss ``L`` w.r.t. a complex tensor ``z`` is ``dL/dRe(z) + i dL/dIm(z)``
(the conjugate Wirtinger derivative, times two). So ``real`` passes the gradient back as a
complex array with zero imaginary part, ``imag`` passes back ``i g``, ``conj`` passes back
``conj(g)``, and a real input receives the real part of what reaches it.

Unlike PyTorch, ``real``, ``imag``, ``conj``, ``view_as_real`` and ``view_as_complex`` return
copies, not views: writing into the result does not change the input.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..tensor import Tensor, _from_node
from ._util import _state, check_same_device, torch_type_name, unbroadcast
from .creation import zeros_like

_wrap = Tensor._wrap

_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}
_SCALAR_TYPE_NAMES = {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(dtype) -> str:
    """PyTorch's scalar type name, with its complex names (``ComplexFloat``, ``ComplexDouble``)."""
    return _SCALAR_TYPE_NAMES.get(np.dtype(dtype).name) or torch_type_name(dtype)


def complex_dtype_of(dtype):
    """The complex dtype of the same precision as real ``dtype`` (complex stays as it is)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "c" else _COMPLEX_OF[dtype]


def _unary(input, out, node_cls) -> Tensor:
    if _state.enabled and input._requires_grad:
        return _from_node(out, node_cls((input,)))
    return _wrap(out)


class RealBackward0(Node):
    """Backward of ``real``: the gradient as the real part of a complex one."""

    def name(self):
        return "SelectBackward0"

    def backward(self, g):
        return (g.astype(complex_dtype_of(g.dtype)),)

    def graph_backward(self, g):
        return (complex(g, zeros_like(g)),)


class ImagBackward0(Node):
    """Backward of ``imag``: ``i g``."""

    def name(self):
        return "SelectBackward0"

    def backward(self, g):
        return (g * 1j,)

    def graph_backward(self, g):
        return (complex(zeros_like(g), g),)


class ConjBackward0(Node):
    """Backward of ``conj``: the conjugate gradient."""

    def backward(self, g):
        return (g.conj(),)

    def graph_backward(self, g):
        return (conj(g),)


class ViewAsRealBackward0(Node):
    """Backward of ``view_as_real``: the gradient viewed as complex."""

    def backward(self, g):
        return (_as_complex(g),)

    def graph_backward(self, g):
        return (view_as_complex(g),)


class ViewAsComplexBackward0(Node):
    """Backward of ``view_as_complex``: the gradient viewed as real pairs."""

    def backward(self, g):
        return (_as_real(g),)

    def graph_backward(self, g):
        return (view_as_real(g),)


class ComplexBackward0(Node):
    """Backward of ``complex(real, imag)``: the real and imaginary parts of the gradient."""

    def backward(self, g):
        return (unbroadcast(g.real, self.shapes[0]), unbroadcast(g.imag, self.shapes[1]))

    def graph_backward(self, g):
        from .elementwise import sum_to
        return sum_to(real(g), self.shapes[0]), sum_to(imag(g), self.shapes[1])


def real(input) -> Tensor:
    """The real part of a complex tensor; a real tensor is returned as it is."""
    if input._data.dtype.kind != "c":
        return input
    return _unary(input, input._data.real.copy(), RealBackward0)


def imag(input) -> Tensor:
    """The imaginary part of a complex tensor (an error for real tensors, as in PyTorch)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _unary(input, input._data.imag.copy(), ImagBackward0)


def conj(input) -> Tensor:
    """The complex conjugate; a real tensor is returned as it is."""
    if input._data.dtype.kind != "c":
        return input
    return _unary(input, input._data.conj(), ConjBackward0)


def _as_real(a):
    """Complex array ``a`` as real pairs: shape ``a.shape + (2,)``."""
    return _backend.get_array_module(a).stack((a.real, a.imag), axis=-1)


def _from_parts(re, im):
    """The complex array ``re + i im`` (real arrays of one float dtype, broadcast)."""
    out = _backend.get_array_module(re).empty(np.broadcast_shapes(re.shape, im.shape),
                                              _COMPLEX_OF[re.dtype])
    out.real[...] = re
    out.imag[...] = im
    return out


def _as_complex(a):
    """Real array ``a`` of shape ``(..., 2)`` as a complex array of shape ``(...)``."""
    return _from_parts(a[..., 0], a[..., 1])


def view_as_real(input) -> Tensor:
    """A complex tensor as a real one with a last dimension of size 2 (real, imaginary)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return _unary(input, _as_real(input._data), ViewAsRealBackward0)


def view_as_complex(input) -> Tensor:
    """A real tensor with a last dimension of size 2 as a complex one (PyTorch's
    ``view_as_complex``)."""
    data = input._data
    if data.dtype not in _COMPLEX_OF:
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, "
                           f"but got a tensor of scalar type: {scalar_type_name(data.dtype)}")
    if data.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return _unary(input, _as_complex(data), ViewAsComplexBackward0)


def complex(real, imag) -> Tensor:  # noqa: A001  (PyTorch's name)
    """The complex tensor ``real + i imag`` (two float tensors of one dtype, broadcast)."""
    rd, id_ = real._data, imag._data
    if rd.dtype not in _COMPLEX_OF or id_.dtype not in _COMPLEX_OF:
        raise RuntimeError("Expected both inputs to be Half, Float or Double tensors but got "
                           f"{scalar_type_name(rd.dtype)} and {scalar_type_name(id_.dtype)}")
    if rd.dtype != id_.dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_type_name(rd.dtype)} but got "
                           f"scalar type {scalar_type_name(id_.dtype)} for second argument")
    check_same_device(real, imag)
    out = _from_parts(rd, id_)
    if _state.enabled and (real._requires_grad or imag._requires_grad):
        node = ComplexBackward0((real, imag))
        node.shapes = (rd.shape, id_.shape)
        return _from_node(out, node)
    return _wrap(out)
