"""Discrete Fourier transforms (``distgrad.fft``): PyTorch's ``torch.fft`` on the array module's
``fft`` (``numpy.fft``, or ``cupy.fft`` on a GPU).

Every transform is linear, so it is written as a short sequence of linear steps on arrays
(cast to complex, crop or zero-pad, complex-to-complex, real-to-complex or complex-to-real
transform, conjugate). The backward of a sequence is the sequence of the steps' adjoints in
reverse order, itself such a sequence, so double backward is one more transform. Gradients
follow PyTorch's convention for complex tensors (see ``complex_ops``): a real input receives
the real part of its gradient, and a complex-to-real transform, which reads only one half of a
Hermitian spectrum, gets the gradient of exactly what it reads (the interior of the half counts
twice, the imaginary parts of the zero and Nyquist frequencies not at all).
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import as_dtype, get_default_dtype
from ..tensor import Tensor, _from_node
from ._util import _state
from .complex_ops import complex_dtype_of, scalar_type_name
from .creation import _make
from .shape import roll

_DUAL_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


# -- steps: linear maps on arrays, each with its adjoint --------------------------------------
def _real_dtype_of(dtype):
    return np.empty(0, dtype).real.dtype


class _ToComplex:
    """Real to complex (the adjoint of taking the real part)."""

    def apply(self, a):
        return a.astype(complex_dtype_of(a.dtype))

    def adjoint(self):
        return _RealPart()


class _RealPart:
    """The real part (the adjoint of the cast to complex)."""

    def apply(self, a):
        return a.real.copy()

    def adjoint(self):
        return _ToComplex()


class _Conj:
    """The complex conjugate (its own adjoint)."""

    def apply(self, a):
        return a.conj()

    def adjoint(self):
        return self


class _Resize:
    """Crop or zero-pad ``axes`` from sizes ``old`` to sizes ``new`` (adjoint: the reverse)."""

    def __init__(self, axes, old, new):
        self.axes, self.old, self.new = axes, old, new

    def apply(self, a):
        crop = [slice(None)] * a.ndim
        shape = list(a.shape)
        for axis, size in zip(self.axes, self.new):
            crop[axis] = slice(0, min(size, a.shape[axis]))
            shape[axis] = size
        out = a[tuple(crop)]
        if tuple(shape) != out.shape:  # zero-pad
            padded = _backend.get_array_module(a).zeros(shape, a.dtype)
            padded[tuple(slice(0, s) for s in out.shape)] = out
            out = padded
        return out

    def adjoint(self):
        return _Resize(self.axes, self.new, self.old)


def _scale_interior(a, axis, n, weight):
    """``a`` with the entries ``1 .. (n - 1) // 2`` along ``axis`` times ``weight``: the
    frequencies of a one-sided spectrum of a length-``n`` signal whose mirror images it stands
    for (not the zero frequency nor, for even ``n``, the Nyquist one)."""
    if weight == 1:
        return a
    a = a.copy()
    index = [slice(None)] * a.ndim
    index[axis] = slice(1, (n - 1) // 2 + 1)
    a[tuple(index)] *= weight
    return a


class _C2C:
    """The complex-to-complex transform over ``axes`` (inverse or not) with ``norm``; the
    adjoint is the opposite direction with the dual normalisation."""

    def __init__(self, axes, norm, inverse):
        self.axes, self.norm, self.inverse = axes, norm, inverse

    def apply(self, a):
        fft = _backend.get_array_module(a).fft
        out = (fft.ifftn if self.inverse else fft.fftn)(a, axes=self.axes, norm=self.norm)
        return out.astype(a.dtype, copy=False)  # NumPy < 2 computes in complex128

    def adjoint(self):
        return _C2C(self.axes, _DUAL_NORM[self.norm], not self.inverse)


class _R2C:
    """The real-to-complex (one-sided) transform over ``axes`` of a signal whose last axis has
    length ``n``, with the interior of the half spectrum times ``weight``."""

    def __init__(self, axes, n, norm, weight=1.0):
        self.axes, self.n, self.norm, self.weight = axes, n, norm, weight

    def apply(self, a):
        out = _backend.get_array_module(a).fft.rfftn(a, axes=self.axes, norm=self.norm)
        out = _scale_interior(out, self.axes[-1], self.n, self.weight)
        return out.astype(complex_dtype_of(a.dtype), copy=False)

    def adjoint(self):
        return _C2R(self.axes, self.n, _DUAL_NORM[self.norm], self.weight / 2)


class _C2R:
    """The complex-to-real transform over ``axes`` of a one-sided spectrum (last axis of size
    ``n // 2 + 1``) to a signal whose last axis has length ``n``, the interior of the half
    spectrum first taken times ``weight``."""

    def __init__(self, axes, n, norm, weight=1.0):
        self.axes, self.n, self.norm, self.weight = axes, n, norm, weight

    def apply(self, a):
        sizes = [a.shape[axis] for axis in self.axes[:-1]] + [self.n]
        a = _scale_interior(a, self.axes[-1], self.n, self.weight)
        out = _backend.get_array_module(a).fft.irfftn(a, s=sizes, axes=self.axes, norm=self.norm)
        return out.astype(_real_dtype_of(a.dtype), copy=False)

    def adjoint(self):
        return _R2C(self.axes, self.n, _DUAL_NORM[self.norm], self.weight * 2)


# -- the differentiable transform -------------------------------------------------------------
class _SpectralBackward(Node):
    """Backward of a transform: the adjoint steps, in reverse order."""

    def name(self):
        return self._name

    def backward(self, g):
        for step in self.adjoint_steps:
            g = step.apply(g)
        return (g,)

    def graph_backward(self, g):
        return (_transform(g, self.adjoint_steps),)


def _node_name(in_kind, out_kind):
    if out_kind != "c":
        return "FftC2RBackward0"
    return "FftC2CBackward0" if in_kind == "c" else "FftR2CBackward0"


def _transform(input, steps) -> Tensor:
    """Apply ``steps`` to ``input``, recording the backward when it requires grad."""
    data = input._data
    for step in steps:
        data = step.apply(data)
    if _state.enabled and input._requires_grad:
        node = _SpectralBackward((input,))
        node.adjoint_steps = [step.adjoint() for step in reversed(steps)]
        node._name = _node_name(input._data.dtype.kind, data.dtype.kind)
        return _from_node(data, node)
    return Tensor._wrap(data)


# -- arguments --------------------------------------------------------------------------------
def _check_norm(norm):
    if norm is None:
        return "backward"
    if norm not in _DUAL_NORM:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _float_input(input):
    """The input in a dtype the transforms take: integers and bool converted to the default float
    dtype; float16 refused, as PyTorch does on the CPU."""
    data = input._data
    if data.dtype.kind in "biu":
        return input.to(get_default_dtype())
    if data.dtype == np.float16:
        raise RuntimeError("Unsupported dtype Half")
    return input


def _wrap_dims(dim, ndim):
    dims = []
    for d in dim:
        d = int(d)
        if ndim == 0:
            raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
        if not -ndim <= d < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                             f"{ndim - 1}], but got {d})")
        dims.append(d % ndim)
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    return tuple(dims)


def _dims_and_sizes(input, s, dim, default_dim):
    """The transformed dims (in the given order) and the requested signal sizes (None where the
    input's size stands, from ``s`` entries of -1 or no ``s``)."""
    ndim = input.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None:
        s = [None if n is None or int(n) == -1 else int(n) for n in s]
        if dim is None:
            if len(s) > ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                                   f"{ndim} dimensions.")
            dim = range(ndim - len(s), ndim)
        elif len(s) != len(dim):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    if dim is None:
        dim = range(ndim) if default_dim is None else default_dim
    dims = _wrap_dims(dim, ndim)
    if s is None:
        s = [None] * len(dims)
    for n in s:
        if n is not None and n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, s


def _resize_to(shape, dims, sizes):
    """The resize step from ``shape`` to ``sizes`` along ``dims``, or no step when they match."""
    old = tuple(shape[d] for d in dims)
    return [] if tuple(sizes) == old else [_Resize(dims, old, tuple(sizes))]


# -- the transforms ---------------------------------------------------------------------------
def _c2c(input, s, dim, norm, inverse, default_dim=None) -> Tensor:
    norm = _check_norm(norm)
    input = _float_input(input)
    dims, sizes = _dims_and_sizes(input, s, dim, default_dim)
    sizes = [input.shape[d] if n is None else n for d, n in zip(dims, sizes)]
    steps = [] if input.dtype.kind == "c" else [_ToComplex()]
    steps += _resize_to(input.shape, dims, sizes)
    if dims:
        steps.append(_C2C(dims, norm, inverse))
    return _transform(input, steps)


def _r2c(name, input, s, dim, norm, inverse, default_dim=None) -> Tensor:
    """``rfftn`` (one-sided forward transform), or ``ihfftn`` when ``inverse`` (the conjugate
    of the one-sided inverse transform)."""
    norm = _check_norm(norm)
    input = _float_input(input)
    if input.dtype.kind == "c":
        raise RuntimeError(f"{name} expects a real input tensor, but got "
                           f"{scalar_type_name(input.dtype)}")
    dims, sizes = _dims_and_sizes(input, s, dim, default_dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    sizes = [input.shape[d] if n is None else n for d, n in zip(dims, sizes)]
    steps = _resize_to(input.shape, dims, sizes)
    if inverse:
        steps += [_R2C(dims, sizes[-1], _DUAL_NORM[norm]), _Conj()]
    else:
        steps.append(_R2C(dims, sizes[-1], norm))
    return _transform(input, steps)


def _c2r(name, input, s, dim, norm, hermitian, default_dim=None) -> Tensor:
    """``irfftn`` (one-sided spectrum to a real signal), or ``hfftn`` when ``hermitian`` (the
    forward transform of a signal given by its one-sided half: the input conjugated)."""
    norm = _check_norm(norm)
    input = _float_input(input)
    dims, sizes = _dims_and_sizes(input, s, dim, default_dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    n = sizes[-1]
    if n is None:
        n = 2 * (input.shape[dims[-1]] - 1)
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    sizes = [input.shape[d] if m is None else m for d, m in zip(dims[:-1], sizes[:-1])]
    steps = [] if input.dtype.kind == "c" else [_ToComplex()]
    if hermitian:
        steps.append(_Conj())
        norm = _DUAL_NORM[norm]
    steps += _resize_to(input.shape, dims, sizes + [n // 2 + 1])
    steps.append(_C2R(dims, n, norm))
    return _transform(input, steps)


def _one(n):
    return None if n is None else (n,)


def fft(input, n=None, dim=-1, norm=None) -> Tensor:
    """One-dimensional discrete Fourier transform of ``input`` along ``dim``, the signal cropped
    or zero-padded to length ``n``; ``norm`` is "backward" (no scaling), "ortho" or "forward"."""
    return _c2c(input, _one(n), (dim,), norm, inverse=False)


def ifft(input, n=None, dim=-1, norm=None) -> Tensor:
    """One-dimensional inverse discrete Fourier transform (scaled by ``1/n`` by default)."""
    return _c2c(input, _one(n), (dim,), norm, inverse=True)


def fft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """Two-dimensional discrete Fourier transform over ``dim`` (the last two by default)."""
    return _c2c(input, s, dim, norm, inverse=False)


def ifft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """Two-dimensional inverse discrete Fourier transform over ``dim``."""
    return _c2c(input, s, dim, norm, inverse=True)


def fftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-dimensional discrete Fourier transform over ``dim`` (all dims, or the last ``len(s)``),
    the signal cropped or zero-padded to sizes ``s``."""
    return _c2c(input, s, dim, norm, inverse=False)


def ifftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-dimensional inverse discrete Fourier transform over ``dim``."""
    return _c2c(input, s, dim, norm, inverse=True)


def rfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """Transform of a real signal: the ``n // 2 + 1`` non-negative frequencies of ``fft``."""
    return _r2c("rfft", input, _one(n), (dim,), norm, inverse=False)


def irfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """Inverse of ``rfft``: the real signal of length ``n`` (``2 * (size - 1)`` by default)
    whose one-sided spectrum is ``input`` (imaginary parts of the zero and Nyquist frequencies
    are ignored)."""
    return _c2r("irfft", input, _one(n), (dim,), norm, hermitian=False)


def rfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """Two-dimensional ``rfftn``: one-sided along the last of ``dim``."""
    return _r2c("rfftn", input, s, dim, norm, inverse=False)


def irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """Two-dimensional ``irfftn``."""
    return _c2r("irfftn", input, s, dim, norm, hermitian=False)


def rfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """N-dimensional transform of a real signal, one-sided along the last of ``dim``."""
    return _r2c("rfftn", input, s, dim, norm, inverse=False)


def irfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """Inverse of ``rfftn``: a real signal (the last size ``2 * (size - 1)`` by default)."""
    return _c2r("irfftn", input, s, dim, norm, hermitian=False)


def hfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """Transform of a Hermitian-symmetric signal given by its one-sided half: a real spectrum of
    length ``n`` (``2 * (size - 1)`` by default)."""
    return _c2r("hfft", input, _one(n), (dim,), norm, hermitian=True)


def ihfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """Inverse of ``hfft``: the one-sided half of the inverse transform of a real signal."""
    return _r2c("ihfft", input, _one(n), (dim,), norm, inverse=True)


# -- frequencies and shifts -------------------------------------------------------------------
def _frequencies(fn, n, d, dtype, device, requires_grad) -> Tensor:
    dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
    values = getattr(np.fft, fn)(int(n), d).astype(dtype)
    if device is not None:
        values = _backend.to_device(values, _backend.as_device(device))
    return _make(values, requires_grad)


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **unused) -> Tensor:
    """The sample frequencies of ``fft`` for a signal of length ``n`` and sample spacing ``d``:
    ``[0, 1, ..., n//2 - 1 (or (n-1)//2), -(n//2), ..., -1] / (d * n)``."""
    return _frequencies("fftfreq", n, d, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **unused) -> Tensor:
    """The sample frequencies of ``rfft``: ``[0, 1, ..., n // 2] / (d * n)``."""
    return _frequencies("rfftfreq", n, d, dtype, device, requires_grad)


def _shift(input, dim, sign) -> Tensor:
    if dim is None:
        dim = range(input.ndim)
    elif isinstance(dim, int):
        dim = (dim,)
    dims = [int(d) for d in dim]
    return roll(input, [sign * (input.shape[d] // 2) for d in dims], dims)


def fftshift(input, dim=None) -> Tensor:
    """Move the zero frequency to the centre of ``dim`` (all dims by default)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None) -> Tensor:
    """Inverse of ``fftshift``."""
    return _shift(input, dim, -1)
