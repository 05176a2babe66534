"""Elementwise operations with NumPy broadcasting: arithmetic, math functions, comparisons.

Each differentiable op is a forward function plus a ``Node`` subclass whose ``backward`` works
on raw arrays (the fast path) and whose ``graph_backward`` works on tensors (for
``create_graph=True``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _backend
from ..autograd.graph import NO_INPUT, Node
from ..dtypes import get_default_dtype
from ..tensor import Tensor, _from_node
from ._util import _state, broadcast_error, check_same_device, unbroadcast

_wrap = Tensor._wrap


def _tensor_arg(value, like: Tensor) -> Tensor:
    """A Python number or array as a tensor next to ``like``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        dtype = like._data.dtype if like._data.dtype.kind == "f" or isinstance(value, (bool, int)) \
            else get_default_dtype()
        return _wrap(like._xp().asarray(value, dtype=dtype))
    return _wrap(like._xp().asarray(value))


def _fix_dtype(out, a, b):
    """Match PyTorch's promotion where NumPy's differs: int/float mixes stay in the float type."""
    dt = out.dtype
    if dt.kind == "f" and dt is not a.dtype and dt is not b.dtype:
        for src in (a, b):
            if src.dtype.kind == "f":
                return out.astype(src.dtype)
        return out.astype(get_default_dtype())
    return out


def _scalar_result_dtype(out, a, scalar):
    if type(scalar) is float and a.dtype.kind in "biu":
        return out.astype(get_default_dtype())
    return out


def _binary(arrays_op, a, b):
    try:
        return arrays_op(a._data, b._data)
    except ValueError:
        raise broadcast_error(a._data.shape, b._data.shape) from None
    except TypeError:
        check_same_device(a, b)
        raise


def sum_to(t: Tensor, shape) -> Tensor:
    """Differentiable reduction of ``t`` to ``shape`` (the tensor form of ``unbroadcast``)."""
    if t.shape == shape:
        return t
    ndiff = t.ndim - len(shape)
    if ndiff:
        t = t.sum(dim=tuple(range(ndiff)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and t.shape[i] != 1)
    if axes:
        t = t.sum(dim=axes, keepdim=True)
    return t


# --------------------------------------------------------------------------------------------
# Binary arithmetic
# --------------------------------------------------------------------------------------------
class AddBackward0(Node):
    def backward(self, g):
        na, nb = self.next_functions
        return (unbroadcast(g, self.shapes[0]) if na else None,
                unbroadcast(g, self.shapes[1]) if nb else None)

    def graph_backward(self, g):
        return sum_to(g, self.shapes[0]), sum_to(g, self.shapes[1])


class SubBackward0(Node):
    def backward(self, g):
        na, nb = self.next_functions
        return (unbroadcast(g, self.shapes[0]) if na else None,
                unbroadcast(-g, self.shapes[1]) if nb else None)

    def graph_backward(self, g):
        return sum_to(g, self.shapes[0]), sum_to(-g, self.shapes[1])


class MulBackward0(Node):
    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        return (unbroadcast(g * b._data, a._data.shape) if na else None,
                unbroadcast(g * a._data, b._data.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return sum_to(g * b, a.shape), sum_to(g * a, b.shape)


class DivBackward0(Node):
    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        bd = b._data
        ga = g / bd
        return (unbroadcast(ga, a._data.shape) if na else None,
                unbroadcast(-ga * a._data / bd, bd.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return sum_to(g / b, a.shape), sum_to(-g * a / (b * b), b.shape)


class AddScalarBackward(Node):
    """Backward of ``x + number`` (and of ops whose gradient passes through unchanged)."""

    def name(self):
        return "AddBackward0"

    def backward(self, g):
        return g, None

    def graph_backward(self, g):
        return g, None


class MulScalarBackward(Node):
    """Backward of ``x * number``."""

    def name(self):
        return "MulBackward0"

    def backward(self, g):
        return g * self.scalar, None

    def graph_backward(self, g):
        return g * self.scalar, None


class SubScalarBackward(AddScalarBackward):
    def name(self):
        return "SubBackward0"


class NegBackward0(Node):
    def backward(self, g):
        return (-g,)

    def graph_backward(self, g):
        return (-g,)


class RDivScalarBackward(Node):
    """Backward of ``scalar / x``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        return (-g * self.scalar / (xd * xd),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (-g * self.scalar / (x * x),)


class PowBackward0(Node):
    """Backward of ``x ** p`` for a number ``p``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        p = self.exponent
        if p == 2:
            return (g * 2 * x._data,)
        return (g * p * x._data ** (p - 1),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        p = self.exponent
        return (g * p * x ** (p - 1),)


class PowBackward1(Node):
    """Backward of ``a ** b`` for two tensors."""

    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        ad, bd = a._data, b._data
        xp = _backend.get_array_module(ad)
        ga = gb = None
        if na:
            ga = unbroadcast(g * bd * ad ** (bd - 1), ad.shape)
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = xp.where(ad > 0, xp.log(xp.where(ad > 0, ad, 1)), 0)
            gb = unbroadcast(g * ad ** bd * log_a, bd.shape)
        return ga, gb

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return sum_to(g * b * a ** (b - 1), a.shape), sum_to(g * a ** b * log(a), b.shape)


class RPowScalarBackward(Node):
    """Backward of ``scalar ** x``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        return (g * self.scalar ** x._data * math.log(self.scalar),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g * self.scalar ** x * math.log(self.scalar),)


def _as_input(input, other):
    if isinstance(input, Tensor):
        return input
    return _tensor_arg(input, other if isinstance(other, Tensor) else _wrap(np.asarray(other)))


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    input = _as_input(input, other)
    if alpha != 1:
        other = other * alpha
    if isinstance(other, Tensor):
        out = _binary(np.add, input, other)
        if other._data.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = AddBackward0((input, other))
            node.shapes = (input._data.shape, other._data.shape)
            return _from_node(out, node)
        return _wrap(out)
    out = _scalar_result_dtype(input._data + other, input._data, other)
    if _state.enabled and input._requires_grad:
        return _from_node(out, AddScalarBackward((input, NO_INPUT)))
    return _wrap(out)


def sub(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    input = _as_input(input, other)
    if alpha != 1:
        other = other * alpha
    if isinstance(other, Tensor):
        out = _binary(np.subtract, input, other)
        if other._data.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = SubBackward0((input, other))
            node.shapes = (input._data.shape, other._data.shape)
            return _from_node(out, node)
        return _wrap(out)
    out = _scalar_result_dtype(input._data - other, input._data, other)
    if _state.enabled and input._requires_grad:
        return _from_node(out, SubScalarBackward((input, NO_INPUT)))
    return _wrap(out)


def rsub(input, other) -> Tensor:
    """``other - input`` (for ``2.0 - x``)."""
    if isinstance(other, Tensor):
        return sub(other, input)
    out = _scalar_result_dtype(other - input._data, input._data, other)
    if _state.enabled and input._requires_grad:
        return _from_node(out, NegBackward0((input,)))
    return _wrap(out)


def mul(input, other) -> Tensor:
    """Elementwise product with broadcasting."""
    input = _as_input(input, other)
    if isinstance(other, Tensor):
        out = _binary(np.multiply, input, other)
        if other._data.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = MulBackward0((input, other))
            node.save(input, other)
            return _from_node(out, node)
        return _wrap(out)
    out = _scalar_result_dtype(input._data * other, input._data, other)
    if _state.enabled and input._requires_grad:
        node = MulScalarBackward((input, NO_INPUT))
        node.scalar = other
        return _from_node(out, node)
    return _wrap(out)


def div(input, other, *, rounding_mode=None) -> Tensor:
    """Elementwise true division (or ``rounding_mode='floor'|'trunc'``, not differentiable)."""
    input = _as_input(input, other)
    if rounding_mode is not None:
        b = other._data if isinstance(other, Tensor) else other
        xp = input._xp()
        q = input._data / b
        out = xp.floor(q) if rounding_mode == "floor" else xp.trunc(q)
        if input.dtype.kind in "iu" and (not isinstance(other, Tensor) or other.dtype.kind in "iu"):
            out = out.astype(input.dtype)
        return _wrap(out)
    if isinstance(other, Tensor):
        out = _binary(np.true_divide, input, other)
        if out.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = DivBackward0((input, other))
            node.save(input, other)
            return _from_node(out, node)
        return _wrap(out)
    out = input._data / other
    if out.dtype.kind == "f" and out.dtype is not input._data.dtype and input.dtype.kind != "f":
        out = out.astype(get_default_dtype())
    if _state.enabled and input._requires_grad:
        node = MulScalarBackward((input, NO_INPUT))
        node.scalar = 1.0 / other
        return _from_node(out, node)
    return _wrap(out)


def rdiv(input, other) -> Tensor:
    """``other / input`` (for ``1 / x``)."""
    if isinstance(other, Tensor):
        return div(other, input)
    out = other / input._data
    if out.dtype.kind == "f" and input.dtype.kind != "f":
        out = out.astype(get_default_dtype())
    if _state.enabled and input._requires_grad:
        node = RDivScalarBackward((input,))
        node.save(input)
        node.scalar = other
        return _from_node(out, node)
    return _wrap(out)


def pow(input, exponent) -> Tensor:
    """``input ** exponent`` (number or tensor exponent)."""
    if not isinstance(input, Tensor):
        return rpow(exponent, input)
    if isinstance(exponent, Tensor):
        out = _binary(np.power, input, exponent)
        if exponent._data.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, exponent._data)
        if _state.enabled and (input._requires_grad or exponent._requires_grad):
            node = PowBackward1((input, exponent))
            node.save(input, exponent)
            return _from_node(out, node)
        return _wrap(out)
    xd = input._data
    out = xd * xd if exponent == 2 else xd ** exponent
    out = _scalar_result_dtype(out, xd, exponent)
    if _state.enabled and input._requires_grad:
        node = PowBackward0((input,))
        node.save(input)
        node.exponent = exponent
        return _from_node(out, node)
    return _wrap(out)


def rpow(input, other) -> Tensor:
    """``other ** input`` for a number ``other``."""
    if isinstance(other, Tensor):
        return pow(other, input)
    out = _scalar_result_dtype(other ** input._data, input._data, other)
    if _state.enabled and input._requires_grad:
        node = RPowScalarBackward((input,))
        node.save(input)
        node.scalar = other
        return _from_node(out, node)
    return _wrap(out)


def neg(input) -> Tensor:
    """``-input``."""
    out = -input._data
    if _state.enabled and input._requires_grad:
        return _from_node(out, NegBackward0((input,)))
    return _wrap(out)


def floor_divide(input, other) -> Tensor:
    """``input // other`` (not differentiable)."""
    b = other._data if isinstance(other, Tensor) else other
    return _wrap(input._data // b)


def remainder(input, other) -> Tensor:
    """``input % other`` with Python's sign convention (gradient 1 w.r.t. ``input``)."""
    b = other._data if isinstance(other, Tensor) else other
    out = input._data % b
    if _state.enabled and input._requires_grad:
        return _from_node(out, AddScalarBackward((input, NO_INPUT)))
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------------------------
class _UnaryBackward(Node):
    """Base: ``backward`` = ``g * derivative(x, y)`` where x is the input and y the output."""

    def backward(self, g):
        return (g * self.derivative(),)


class ExpBackward0(_UnaryBackward):
    def derivative(self):
        return self.saved_output

    def graph_backward(self, g):
        return (g * self.saved_output_tensor(),)


class LogBackward0(_UnaryBackward):
    def backward(self, g):
        (x,) = self.saved_tensors
        return (g / x._data,)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g / x,)


class SqrtBackward0(_UnaryBackward):
    def derivative(self):
        return 0.5 / self.saved_output

    def graph_backward(self, g):
        return (g * 0.5 / self.saved_output_tensor(),)


class AbsBackward0(_UnaryBackward):
    def derivative(self):
        (x,) = self.saved_tensors
        return _backend.get_array_module(x._data).sign(x._data)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g * sign(x),)


class SinBackward0(_UnaryBackward):
    def derivative(self):
        (x,) = self.saved_tensors
        return _backend.get_array_module(x._data).cos(x._data)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g * cos(x),)


class CosBackward0(_UnaryBackward):
    def derivative(self):
        (x,) = self.saved_tensors
        return -_backend.get_array_module(x._data).sin(x._data)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (-g * sin(x),)


class TanhBackward0(_UnaryBackward):
    def derivative(self):
        y = self.saved_output
        return 1 - y * y

    def graph_backward(self, g):
        y = self.saved_output_tensor()
        return (g * (1 - y * y),)


class SigmoidBackward0(_UnaryBackward):
    def derivative(self):
        y = self.saved_output
        return y * (1 - y)

    def graph_backward(self, g):
        y = self.saved_output_tensor()
        return (g * y * (1 - y),)


class ReluBackward0(Node):
    def backward(self, g):
        return (g * (self.saved_output > 0),)

    def graph_backward(self, g):
        return (g * (self.saved_output_tensor() > 0),)


def _unary(input, forward, node_cls, save_output=False):
    """Apply ``forward`` to the array and record ``node_cls``, saving either the output (for ops
    whose derivative is a function of it) or the input."""
    out = forward(input._data)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        result = _from_node(out, node)
        if save_output:
            node.save_output(result)
        else:
            node.save(input)
        return result
    return _wrap(out)


def exp(input) -> Tensor:
    """Elementwise e**x."""
    return _unary(input, input._xp().exp, ExpBackward0, save_output=True)


def log(input) -> Tensor:
    """Natural logarithm."""
    return _unary(input, input._xp().log, LogBackward0)


def sqrt(input) -> Tensor:
    """Square root."""
    return _unary(input, input._xp().sqrt, SqrtBackward0, save_output=True)


def abs(input) -> Tensor:
    """Absolute value (gradient sign(x), 0 at 0)."""
    return _unary(input, input._xp().abs, AbsBackward0)


def sin(input) -> Tensor:
    """Sine."""
    return _unary(input, input._xp().sin, SinBackward0)


def cos(input) -> Tensor:
    """Cosine."""
    return _unary(input, input._xp().cos, CosBackward0)


def tanh(input) -> Tensor:
    """Hyperbolic tangent."""
    return _unary(input, input._xp().tanh, TanhBackward0, save_output=True)


def _sigmoid_array(x):
    xp = _backend.get_array_module(x)
    # exp(-|x|) never overflows; pick the stable branch per sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid(input) -> Tensor:
    """Logistic sigmoid 1 / (1 + e**-x), computed stably."""
    return _unary(input, _sigmoid_array, SigmoidBackward0, save_output=True)


def relu(input) -> Tensor:
    """max(x, 0)."""
    return _unary(input, lambda x: _backend.get_array_module(x).maximum(x, 0), ReluBackward0,
                  save_output=True)


def sign(input) -> Tensor:
    """Sign of each element (not differentiable: gradient 0)."""
    return _wrap(input._xp().sign(input._data))


def _erf(x):
    xp = _backend.get_array_module(x)
    if xp is np:
        try:
            from scipy.special import erf
        except ImportError:  # pragma: no cover - scipy is optional
            return np.vectorize(math.erf, otypes=[x.dtype])(x)
        return erf(x)
    from cupyx.scipy.special import erf  # pragma: no cover - GPU only
    return erf(x)


class GeluBackward0(Node):
    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        xp = _backend.get_array_module(xd)
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            inner = k * (xd + 0.044715 * xd ** 3)
            t = xp.tanh(inner)
            d = 0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * k * (1 + 3 * 0.044715 * xd * xd)
        else:
            cdf = 0.5 * (1 + _erf(xd / math.sqrt(2)))
            pdf = xp.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
            d = cdf + xd * pdf
        return (g * d.astype(xd.dtype, copy=False),)


def gelu(input, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit (exact with erf, or ``approximate='tanh'``)."""
    xd = input._data
    xp = input._xp()
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        out = 0.5 * xd * (1 + xp.tanh(k * (xd + 0.044715 * xd ** 3)))
    elif approximate == "none":
        out = 0.5 * xd * (1 + _erf(xd / math.sqrt(2)))
    else:
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    out = out.astype(xd.dtype, copy=False)
    if _state.enabled and input._requires_grad:
        node = GeluBackward0((input,))
        node.save(input)
        node.approximate = approximate
        return _from_node(out, node)
    return _wrap(out)


class ClampBackward0(Node):
    def backward(self, g):
        return (g * self.mask,)

    def graph_backward(self, g):
        return (g * _wrap(self.mask),)


def clamp(input, min=None, max=None) -> Tensor:
    """Limit values to [min, max] (numbers or tensors); gradient 1 inside, 0 outside."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    xd = input._data
    xp = input._xp()
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    out = xd
    mask = None
    if lo is not None:
        out = xp.maximum(out, lo)
        mask = xd >= lo
    if hi is not None:
        out = xp.minimum(out, hi)
        mask = (xd <= hi) if mask is None else (mask & (xd <= hi))
    out = out.astype(xd.dtype, copy=False)
    if _state.enabled and input._requires_grad:
        node = ClampBackward0((input,))
        node.mask = mask
        return _from_node(out, node)
    return _wrap(out)


class MaximumBackward0(Node):
    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        na, nb = self.next_functions
        wa = (ad > bd) + 0.5 * (ad == bd)
        return (unbroadcast(g * wa, ad.shape) if na else None,
                unbroadcast(g * (1 - wa), bd.shape) if nb else None)


def _extremum(input, other, choose, sign):
    if not isinstance(other, Tensor):
        other = _tensor_arg(other, input)
    out = _binary(choose, input, other)
    if _state.enabled and (input._requires_grad or other._requires_grad):
        node = MaximumBackward0((input, other)) if sign > 0 else MinimumBackward0((input, other))
        node.save(input, other)
        return _from_node(out, node)
    return _wrap(out)


class MinimumBackward0(Node):
    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        na, nb = self.next_functions
        wa = (ad < bd) + 0.5 * (ad == bd)
        return (unbroadcast(g * wa, ad.shape) if na else None,
                unbroadcast(g * (1 - wa), bd.shape) if nb else None)


def maximum(input, other) -> Tensor:
    """Elementwise maximum (ties split the gradient equally)."""
    return _extremum(input, other, np.maximum, 1)


def minimum(input, other) -> Tensor:
    """Elementwise minimum (ties split the gradient equally)."""
    return _extremum(input, other, np.minimum, -1)


class WhereBackward0(Node):
    def backward(self, g):
        cond = self.condition
        na, nb = self.next_functions
        zero = g.dtype.type(0)
        xp = _backend.get_array_module(g)
        return (unbroadcast(xp.where(cond, g, zero), self.shapes[0]) if na else None,
                unbroadcast(xp.where(cond, zero, g), self.shapes[1]) if nb else None)

    def graph_backward(self, g):
        c = _wrap(self.condition)
        return (sum_to(where(c, g, 0.0), self.shapes[0]), sum_to(where(c, 0.0, g), self.shapes[1]))


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (numbers or tensors, broadcast)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:
        return _wrap(np.where(cond, input, other))
    a = _tensor_arg(input, like)
    b = _tensor_arg(other, like)
    try:
        out = like._xp().where(cond, a._data, b._data)
    except ValueError:
        raise broadcast_error(a.shape, b.shape) from None
    if out.dtype is not a._data.dtype and out.dtype is not b._data.dtype:
        out = _fix_dtype(out, a._data, b._data)
    if _state.enabled and (a._requires_grad or b._requires_grad):
        node = WhereBackward0((a, b))
        node.condition = cond
        node.shapes = (a.shape, b.shape)
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# Comparisons and logic (results are bool tensors without history)
# --------------------------------------------------------------------------------------------
def _compare(op):
    def compare(input, other):
        b = other._data if isinstance(other, Tensor) else other
        try:
            return _wrap(op(input._data, b))
        except ValueError:
            raise broadcast_error(input.shape, np.shape(b)) from None
    compare.__name__ = op.__name__
    compare.__doc__ = f"Elementwise ``{op.__name__}`` as a bool tensor."
    return compare


eq = _compare(np.equal)
ne = _compare(np.not_equal)
lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)
bitwise_and = _compare(np.bitwise_and)
bitwise_or = _compare(np.bitwise_or)
bitwise_xor = _compare(np.bitwise_xor)


def logical_not(input) -> Tensor:
    """Elementwise logical not."""
    return _wrap(np.logical_not(input._data))


def bitwise_not(input) -> Tensor:
    """``~input`` (logical not for bool tensors)."""
    return _wrap(~input._data)


def _rounding(fn_name):
    def rounding(input) -> Tensor:
        out = getattr(input._xp(), fn_name)(input._data)
        if _state.enabled and input._requires_grad:
            node = MulScalarBackward((input, NO_INPUT))
            node.scalar = 0.0
            return _from_node(out, node)
        return _wrap(out)
    rounding.__name__ = fn_name
    rounding.__doc__ = f"Elementwise {fn_name} (gradient zero, like PyTorch)."
    return rounding


floor = _rounding("floor")
ceil = _rounding("ceil")
round = _rounding("round")
trunc = _rounding("trunc")


def isnan(input) -> Tensor:
    return _wrap(input._xp().isnan(input._data))


def isinf(input) -> Tensor:
    return _wrap(input._xp().isinf(input._data))


def isfinite(input) -> Tensor:
    return _wrap(input._xp().isfinite(input._data))


def equal(input, other) -> bool:
    """True if both tensors have the same shape and values."""
    return input.shape == other.shape and bool((input._data == other._data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """``numpy.allclose`` on two tensors."""
    return bool(input._xp().allclose(input._data, other._data, rtol=rtol, atol=atol,
                                      equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    b = other._data if isinstance(other, Tensor) else other
    return _wrap(input._xp().isclose(input._data, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
