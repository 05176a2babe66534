"""Elementwise operations with NumPy broadcasting: arithmetic, math functions, comparisons.

Each differentiable op is a forward function plus a ``Node`` subclass whose ``backward`` works
on raw arrays (the fast path) and whose ``graph_backward`` works on tensors (for
``create_graph=True``).
"""
from __future__ import annotations

import math
import operator
import sys

import numpy as np

from .. import _backend
from ..autograd.graph import NO_INPUT, Node
from ..dtypes import get_default_dtype
from ..tensor import Tensor, _from_node
from ._util import (_state, broadcast_error, cast_grads_to_inputs, check_devices,
                    check_same_device, fix_dtype, maximum_zero, result_type, scalar_value,
                    torch_type_name, unbroadcast)

_wrap = Tensor._wrap


def _tensor_arg(value, like: Tensor) -> Tensor:
    """A Python number or array as a tensor next to ``like``."""
    if isinstance(value, Tensor):
        return value
    value = scalar_value(value)
    if isinstance(value, (bool, int, float)):
        dtype = like._data.dtype
        if type(value) is float and dtype.kind != "f":
            dtype = get_default_dtype()
        elif type(value) is int and dtype.kind == "b":
            dtype = np.dtype(np.int64)
        return _wrap(like._xp().asarray(value, dtype=dtype))
    return _wrap(like._xp().asarray(value))


def _fix_dtype(out, a, b):
    """Match PyTorch's promotion where NumPy's differs (int/float mixes stay in the float type; a
    0-d tensor does not raise the dtype of a tensor of the same category)."""
    return fix_dtype(out, a, b)


_PY_NUMBERS = (int, float)


def _coerce(value, like: Tensor):
    """A non-Tensor operand other than a plain int/float: NumPy scalars become Python numbers
    (PyTorch treats them as scalars), arrays become tensors, and a complex number next to a real
    tensor a 0-d complex tensor of the tensor's precision (so that the real tensor's gradient is
    the real part of the complex one)."""
    if isinstance(value, np.generic):
        value = value.item()
    if type(value) is complex and like._data.dtype.kind != "c":
        real = like._data.dtype if like._data.dtype.kind == "f" else get_default_dtype()
        return _wrap(like._xp().asarray(value, np.promote_types(real, np.complex64)))
    if isinstance(value, np.ndarray) or (_backend._cupy is not None
                                         and isinstance(value, _backend._cupy.ndarray)):
        return _wrap(like._xp().asarray(value))
    return value


def _scalar_result_dtype(out, a, scalar):
    if type(scalar) is float and a.dtype.kind in "biu":
        return out.astype(get_default_dtype())
    return out


def _binary(arrays_op, a, b):
    try:
        return arrays_op(a._data, b._data)
    except ValueError as exc:
        check_same_device(a, b)  # CuPy: arrays on two GPUs raise ValueError
        raise _value_error(exc, a._data.shape, b._data.shape) from None
    except TypeError:
        check_same_device(a, b)
        if arrays_op is np.subtract and a._data.dtype.kind == "b" and b._data.dtype.kind == "b":
            raise RuntimeError(_BOOL_SUB_BOTH) from None
        raise


_BOOL_SUB_BOTH = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                  "`^` or `logical_xor()` operator instead.")
_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
             "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _refuse_bool_sub(number):
    """Raise PyTorch's error for a bool tensor and a Python ``number`` in a subtraction."""
    raise RuntimeError(_BOOL_SUB_BOTH if type(number) is bool else _BOOL_SUB)


def _value_error(exc, a_shape, b_shape):
    """NumPy's ValueError from a binary op as PyTorch's RuntimeError (the broadcast message when
    the shapes do not broadcast; e.g. "Integers to negative integer powers are not allowed."
    otherwise)."""
    try:
        np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        return broadcast_error(a_shape, b_shape)
    return RuntimeError(str(exc))


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
def _conj(v):
    """``v`` (an array or a tensor) conjugated when complex: gradients of products take the
    conjugate factor (PyTorch's convention for complex gradients)."""
    return v.conj() if v.dtype.kind == "c" else v


class AddBackward0(Node):
    """Backward of ``a + b`` for two tensors."""

    def backward(self, g):
        na, nb = self.next_functions
        return (unbroadcast(g, self.shapes[0]) if na else None,
                unbroadcast(g, self.shapes[1]) if nb else None)

    def graph_backward(self, g):
        return sum_to(g, self.shapes[0]), sum_to(g, self.shapes[1])


class SubBackward0(Node):
    """Backward of ``a - b`` for two tensors."""

    def backward(self, g):
        na, nb = self.next_functions
        return (unbroadcast(g, self.shapes[0]) if na else None,
                unbroadcast(-g, self.shapes[1]) if nb else None)

    def graph_backward(self, g):
        return sum_to(g, self.shapes[0]), sum_to(-g, self.shapes[1])


class MulBackward0(Node):
    """Backward of ``a * b`` for two tensors."""

    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        return (unbroadcast(g * _conj(b._data), a._data.shape) if na else None,
                unbroadcast(g * _conj(a._data), b._data.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return sum_to(g * _conj(b), a.shape), sum_to(g * _conj(a), b.shape)


class DivBackward0(Node):
    """Backward of ``a / b`` for two tensors."""

    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        bd = _conj(b._data)
        ga = g / bd
        return (unbroadcast(ga, a._data.shape) if na else None,
                unbroadcast(-ga * _conj(a._data) / bd, bd.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        a, b = _conj(a), _conj(b)
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
        return g * self.scalar.conjugate(), None

    def graph_backward(self, g):
        return g * self.scalar.conjugate(), None


class DivScalarBackward(Node):
    """Backward of ``x / number`` (dividing, so that a zero divisor gives inf like PyTorch)."""

    def name(self):
        return "DivBackward0"

    def backward(self, g):
        return g / self.divisor.conjugate(), None

    def graph_backward(self, g):
        return g / self.divisor.conjugate(), None


class SubScalarBackward(AddScalarBackward):
    """Backward of ``x - number``."""

    def name(self):
        return "SubBackward0"


class NegBackward0(Node):
    """Backward of ``-x``."""

    def backward(self, g):
        return (-g,)

    def graph_backward(self, g):
        return (-g,)


class RDivScalarBackward(Node):
    """Backward of ``scalar / x``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = _conj(x._data)
        return (-g * self.scalar.conjugate() / (xd * xd),)

    def graph_backward(self, g):
        x = _conj(self.saved_tensors[0])
        return (-g * self.scalar.conjugate() / (x * x),)


class PowBackward0(Node):
    """Backward of ``x ** p`` for a number ``p``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        p = self.exponent
        if p == 2:
            return (g * 2 * x._data,)
        if p == 0:  # PyTorch: exactly zero (no 0 * inf at x = 0)
            return (g * 0,)
        return (g * p * x._data ** (p - 1),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        p = self.exponent
        if p == 0:
            return (g * 0,)
        if p == 2:
            return (g * 2 * x,)
        return (g * p * x ** (p - 1),)


class PowBackward1(Node):
    """Backward of ``a ** b`` for two tensors."""

    # PyTorch's formulas: d/da = b * a**(b-1), set to 0 where b == 0; d/db = a**b * log(a),
    # set to 0 where a == 0 and b >= 0 (NaN for a < 0, like log).
    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        ad, bd = a._data, b._data
        xp = _backend.get_array_module(ad)
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if na:
                d = bd * ad ** (bd - 1)
                ga = unbroadcast(g * xp.where(bd == 0, 0, d).astype(d.dtype, copy=False),
                                 ad.shape)
            if nb:
                d = ad ** bd * xp.log(ad)
                d = xp.where((ad == 0) & (bd >= 0), 0, d).astype(d.dtype, copy=False)
                gb = unbroadcast(g * d, bd.shape)
        return ga, gb

    def graph_backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if na:
                ga = sum_to(where(b == 0, 0.0, g * b * a ** (b - 1)), a.shape)
            if nb:
                gb = sum_to(where((a == 0) & (b >= 0), 0.0, g * a ** b * log(a)), b.shape)
        return ga, gb


def _log_scalar(c):
    """log of a Python number like ``std::log``: -inf at 0, NaN below."""
    return math.log(c) if c > 0 else (-math.inf if c == 0 else math.nan)


class RPowScalarBackward(Node):
    """Backward of ``scalar ** x`` (at base 0 the gradient is 0 where x >= 0, like PyTorch)."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        if self.scalar > 0:
            return (g * (self.scalar ** xd * math.log(self.scalar)),)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = self.scalar ** xd * _log_scalar(self.scalar)
            if self.scalar == 0:
                d = _backend.get_array_module(xd).where(xd >= 0, 0, d).astype(d.dtype, copy=False)
        return (g * d,)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = self.scalar ** x * _log_scalar(self.scalar)
            if self.scalar == 0:
                d = where(x >= 0, 0.0, d)
        return (g * d,)


class ZeroGradBackward(Node):
    """Backward of piecewise-constant ops (floor/trunc division): a zero gradient."""

    def __init__(self, inputs, name="DivBackward1"):
        super().__init__(inputs)
        self._name = name
        self.shapes = tuple([t._data.shape for t in inputs])

    def name(self):
        return self._name

    def backward(self, g):
        xp = _backend.get_array_module(g)
        return tuple([None if e is None else xp.zeros(s, dtype=g.dtype)
                      for e, s in zip(self.next_functions, self.shapes)])

    def graph_backward(self, g):
        return tuple([None if e is None else sum_to(g * 0, s)
                      for e, s in zip(self.next_functions, self.shapes)])


class RemainderBackward0(Node):
    """Backward of ``a % b``: 1 for ``a``; ``-floor(a / b)`` for ``b``."""

    rounding = "floor"  # of the quotient

    def backward(self, g):
        na, nb = self.next_functions
        ga = gb = None
        if na:
            ga = unbroadcast(g, self.shapes[0])
        if nb:
            a, b = self.saved_tensors
            xp = _backend.get_array_module(g)
            gb = unbroadcast(-g * getattr(xp, self.rounding)(a._data / b._data), self.shapes[1])
        return ga, gb

    def graph_backward(self, g):
        na, nb = self.next_functions
        gb = None
        if nb:
            a, b = self.saved_tensors
            gb = sum_to(-g * div(a, b, rounding_mode=self.rounding), self.shapes[1])
        return sum_to(g, self.shapes[0]), gb


class FmodBackward0(RemainderBackward0):
    """Backward of ``fmod(a, b)``: 1 for ``a``; ``-trunc(a / b)`` for ``b``."""

    rounding = "trunc"


def _operands(input, other):
    """``(input, other)`` for a binary op: ``input`` as a tensor (a number becomes one next to
    ``other``), and a 0-d CPU tensor moved next to a GPU operand (``_same_device``)."""
    if not isinstance(input, Tensor):
        input = _tensor_arg(input, other if isinstance(other, Tensor) else _wrap(np.asarray(other)))
    return _same_device(input, other)


def _same_device(a: Tensor, b):
    """``(a, b)``, with a 0-d CPU tensor copied (differentiably) to the GPU of the other: PyTorch
    treats such a tensor as a scalar that may take part in an op on GPU tensors."""
    if not isinstance(b, Tensor) or type(a._data) is type(b._data):
        return a, b
    if b._data.ndim == 0 and type(b._data) is np.ndarray:
        return a, b.to(a.device)
    if a._data.ndim == 0 and type(a._data) is np.ndarray:
        return a.to(b.device), b
    return a, b


def _additive(arrays_op, scalar_op, node_cls, scalar_node_cls, name, doc):
    """Build ``add`` or ``sub``: ``arrays_op`` on two tensors (``scalar_op`` with a number),
    recording ``node_cls`` (``scalar_node_cls``) for autograd."""

    def op(input, other, *, alpha=1) -> Tensor:
        input, other = _operands(input, other)
        if alpha != 1:
            other = other * alpha
        if isinstance(other, Tensor):
            out = _binary(arrays_op, input, other)
            mixed = other._data.dtype is not input._data.dtype
            if mixed:
                if arrays_op is np.subtract and "b" in (input._data.dtype.kind,
                                                        other._data.dtype.kind):
                    raise RuntimeError(_BOOL_SUB)
                out = _fix_dtype(out, input._data, other._data)
            if _state.enabled and (input._requires_grad or other._requires_grad):
                node = node_cls((input, other))
                node.shapes = (input._data.shape, other._data.shape)
                if mixed:
                    cast_grads_to_inputs(node, (input, other))
                return _from_node(out, node)
            return _wrap(out)
        if type(other) not in _PY_NUMBERS:
            other = _coerce(other, input)
            if isinstance(other, Tensor):
                return op(input, other)
        if scalar_op is operator.sub and input._data.dtype.kind == "b":  # mask - 1
            _refuse_bool_sub(other)
        out = _scalar_result_dtype(scalar_op(input._data, other), input._data, other)
        if _state.enabled and input._requires_grad:
            return _from_node(out, scalar_node_cls((input, NO_INPUT)))
        return _wrap(out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


add = _additive(np.add, operator.add, AddBackward0, AddScalarBackward, "add",
                "``input + alpha * other`` with broadcasting.")
sub = _additive(np.subtract, operator.sub, SubBackward0, SubScalarBackward, "sub",
                "``input - alpha * other`` with broadcasting.")


def rsub(input, other) -> Tensor:
    """``other - input`` (for ``2.0 - x``)."""
    if type(other) not in _PY_NUMBERS and not isinstance(other, Tensor):
        other = _coerce(other, input)
    if isinstance(other, Tensor):
        return sub(other, input)
    if input._data.dtype.kind == "b":  # 1 - mask
        _refuse_bool_sub(other)
    out = _scalar_result_dtype(other - input._data, input._data, other)
    if _state.enabled and input._requires_grad:
        return _from_node(out, NegBackward0((input,)))
    return _wrap(out)


def mul(input, other) -> Tensor:
    """Elementwise product with broadcasting."""
    input, other = _operands(input, other)
    if isinstance(other, Tensor):
        out = _binary(np.multiply, input, other)
        mixed = other._data.dtype is not input._data.dtype
        if mixed:
            out = _fix_dtype(out, input._data, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = MulBackward0((input, other))
            node.save(input, other)
            if mixed:
                cast_grads_to_inputs(node, (input, other))
            return _from_node(out, node)
        return _wrap(out)
    if type(other) not in _PY_NUMBERS:
        other = _coerce(other, input)
        if isinstance(other, Tensor):
            return mul(input, other)
    out = _scalar_result_dtype(input._data * other, input._data, other)
    if _state.enabled and input._requires_grad:
        node = MulScalarBackward((input, NO_INPUT))
        node.scalar = other
        return _from_node(out, node)
    return _wrap(out)


def div(input, other, *, rounding_mode=None) -> Tensor:
    """Elementwise true division (or ``rounding_mode='floor'|'trunc'``, not differentiable)."""
    input, other = _operands(input, other)
    if type(other) not in _PY_NUMBERS and not isinstance(other, Tensor):
        other = _coerce(other, input)
    if rounding_mode is not None:
        return _rounded_div(input, other, rounding_mode)
    if isinstance(other, Tensor):
        out = _binary(np.true_divide, input, other)
        if out.dtype is not input._data.dtype or out.dtype is not other._data.dtype:
            out = fix_dtype(out, input._data, other._data, true_divide=True)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = DivBackward0((input, other))
            node.save(input, other)
            if other._data.dtype is not input._data.dtype:
                cast_grads_to_inputs(node, (input, other))
            return _from_node(out, node)
        return _wrap(out)
    out = input._data / other
    if out.dtype.kind == "f" and out.dtype is not input._data.dtype and input.dtype.kind != "f":
        out = out.astype(get_default_dtype())
    if _state.enabled and input._requires_grad:
        node = DivScalarBackward((input, NO_INPUT))
        node.divisor = other
        return _from_node(out, node)
    return _wrap(out)


def _refuse_int_zero_divisor(dtype, divisor, xp):
    """PyTorch's error for an integer division or remainder by zero (NumPy gives 0 and warns)."""
    if dtype.kind in "iu" and not xp.all(xp.asarray(divisor) != 0):
        raise RuntimeError("ZeroDivisionError")


def _rounded_div(input, other, rounding_mode):
    """``div(..., rounding_mode='floor'|'trunc')`` and ``//``: PyTorch's dtype, zero gradient."""
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    xp = input._xp()
    a = input._data
    if isinstance(other, Tensor):
        b = other._data
        check_same_device(input, other)
        dt = result_type(a, b)
    else:
        b = other
        dt = a.dtype
        if type(other) is float and a.dtype.kind != "f":
            dt = get_default_dtype()
        elif type(other) is int and a.dtype.kind == "b":
            dt = np.dtype(np.int64)
    if dt.kind == "b":
        dt = np.dtype(np.int64)
    _refuse_int_zero_divisor(dt, b, xp)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            if dt.kind in "iu":
                q = xp.floor_divide(a, b)
                if rounding_mode == "trunc":  # round toward zero: undo floor's step down
                    q = q + ((q < 0) & (q * b != a))
                out = q
            else:
                q = xp.true_divide(a, b)
                out = xp.floor(q) if rounding_mode == "floor" else xp.trunc(q)
    except ValueError:
        raise broadcast_error(a.shape, xp.shape(b)) from None
    out = out.astype(dt, copy=False)
    other_rg = isinstance(other, Tensor) and other._requires_grad
    if _state.enabled and (input._requires_grad or other_rg) and dt.kind == "f":
        inputs = (input, other) if isinstance(other, Tensor) else (input,)
        return _from_node(out, ZeroGradBackward(inputs, "DivBackward1"))
    return _wrap(out)


def _scalar_on_left(input, other, tensor_op, array_op, node_cls) -> Tensor:
    """``other <op> input`` for a number ``other`` (``tensor_op(other, input)`` when it turns out
    to be a tensor): ``array_op(other, array)`` recorded with ``node_cls``."""
    if type(other) not in _PY_NUMBERS and not isinstance(other, Tensor):
        other = _coerce(other, input)
    if isinstance(other, Tensor):
        return tensor_op(other, input)
    out = array_op(other, input._data)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.save(input)
        node.scalar = other
        return _from_node(out, node)
    return _wrap(out)


def _rdiv_arrays(other, x):
    out = other / x
    return out.astype(get_default_dtype()) if out.dtype.kind == "f" and x.dtype.kind != "f" else out


def rdiv(input, other) -> Tensor:
    """``other / input`` (for ``1 / x``)."""
    return _scalar_on_left(input, other, div, _rdiv_arrays, RDivScalarBackward)


def pow(input, exponent) -> Tensor:
    """``input ** exponent`` (number or tensor exponent)."""
    if not isinstance(input, Tensor):
        return rpow(exponent, input)
    if type(exponent) not in _PY_NUMBERS and not isinstance(exponent, Tensor):
        exponent = _coerce(exponent, input)
    if isinstance(exponent, Tensor):
        input, exponent = _same_device(input, exponent)
        out = _binary(np.power, input, exponent)
        if exponent._data.dtype is not input._data.dtype:
            out = _fix_dtype(out, input._data, exponent._data)
        if _state.enabled and (input._requires_grad or exponent._requires_grad):
            node = PowBackward1((input, exponent))
            node.save(input, exponent)
            if exponent._data.dtype is not input._data.dtype:
                cast_grads_to_inputs(node, (input, exponent))
            return _from_node(out, node)
        return _wrap(out)
    xd = input._data
    try:
        out = xd * xd if exponent == 2 else xd ** exponent
    except ValueError as exc:  # integers to negative integer powers
        raise RuntimeError(str(exc)) from None
    out = _scalar_result_dtype(out, xd, exponent)
    if _state.enabled and input._requires_grad:
        node = PowBackward0((input,))
        node.save(input)
        node.exponent = exponent
        return _from_node(out, node)
    return _wrap(out)


def rpow(input, other) -> Tensor:
    """``other ** input`` for a number ``other``."""
    return _scalar_on_left(input, other, pow, lambda o, x: _scalar_result_dtype(o ** x, x, o),
                           RPowScalarBackward)


def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in float64 (a number may stand for either operand); the
    gradients come back in each input's dtype."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(
            f"float_power() received an invalid combination of arguments - got "
            f"({type(input).__name__}, {type(exponent).__name__}), but expected one of:\n"
            " * (Tensor input, Tensor exponent, *, Tensor out = None)\n"
            " * (Number self, Tensor exponent, *, Tensor out = None)\n"
            " * (Tensor input, Number exponent, *, Tensor out = None)\n")

    def as_float64(x):
        return x.to(np.float64) if isinstance(x, Tensor) else float(scalar_value(x))

    return pow(as_float64(input), as_float64(exponent))


def float_power_(input, exponent) -> Tensor:
    """In-place ``float_power``: ``input`` must be float64, the dtype of the result."""
    if input._data.dtype != np.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{torch_type_name(input._data.dtype)} but the operation's result "
                           "requires dtype Double")
    from .inplace import apply_inplace  # (inplace imports modules that import this one)
    return apply_inplace(input, float_power, exponent)


def neg(input) -> Tensor:
    """``-input``."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")
    out = -input._data
    if _state.enabled and input._requires_grad:
        return _from_node(out, NegBackward0((input,)))
    return _wrap(out)


def floor_divide(input, other) -> Tensor:
    """``input // other`` (PyTorch's dtype; the gradient is zero)."""
    input, other = _operands(input, other)
    if type(other) not in _PY_NUMBERS and not isinstance(other, Tensor):
        other = _coerce(other, input)
    return _rounded_div(input, other, "floor")


def rfloordiv(input, other) -> Tensor:
    """``other // input`` for a number ``other``."""
    return floor_divide(other, input)


def remainder(input, other) -> Tensor:
    """``input % other`` with Python's sign convention (gradient 1 w.r.t. ``input``,
    ``-floor(input / other)`` w.r.t. a tensor ``other``)."""
    return _modulo(input, other, np.remainder, RemainderBackward0)


def fmod(input, other) -> Tensor:
    """C's ``fmod``: the remainder of ``input / other`` with the sign of ``input`` (gradient 1
    w.r.t. ``input``, ``-trunc(input / other)`` w.r.t. a tensor ``other``)."""
    return _modulo(input, other, np.fmod, FmodBackward0)


def _modulo(input, other, array_fn, node_cls) -> Tensor:
    input, other = _operands(input, other)
    if type(other) not in _PY_NUMBERS and not isinstance(other, Tensor):
        other = _coerce(other, input)
    a = input._data
    if isinstance(other, Tensor):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _binary(array_fn, input, other)
        _refuse_int_zero_divisor(out.dtype, other._data, input._xp())
        if other._data.dtype is not a.dtype:
            out = fix_dtype(out, a, other._data)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            node = node_cls((input, other))
            node.save(input, other)
            node.shapes = (a.shape, other._data.shape)
            if other._data.dtype is not a.dtype:
                cast_grads_to_inputs(node, (input, other))
            return _from_node(out, node)
        return _wrap(out)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _scalar_result_dtype(array_fn(a, other), a, other)
    _refuse_int_zero_divisor(out.dtype, other, input._xp())
    if _state.enabled and input._requires_grad:
        return _from_node(out, AddScalarBackward((input, NO_INPUT)))
    return _wrap(out)


def rremainder(input, other) -> Tensor:
    """``other % input`` for a number ``other``."""
    return remainder(other, input)


# --------------------------------------------------------------------------------------------
# Scaled updates: addcmul, addcdiv (and the scalars of the matrix-product updates)
# --------------------------------------------------------------------------------------------
def check_tensor_args(name, *named):
    """PyTorch's TypeError when one of the ``(argument name, value)`` pairs (in positional
    order) of op ``name`` is not a tensor."""
    for position, (arg, value) in enumerate(named, 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def scale_for(value, dtype, kernel):
    """A ``value``/``alpha``/``beta`` number (or 0-d tensor) as PyTorch casts it for a result of
    ``dtype``: truncated for integer results; bool results raise (``kernel`` has no bool
    implementation)."""
    if isinstance(value, Tensor):
        value = value.item()
    value = scalar_value(value)
    if dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    return int(value) if dtype.kind in "iu" else value


_ADDCDIV_INTEGER = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
    "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
    "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
    "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
    "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
    "dtypes.")


def _addc(name, input, tensor1, tensor2, value, combine) -> Tensor:
    """``input + value * combine(tensor1, tensor2)`` (the three broadcast; ``value`` cast to
    the result dtype), composed of differentiable ops."""
    check_tensor_args(name, ("input", input), ("tensor1", tensor1), ("tensor2", tensor2))
    shapes = (input.shape, tensor1.shape, tensor2.shape)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise _broadcast_error3(*shapes) from None
    dt = result_type(input._data, tensor1._data, tensor2._data)
    value = scale_for(value, dt, f"{name}_cpu_out")
    term = combine(tensor1, tensor2)
    return add(input, term if value == 1 else term * value)


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (broadcast)."""
    return _addc("addcmul", input, tensor1, tensor2, value, mul)


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (broadcast; true division: the tensors may not both
    be integers)."""
    if (isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor)
            and tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu"):
        raise RuntimeError(_ADDCDIV_INTEGER)
    return _addc("addcdiv", input, tensor1, tensor2, value, div)


# --------------------------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------------------------
_ops = sys.modules[__name__]  # the tensor namespace of the formulas (exp, sqrt, cosh ...)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_LN2, _LN10 = math.log(2), math.log(10)


class _UnaryBackward(Node):
    """Base of unary nodes: ``backward`` is ``g * formula(m, v)``, ``v`` the input (the output
    when ``of_output``); ``m`` is the array module for ``backward`` and this module for
    ``graph_backward``, so one expression serves both."""

    of_output = False

    def backward(self, g):
        return (g * self.derivative(),)

    def derivative(self):
        v = self.saved_output if self.of_output else self.saved_tensors[0]._data
        return self.formula(_backend.get_array_module(v), v)

    def graph_backward(self, g):
        v = self.saved_output_tensor() if self.of_output else self.saved_tensors[0]
        return (g * self.formula(_ops, v),)


class ExpBackward0(_UnaryBackward):
    """Backward of ``exp``: y."""
    of_output = True
    formula = staticmethod(lambda m, y: y)


class LogBackward0(Node):
    """Backward of ``log``: g / x."""

    of_output = False

    def backward(self, g):
        (x,) = self.saved_tensors
        return (g / x._data,)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g / x,)


class SqrtBackward0(_UnaryBackward):
    """Backward of ``sqrt``: 0.5 / y."""
    of_output = True
    formula = staticmethod(lambda m, y: 0.5 / y)


def _sgn(m, x):
    """sign(x); for complex x, ``x / |x|`` (0 at 0), PyTorch's ``sgn``."""
    if x.dtype.kind != "c":
        return m.sign(x)
    size = m.abs(x)
    return m.where(size == 0, 0, x / m.where(size == 0, 1, size))


class AbsBackward0(_UnaryBackward):
    """Backward of ``abs``: sign(x) (``x / |x|`` for complex x)."""
    formula = staticmethod(_sgn)


class SinBackward0(_UnaryBackward):
    """Backward of ``sin``: cos(x)."""
    formula = staticmethod(lambda m, x: m.cos(x))


class CosBackward0(_UnaryBackward):
    """Backward of ``cos``: -sin(x)."""
    formula = staticmethod(lambda m, x: -m.sin(x))


class TanhBackward0(_UnaryBackward):
    """Backward of ``tanh``: 1 - y**2."""
    of_output = True
    formula = staticmethod(lambda m, y: 1 - y * y)


class SigmoidBackward0(_UnaryBackward):
    """Backward of ``sigmoid``: y (1 - y)."""
    of_output = True
    formula = staticmethod(lambda m, y: y * (1 - y))


class ReluBackward0(Node):
    """Backward of ``relu``."""

    of_output = True

    def backward(self, g):
        # a float mask: multiplying by a bool array takes NumPy's slow casting path
        return (g * (self.saved_output > 0).astype(g.dtype),)

    def graph_backward(self, g):
        return (g * (self.saved_output_tensor() > 0),)


def _unary(input, forward, node_cls, float_only=True):
    """Apply ``forward`` to the array and record ``node_cls``, saving either the output (when
    ``node_cls.of_output``: its derivative is a function of the output) or the input.
    ``float_only`` ops compute integer and bool input in the default float dtype, like PyTorch."""
    xd = input._data
    if _state.enabled and input._requires_grad:  # a float tensor
        node = node_cls((input,))
        result = _from_node(forward(xd), node)
        if node_cls.of_output:
            node.save_output(result)
        else:
            node.save(input)
        return result
    if xd.dtype.kind != "f":
        xd = _non_float_input(xd, float_only, node_cls)
    return _wrap(forward(xd))


def _non_float_input(xd, float_only, node_cls):
    if float_only:
        return xd.astype(get_default_dtype())
    if xd.dtype.kind == "b":
        if node_cls is ReluBackward0:
            raise RuntimeError("Boolean inputs not supported for relu")
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    return xd


def exp(input) -> Tensor:
    """Elementwise e**x."""
    return _unary(input, input._xp().exp, ExpBackward0)


def log(input) -> Tensor:
    """Natural logarithm."""
    return _unary(input, input._xp().log, LogBackward0)


def sqrt(input) -> Tensor:
    """Square root."""
    return _unary(input, input._xp().sqrt, SqrtBackward0)


def abs(input) -> Tensor:
    """Absolute value (gradient sign(x), 0 at 0)."""
    return _unary(input, input._xp().abs, AbsBackward0, float_only=False)


def sin(input) -> Tensor:
    """Sine."""
    return _unary(input, input._xp().sin, SinBackward0)


def cos(input) -> Tensor:
    """Cosine."""
    return _unary(input, input._xp().cos, CosBackward0)


def tanh(input) -> Tensor:
    """Hyperbolic tangent."""
    return _unary(input, input._xp().tanh, TanhBackward0)


def _sigmoid_array(x):
    xp = _backend.get_array_module(x)
    # exp(-|x|) never overflows; pick the stable branch per sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid(input) -> Tensor:
    """Logistic sigmoid 1 / (1 + e**-x), computed stably."""
    return _unary(input, _sigmoid_array, SigmoidBackward0)


def relu(input) -> Tensor:
    """max(x, 0)."""
    return _unary(input, maximum_zero, ReluBackward0, float_only=False)


# --------------------------------------------------------------------------------------------
# More unary math
# --------------------------------------------------------------------------------------------
class Log1PBackward0(_UnaryBackward):
    """Backward of ``log1p``: 1 / (1 + x)."""
    formula = staticmethod(lambda m, x: 1 / (1 + x))


class Expm1Backward0(_UnaryBackward):
    """Backward of ``expm1``: y + 1."""
    of_output = True
    formula = staticmethod(lambda m, y: y + 1)


class ErfBackward0(_UnaryBackward):
    """Backward of ``erf``: 2 / sqrt(pi) exp(-x**2)."""
    formula = staticmethod(lambda m, x: _TWO_OVER_SQRT_PI * m.exp(-x * x))


class ErfcBackward0(_UnaryBackward):
    """Backward of ``erfc``: -2 / sqrt(pi) exp(-x**2)."""
    formula = staticmethod(lambda m, x: -_TWO_OVER_SQRT_PI * m.exp(-x * x))


class ErfinvBackward0(_UnaryBackward):
    """Backward of ``erfinv``: sqrt(pi) / 2 exp(y**2)."""
    of_output = True
    formula = staticmethod(lambda m, y: m.exp(y * y) / _TWO_OVER_SQRT_PI)


class RsqrtBackward0(_UnaryBackward):
    """Backward of ``rsqrt``: -y**3 / 2."""
    of_output = True
    formula = staticmethod(lambda m, y: -0.5 * y * y * y)


class ReciprocalBackward0(_UnaryBackward):
    """Backward of ``reciprocal``: -y**2."""
    of_output = True
    formula = staticmethod(lambda m, y: -y * y)


class Log2Backward0(_UnaryBackward):
    """Backward of ``log2``: 1 / (x ln 2)."""
    formula = staticmethod(lambda m, x: 1 / (x * _LN2))


class Log10Backward0(_UnaryBackward):
    """Backward of ``log10``: 1 / (x ln 10)."""
    formula = staticmethod(lambda m, x: 1 / (x * _LN10))


class Exp2Backward0(_UnaryBackward):
    """Backward of ``exp2``: y ln 2."""
    of_output = True
    formula = staticmethod(lambda m, y: y * _LN2)


class TanBackward0(_UnaryBackward):
    """Backward of ``tan``: 1 + y**2."""
    of_output = True
    formula = staticmethod(lambda m, y: 1 + y * y)


class AsinBackward0(_UnaryBackward):
    """Backward of ``asin``: 1 / sqrt(1 - x**2)."""
    formula = staticmethod(lambda m, x: 1 / m.sqrt(1 - x * x))


class AcosBackward0(_UnaryBackward):
    """Backward of ``acos``: -1 / sqrt(1 - x**2)."""
    formula = staticmethod(lambda m, x: -1 / m.sqrt(1 - x * x))


class AtanBackward0(_UnaryBackward):
    """Backward of ``atan``: 1 / (1 + x**2)."""
    formula = staticmethod(lambda m, x: 1 / (1 + x * x))


class SinhBackward0(_UnaryBackward):
    """Backward of ``sinh``: cosh(x)."""
    formula = staticmethod(lambda m, x: m.cosh(x))


class CoshBackward0(_UnaryBackward):
    """Backward of ``cosh``: sinh(x)."""
    formula = staticmethod(lambda m, x: m.sinh(x))


class AsinhBackward0(_UnaryBackward):
    """Backward of ``asinh``: 1 / sqrt(x**2 + 1)."""
    formula = staticmethod(lambda m, x: 1 / m.sqrt(x * x + 1))


class AcoshBackward0(_UnaryBackward):
    """Backward of ``acosh``: 1 / sqrt(x**2 - 1)."""
    formula = staticmethod(lambda m, x: 1 / m.sqrt(x * x - 1))


class AtanhBackward0(_UnaryBackward):
    """Backward of ``atanh``: 1 / (1 - x**2)."""
    formula = staticmethod(lambda m, x: 1 / (1 - x * x))


class FracBackward0(Node):
    """Backward of ``frac``: the gradient passes unchanged."""

    of_output = False

    def backward(self, g):
        return (g,)

    graph_backward = backward


def _check_float(dtype, kernel):
    if dtype.kind != "f":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{torch_type_name(dtype)}'")


def log1p(input) -> Tensor:
    """log(1 + x), accurate for small x."""
    return _unary(input, input._xp().log1p, Log1PBackward0)


def expm1(input) -> Tensor:
    """e**x - 1, accurate for small x."""
    return _unary(input, input._xp().expm1, Expm1Backward0)


def erf(input) -> Tensor:
    """The error function."""
    return _unary(input, _erf, ErfBackward0)


def erfc(input) -> Tensor:
    """The complementary error function 1 - erf(x), accurate for large x."""
    return _unary(input, _erfc, ErfcBackward0)


def erfinv(input) -> Tensor:
    """The inverse error function on (-1, 1) (+-inf at +-1, NaN outside)."""
    return _unary(input, _erfinv, ErfinvBackward0)


def rsqrt(input) -> Tensor:
    """1 / sqrt(x)."""
    return _unary(input, lambda x: 1 / _backend.get_array_module(x).sqrt(x), RsqrtBackward0)


def reciprocal(input) -> Tensor:
    """1 / x (integers give the default float dtype)."""
    return _unary(input, input._xp().reciprocal, ReciprocalBackward0)


def square(input) -> Tensor:
    """``input ** 2`` in the input's dtype (bool gives int64), like PyTorch."""
    if input._data.dtype.kind == "b":
        input = _wrap(input._data.astype(np.int64))
    return pow(input, 2)


def log2(input) -> Tensor:
    """Base-2 logarithm."""
    return _unary(input, input._xp().log2, Log2Backward0)


def log10(input) -> Tensor:
    """Base-10 logarithm."""
    return _unary(input, input._xp().log10, Log10Backward0)


def exp2(input) -> Tensor:
    """2**x."""
    return _unary(input, input._xp().exp2, Exp2Backward0)


def tan(input) -> Tensor:
    """Tangent."""
    return _unary(input, input._xp().tan, TanBackward0)


def asin(input) -> Tensor:
    """Inverse sine (NaN outside [-1, 1])."""
    return _unary(input, input._xp().arcsin, AsinBackward0)


def acos(input) -> Tensor:
    """Inverse cosine (NaN outside [-1, 1])."""
    return _unary(input, input._xp().arccos, AcosBackward0)


def atan(input) -> Tensor:
    """Inverse tangent."""
    return _unary(input, input._xp().arctan, AtanBackward0)


def sinh(input) -> Tensor:
    """Hyperbolic sine."""
    return _unary(input, input._xp().sinh, SinhBackward0)


def cosh(input) -> Tensor:
    """Hyperbolic cosine."""
    return _unary(input, input._xp().cosh, CoshBackward0)


def asinh(input) -> Tensor:
    """Inverse hyperbolic sine."""
    return _unary(input, input._xp().arcsinh, AsinhBackward0)


def acosh(input) -> Tensor:
    """Inverse hyperbolic cosine (NaN below 1)."""
    return _unary(input, input._xp().arccosh, AcoshBackward0)


def atanh(input) -> Tensor:
    """Inverse hyperbolic tangent (+-inf at +-1, NaN outside)."""
    return _unary(input, input._xp().arctanh, AtanhBackward0)


def frac(input) -> Tensor:
    """The fractional part ``x - trunc(x)`` (float tensors only); the gradient passes unchanged."""
    _check_float(input._data.dtype, "frac_cpu")
    return _unary(input, lambda x: x - _backend.get_array_module(x).trunc(x), FracBackward0)


class LogitBackward0(Node):
    """Backward of ``logit``: 1 / (x (1 - x)); zero outside [eps, 1 - eps] when ``eps`` is
    given, NaN outside [0, 1] otherwise (PyTorch's ``logit_backward``)."""

    of_output = False
    eps = None

    def _outside(self, xd):
        lo, hi = (0, 1) if self.eps is None else (self.eps, 1 - self.eps)
        return (xd < lo) | (xd > hi)

    def _fill(self):
        return math.nan if self.eps is None else 0.0

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g / (xd * (1 - xd))
        return (_backend.get_array_module(xd).where(self._outside(xd), self._fill(), d),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g / (x * (1 - x))
        return (where(_wrap(self._outside(x._data)), self._fill(), d),)


def logit(input, eps=None) -> Tensor:
    """log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps]."""
    def forward(x):
        xp = _backend.get_array_module(x)
        if eps is not None:  # PyTorch's order (it matters when eps > 0.5)
            x = xp.where(x < eps, eps, xp.where(x > 1 - eps, 1 - eps, x)).astype(x.dtype,
                                                                                copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x / (1 - x))

    out = _unary(input, forward, LogitBackward0)
    if out.grad_fn is not None:
        out.grad_fn.eps = eps
    return out


def _zero_grad_result(input, out, node_name) -> Tensor:
    """``out`` as the result of a piecewise-constant op on ``input``: a zero gradient."""
    if _state.enabled and input._requires_grad:
        return _from_node(out, ZeroGradBackward((input,), node_name))
    return _wrap(out)


def _sign(input, node_name) -> Tensor:
    xd = input._data
    out = xd.copy() if xd.dtype.kind == "b" else input._xp().sign(xd)
    return _zero_grad_result(input, out, node_name)


def sign(input) -> Tensor:
    """Sign of each element (-1, 0 or 1; bools unchanged); the gradient is zero."""
    return _sign(input, "SignBackward0")


def sgn(input) -> Tensor:
    """``sign`` (for real tensors ``torch.sgn`` is ``torch.sign``)."""
    return _sign(input, "SgnBackward0")


def _special(name):
    """``scipy.special.<name>`` (``cupyx.scipy.special`` on a GPU) as a function of an array that
    keeps its dtype; without SciPy, a NumPy fallback."""
    def special(x):
        if _backend.get_array_module(x) is not np:
            return getattr(_backend.cupyx_module().scipy.special, name)(x)
        try:
            from scipy import special as scipy_special
        except ImportError:  # pragma: no cover - scipy is optional (tested with it hidden)
            return _NUMPY_SPECIAL[name](x)
        return getattr(scipy_special, name)(x).astype(x.dtype, copy=False)
    special.__name__ = name
    return special


def _erfinv_numpy(y):
    """erfinv without SciPy: Winitzki's approximation refined by Newton steps on erfc (accurate
    in the tails), in float64."""
    a = np.abs(y.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_1ma2 = np.log1p(-a * a)
        t = 2 / (math.pi * 0.147) + log_1ma2 / 2
        x = np.sqrt(np.sqrt(t * t - log_1ma2 / 0.147) - t)
        erfc = np.vectorize(math.erfc, otypes=[np.float64])
        for _ in range(3):
            x = x + (erfc(x) - (1 - a)) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    x = np.where(a == 1, np.inf, x)
    return (np.sign(y) * x).astype(y.dtype, copy=False)


_NUMPY_SPECIAL = {
    "erf": lambda x: np.vectorize(math.erf, otypes=[x.dtype])(x),
    "erfc": lambda x: np.vectorize(math.erfc, otypes=[x.dtype])(x),
    "erfinv": _erfinv_numpy,
}
_erf = _special("erf")
_erfc = _special("erfc")
_erfinv = _special("erfinv")


# --------------------------------------------------------------------------------------------
# The gamma family: lgamma, digamma and polygamma(n) (private: the derivatives), vectorised in
# float64 on NumPy or CuPy arrays. digamma and polygamma follow PyTorch's algorithms step by
# step (Cephes' psi and zeta; a short asymptotic series for trigamma), so that gradients agree
# with PyTorch's to rounding, including its truncation errors.
# --------------------------------------------------------------------------------------------
def _polevl(z, coefficients):
    """The polynomial with ``coefficients`` (highest power first) at ``z`` (Cephes' polevl)."""
    result = 0.0
    for c in coefficients:
        result = result * z + c
    return result


# B_2k / (2k (2k - 1)), k = 9 .. 1: Stirling's series for lgamma in powers of 1 / x**2; from
# x = 8 on, the first term left out is below 1e-16
_STIRLING = (43867 / 244188, -3617 / 122400, 1 / 156, -691 / 360360, 1 / 1188, -1 / 1680,
             1 / 1260, -1 / 360, 1 / 12)
_STIRLING_FROM = 8


def _lgamma_nonnegative(x):
    """log Gamma(x) for finite x >= 0 (inf at 0): below ``_STIRLING_FROM``, shifted up by as
    much with Gamma(x + n) = x (x + 1) ... (x + n - 1) Gamma(x); then Stirling's series."""
    xp = _backend.get_array_module(x)
    small = x < _STIRLING_FROM
    product = x.copy()  # (overflows where x is large: not used there)
    for j in range(1, _STIRLING_FROM):
        product *= x + j
    z = xp.where(small, x + _STIRLING_FROM, x)
    series = _polevl(1 / (z * z), _STIRLING) / z
    out = (z - 0.5) * xp.log(z) - z + 0.5 * math.log(2 * math.pi) + series
    return out - xp.where(small, xp.log(product), 0.0)


def _lgamma(x):
    """log |Gamma(x)| (float64): +inf at the poles and at +-inf, exactly 0 at 1 and 2; by the
    reflection formula below 0."""
    xp = _backend.get_array_module(x)
    negative = x < 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = xp.where(negative, 1 - x, x)
        out = _lgamma_nonnegative(xp.where(xp.isinf(y), 1.0, y))  # (+-inf: set below)
        # Gamma(x) Gamma(1 - x) = pi / sin(pi x); x - round(x) keeps sin's argument exact
        sine = xp.abs(xp.sin(math.pi * (x - xp.round(x))))
        out = xp.where(negative, math.log(math.pi) - xp.log(sine) - out, out)
    out = xp.where(xp.isinf(x), math.inf, out)
    return xp.where((x == 1) | (x == 2), 0.0, out)


_PSI_10 = 2.25175258906672110764  # digamma(10)
_PSI_SERIES = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
               -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
               8.33333333333333333333E-2)


def _digamma(x):
    """PyTorch's ``calc_digamma`` (float64): -+inf at +-0, NaN at the negative integers,
    reflection below 0, the recurrence up to 10, then an asymptotic series."""
    xp = _backend.get_array_module(x)
    negative = x < 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = xp.where(negative, 1 - x, x)
        result = xp.zeros_like(y)
        low = y < 10
        while low.any():
            result -= xp.where(low, 1 / y, 0.0)
            y += low
            low = y < 10
        z = 1 / (y * y)
        tail = xp.where(y < 1e17, z * _polevl(z, _PSI_SERIES), 0.0)
        out = xp.where(y == 10, result + _PSI_10, result + xp.log(y) - 0.5 / y - tail)
        reflected = out - math.pi / xp.tan(math.pi * xp.modf(x)[0])
    out = xp.where(negative, xp.where(x == xp.trunc(x), math.nan, reflected), out)
    return xp.where(x == 0, xp.copysign(math.inf, -x), out)


def _trigamma(x):
    """PyTorch's ``trigamma`` (float64): reflection below 1/2, six recurrence steps, then a
    short asymptotic series (accurate to about 1e-8)."""
    xp = _backend.get_array_module(x)
    reflect = x < 0.5
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sine = xp.sin(math.pi * x)
        result = xp.where(reflect, -(math.pi * math.pi) / (sine * sine), 0.0)
        y = xp.where(reflect, 1 - x, x)
        for _ in range(6):
            result += 1 / (y * y)
            y += 1
        ixx = 1 / (y * y)
        result += (1 + 1 / (2 * y) + ixx * (1 / 6 - ixx * (1 / 30 - ixx * (1 / 42)))) / y
    return xp.where(reflect, -result, result)


_MACHEP = 1.11022302462515654042E-16
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)


def _hurwitz_zeta(s, q):
    """Hurwitz's zeta(s, q) = sum over k >= 0 of (q + k)**-s for an integer ``s`` >= 2 (float64),
    as PyTorch's ``zeta`` (Cephes): terms summed until negligible or q + k > 9, then the
    Euler-Maclaurin tail; +inf at the poles q = 0, -1, -2 ..."""
    xp = _backend.get_array_module(q)
    poles = (q <= 0) & (q == xp.floor(q))
    done = poles.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = q ** -s
        a, b = q, xp.zeros_like(q)
        steps = 0
        going = ~done & ((steps < 9) | (a <= 9))
        while going.any():
            steps += 1
            a = xp.where(going, a + 1, a)
            b = xp.where(going, a ** -s, b)
            total = xp.where(going, total + b, total)
            done |= going & (-_MACHEP * total < b) & (b < _MACHEP * total)
            going = ~done & ((steps < 9) | (a <= 9))
        w = a
        total = xp.where(done, total, total + b * w / (s - 1) - 0.5 * b)
        factor, k = 1.0, 0.0
        for c in _ZETA_A:
            factor *= s + k
            b = b / w
            t = factor * b / c
            total = xp.where(done, total, total + t)
            done |= xp.abs(t / total) < _MACHEP
            k += 1
            factor *= s + k
            b = b / w
            k += 1
    return xp.where(poles, math.inf, total)


def _polygamma(n, x):
    """The ``n``-th derivative of digamma at the float array ``x``, in its dtype (computed in
    float64); ``n = -1`` is lgamma."""
    x64 = x.astype(np.float64)
    if n == -1:
        out = _lgamma(x64)
    elif n == 0:
        out = _digamma(x64)
    elif n == 1:
        out = _trigamma(x64)
    else:  # (-1)**(n + 1) n! zeta(n + 1, x)
        out = (1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0)) * _hurwitz_zeta(n + 1, x64)
    return out.astype(x.dtype, copy=False)


class LgammaBackward0(Node):
    """Backward of ``lgamma``: digamma(x). The nodes of the family differ by ``order``, the
    polygamma order of the function they differentiate (lgamma's is -1)."""

    of_output = False
    order = -1

    def backward(self, g):
        (x,) = self.saved_tensors
        return (g * _polygamma(self.order + 1, x._data),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        return (g * _polygamma_op(self.order + 1, x),)


class DigammaBackward0(LgammaBackward0):
    """Backward of ``digamma``: polygamma(1, x)."""

    order = 0


class PolygammaBackward0(LgammaBackward0):
    """Backward of polygamma(n, x): polygamma(n + 1, x) (``order`` set per node)."""


_GAMMA_NODES = {-1: LgammaBackward0, 0: DigammaBackward0}


def _polygamma_op(n, input) -> Tensor:
    """polygamma(``n``, input) as a tensor op differentiable to any order (n = -1: lgamma)."""
    out = _unary(input, lambda x: _polygamma(n, x), _GAMMA_NODES.get(n, PolygammaBackward0))
    if out.grad_fn is not None:
        out.grad_fn.order = n
    return out


def lgamma(input) -> Tensor:
    """log |Gamma(x)| (+inf at 0, the negative integers and +-inf)."""
    return _polygamma_op(-1, input)


def digamma(input) -> Tensor:
    """The logarithmic derivative of Gamma (-inf at +0, +inf at -0, NaN at negative integers);
    its gradient is polygamma(1, x)."""
    return _polygamma_op(0, input)


class GeluBackward0(Node):
    """Backward of ``gelu``."""

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

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = tanh(k * (x + 0.044715 * x ** 3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
            return (g * d,)
        return (g * _gelu_derivative(x),)


class GeluDerivativeBackward(Node):
    """Backward of gelu'(x) = Phi(x) + x phi(x) (exact gelu): gelu''(x) = phi(x) (2 - x**2)."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        xp = _backend.get_array_module(xd)
        pdf = xp.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
        return (g * (pdf * (2 - xd * xd)).astype(xd.dtype, copy=False),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        pdf = exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return (g * pdf * (2 - x * x),)


def _gelu_derivative(x: Tensor) -> Tensor:
    """gelu'(x) for the exact gelu as a differentiable tensor (used by double backward)."""
    xd = x._data
    xp = x._xp()
    d = (0.5 * (1 + _erf(xd / math.sqrt(2))) +
         xd * xp.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)).astype(xd.dtype, copy=False)
    if _state.enabled and x._requires_grad:
        node = GeluDerivativeBackward((x,))
        node.save(x)
        return _from_node(d, node)
    return _wrap(d)


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


_BOUNDS = (int, float, type(None))


class ClampBackward1(Node):
    """Backward of ``clamp`` with number bounds: the gradient passes where min <= x <= max."""

    def backward(self, g):
        return (g * self.mask,)

    def graph_backward(self, g):
        return (g * _wrap(self.mask),)


class ClampBackward0(Node):
    """Backward of ``clamp`` with tensor bounds (PyTorch's ``clamp_backward_min_max``): x gets
    the gradient where min <= x <= max, min where x < min (and min < max), max where x > max
    (or max < min)."""

    def backward(self, g):
        return tuple([None if e is None or m is None else unbroadcast(g * m, s)
                      for e, m, s in zip(self.next_functions, self.masks, self.shapes)])

    def graph_backward(self, g):
        return tuple([None if e is None or m is None else sum_to(g * _wrap(m), s)
                      for e, m, s in zip(self.next_functions, self.masks, self.shapes)])


class ClampMinBackward0(ClampBackward1):
    """Backward of ``clamp_min`` with a number bound."""


class ClampMinBackward1(ClampBackward0):
    """Backward of ``clamp_min`` with a tensor bound."""


class ClampMaxBackward0(ClampBackward1):
    """Backward of ``clamp_max`` with a number bound."""


class ClampMaxBackward1(ClampBackward0):
    """Backward of ``clamp_max`` with a tensor bound."""


def clamp(input, min=None, max=None) -> Tensor:
    """Limit values to [min, max] (numbers or tensors); gradient 1 inside, 0 outside."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return _clamp(input, min, max, ClampBackward1, ClampBackward0)


def _one_bound(name, input, bound, lower):
    """``clamp_min`` (``lower``) or ``clamp_max``: ``clamp`` with one bound, a number or a
    tensor, recorded with that op's nodes."""
    if bound is None:
        arg = name[-3:]
        raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                        f"NoneType), but expected one of:\n * (Tensor input, Tensor {arg}, *, "
                        f"Tensor out = None)\n * (Tensor input, Number {arg}, *, Tensor out = "
                        "None)\n")
    if lower:
        return _clamp(input, bound, None, ClampMinBackward0, ClampMinBackward1)
    return _clamp(input, None, bound, ClampMaxBackward0, ClampMaxBackward1)


def clamp_min(input, min) -> Tensor:
    """``max(input, min)`` for a number or tensor ``min`` (``clamp(input, min=min)``)."""
    return _one_bound("clamp_min", input, min, True)


def clamp_max(input, max) -> Tensor:
    """``min(input, max)`` for a number or tensor ``max`` (``clamp(input, max=max)``)."""
    return _one_bound("clamp_max", input, max, False)


def _clamp(input, min, max, scalar_node, tensor_node) -> Tensor:
    """``clamp`` recording ``scalar_node`` for number bounds, ``tensor_node`` for tensor ones."""
    xd = input._data
    if type(min) in _BOUNDS and type(max) in _BOUNDS and xd.dtype.kind == "f":
        # the common case: number bounds on a float tensor
        out = xd if min is None else np.maximum(xd, min)
        if max is not None:
            out = np.minimum(out, max)
        if _state.enabled and input._requires_grad:
            if min is None:
                mask = xd <= max
            else:
                mask = xd >= min
                if max is not None:
                    mask &= xd <= max
            node = scalar_node((input,))
            node.mask = mask
            return _from_node(out, node)
        return _wrap(out)
    xp = input._xp()
    min, max = scalar_value(min), scalar_value(max)
    min_t = isinstance(min, Tensor)
    max_t = isinstance(max, Tensor)
    lo = min._data if min_t else min
    hi = max._data if max_t else max
    dt = xd.dtype
    if min_t or max_t:
        dt = result_type(xd, *[t for t in (lo, hi)
                               if t is not None and not isinstance(t, (int, float))])
    if dt.kind != "f" and (type(lo) is float or type(hi) is float):
        dt = get_default_dtype()
    out = xd
    try:
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
    except TypeError:
        check_devices(input, min, max)
        raise
    except ValueError:
        check_devices(input, min, max)
        bound = lo if lo is not None and np.shape(lo) != xd.shape else hi
        raise broadcast_error(xd.shape, np.shape(bound)) from None
    out = out.astype(dt, copy=False)
    rg = (input._requires_grad or (min_t and min._requires_grad) or
          (max_t and max._requires_grad))
    if not (_state.enabled and rg):
        return _wrap(out)
    if not (min_t or max_t):
        mask = None
        if lo is not None:
            mask = xd >= lo
        if hi is not None:
            mask = (xd <= hi) if mask is None else (mask & (xd <= hi))
        node = scalar_node((input,))
        node.mask = mask
        return _from_node(out, node)
    inputs = (input, min if min_t else NO_INPUT, max if max_t else NO_INPUT)
    node = tensor_node(inputs)
    if lo is not None and hi is not None:
        m_x = (xd >= lo) & (xd <= hi)
        m_lo = (xd < lo) & (lo < hi) if min_t else None
        m_hi = ((xd > hi) | (hi < lo)) if max_t else None
    elif lo is not None:
        m_x, m_lo, m_hi = xd >= lo, xd < lo, None
    else:
        m_x, m_lo, m_hi = xd <= hi, None, xd > hi
    node.masks = (m_x, m_lo, m_hi)
    cast_grads_to_inputs(node, inputs)
    node.shapes = (xd.shape, np.shape(lo) if min_t else (), np.shape(hi) if max_t else ())
    return _from_node(out, node)


class NanToNumBackward0(ClampBackward1):
    """Backward of ``nan_to_num``: the gradient passes where x is finite, zero elsewhere."""


def nan_to_num(input, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """``input`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by
    default the dtype's largest and lowest finite values); other dtypes are copied."""
    xd = input._data
    if xd.dtype.kind != "f":
        return _wrap(xd.copy())
    xp = input._xp()
    info = np.finfo(xd.dtype)
    values = [scalar_value(v.item() if isinstance(v, Tensor) else v)
              for v in (0.0 if nan is None else nan, info.max if posinf is None else posinf,
                        info.min if neginf is None else neginf)]
    with np.errstate(over="ignore"):  # a replacement beyond the dtype's range becomes inf
        nan, posinf, neginf = [xd.dtype.type(v) for v in values]
    out = xp.where(xp.isnan(xd), nan,
                   xp.where(xd == math.inf, posinf, xp.where(xd == -math.inf, neginf, xd)))
    if _state.enabled and input._requires_grad:
        node = NanToNumBackward0((input,))
        node.mask = xp.isfinite(xd)
        return _from_node(out, node)
    return _wrap(out)


class MaximumBackward0(Node):
    """Backward of ``maximum``: the larger input gets the gradient; ties split it equally."""

    def _weights(self, ad, bd, dtype):
        wins = (ad < bd) if self.minimum else (ad > bd)
        return wins.astype(dtype) + (ad == bd) * dtype.type(0.5)

    minimum = False

    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        na, nb = self.next_functions
        wa = self._weights(ad, bd, g.dtype)
        return (unbroadcast(g * wa, ad.shape) if na else None,
                unbroadcast(g * (1 - wa), bd.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        wa = self._weights(a._data, b._data, g.dtype)
        return sum_to(g * _wrap(wa), a.shape), sum_to(g * _wrap(1 - wa), b.shape)


def _extremum(input, other, choose, node_cls):
    if not isinstance(input, Tensor):
        input = _tensor_arg(input, other)
    if not isinstance(other, Tensor):
        other = _tensor_arg(other, input)
    input, other = _same_device(input, other)
    out = _binary(choose, input, other)
    if input._data.dtype is not other._data.dtype:
        out = fix_dtype(out, input._data, other._data)
    if _state.enabled and (input._requires_grad or other._requires_grad):
        node = node_cls((input, other))
        node.save(input, other)
        if input._data.dtype is not other._data.dtype:
            cast_grads_to_inputs(node, (input, other))
        return _from_node(out, node)
    return _wrap(out)


class MinimumBackward0(MaximumBackward0):
    """Backward of ``minimum``."""

    minimum = True


def maximum(input, other) -> Tensor:
    """Elementwise maximum (ties split the gradient equally)."""
    return _extremum(input, other, np.maximum, MaximumBackward0)


def minimum(input, other) -> Tensor:
    """Elementwise minimum (ties split the gradient equally)."""
    return _extremum(input, other, np.minimum, MinimumBackward0)


class FmaxBackward0(MaximumBackward0):
    """Backward of ``fmax``: ``input`` gets the gradient where it is chosen (ties included, and
    where ``other`` is NaN), ``other`` elsewhere, as in PyTorch."""

    def _weights(self, ad, bd, dtype):
        wins = (ad <= bd) if self.minimum else (ad >= bd)
        return (wins | _backend.get_array_module(bd).isnan(bd)).astype(dtype)


class FminBackward0(FmaxBackward0):
    """Backward of ``fmin``."""

    minimum = True


def _check_tensor_other(name, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def fmax(input, other) -> Tensor:
    """Elementwise maximum ignoring NaN (NaN only where both are NaN)."""
    _check_tensor_other("fmax", other)
    return _extremum(input, other, np.fmax, FmaxBackward0)


def fmin(input, other) -> Tensor:
    """Elementwise minimum ignoring NaN (NaN only where both are NaN)."""
    _check_tensor_other("fmin", other)
    return _extremum(input, other, np.fmin, FminBackward0)


def _broadcast_error3(a_shape, b_shape, c_shape, c_first=False) -> RuntimeError:
    """PyTorch's error for three shapes that do not broadcast: a with b, then c with their
    broadcast shape (c named first with ``c_first``)."""
    try:
        ab = np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        return broadcast_error(a_shape, b_shape)
    return broadcast_error(c_shape, ab) if c_first else broadcast_error(ab, c_shape)


class WhereBackward0(Node):
    """Backward of ``where``."""

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


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (numbers or tensors, broadcast);
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``."""
    if input is None or other is None:
        if input is None and other is None:
            from .sorting import nonzero
            return nonzero(condition, as_tuple=True)
        got = ", ".join(["Tensor" if isinstance(a, Tensor) else type(a).__name__
                         for a in (condition, input, other) if a is not None])
        raise TypeError(f"where() received an invalid combination of arguments - got ({got}), "
                        "but expected one of:\n * (Tensor condition)\n * (Tensor condition, "
                        "Tensor input, Tensor other)")
    if isinstance(condition, Tensor):
        cond = condition._data
        if cond.dtype.kind != "b":
            raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                               f"with dtype {torch_type_name(cond.dtype)}")
    elif getattr(condition, "dtype", None) == np.bool_:
        cond = condition
    else:
        cond = np.asarray(condition, dtype=bool)
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:  # two numbers: PyTorch's scalar dtypes (float32 for floats)
        like = _wrap(np.asarray(scalar_value(input)))
        if like._data.dtype.kind == "f" or isinstance(scalar_value(other), float):
            like = _wrap(like._data.astype(get_default_dtype()))
        elif like._data.dtype.kind in "iu":
            like = _wrap(like._data.astype(np.int64))
        if type(cond) is not np.ndarray:
            like = _wrap(_backend.to_device(like._data, _backend.device_of(cond)))
    a, b = _same_device(_tensor_arg(input, like), _tensor_arg(other, like))
    if type(cond) is np.ndarray and cond.ndim == 0 and type(a._data) is not np.ndarray:
        cond = _backend.to_device(cond, _backend.device_of(a._data))  # a CPU scalar condition
    try:
        out = a._xp().where(cond, a._data, b._data)
    except TypeError:
        check_devices(condition, a, b)
        raise
    except ValueError:
        check_devices(condition, a, b)
        raise _broadcast_error3(a.shape, b.shape, np.shape(cond), c_first=True) from None
    if a._data.dtype is not b._data.dtype:
        out = _fix_dtype(out, a._data, b._data)
    if _state.enabled and (a._requires_grad or b._requires_grad):
        node = WhereBackward0((a, b))
        node.condition = cond
        node.shapes = (a.shape, b.shape)
        if a._data.dtype is not b._data.dtype:
            cast_grads_to_inputs(node, (a, b))
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# Binary math: atan2, hypot, lerp
# --------------------------------------------------------------------------------------------
class _FloatBinaryBackward(Node):
    """Base of the nodes of float binary ops: ``partials(m, a, b)`` are the derivatives w.r.t.
    both inputs, on arrays (``m`` the array module) or on tensors (``m`` this module)."""

    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data.astype(g.dtype, copy=False), b._data.astype(g.dtype, copy=False)
        da, db = self.partials(_backend.get_array_module(g), ad, bd)
        na, nb = self.next_functions
        return (unbroadcast(g * da, ad.shape) if na else None,
                unbroadcast(g * db, bd.shape) if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        da, db = self.partials(_ops, a, b)
        return sum_to(g * da, a.shape), sum_to(g * db, b.shape)


class Atan2Backward0(_FloatBinaryBackward):
    """Backward of ``atan2(a, b)``: (b, -a) / (a**2 + b**2), zero at the origin like PyTorch."""

    @staticmethod
    def partials(m, a, b):
        """The derivatives ``(b, -a) / (a**2 + b**2)`` w.r.t. ``a`` and ``b`` (0 at the origin)."""
        with np.errstate(divide="ignore"):
            r = 1 / (a * a + b * b)
        r = m.where(r == math.inf, 0.0, r)
        return b * r, -a * r


class HypotBackward0(_FloatBinaryBackward):
    """Backward of ``hypot(a, b)``: (a, b) / hypot(a, b)."""

    @staticmethod
    def partials(m, a, b):
        """The derivatives ``(a, b) / hypot(a, b)`` w.r.t. ``a`` and ``b``."""
        y = m.hypot(a, b)
        with np.errstate(invalid="ignore"):  # NaN at the origin, like PyTorch
            return a / y, b / y


def _float_binary(name, input, other, forward, node_cls, ints=True) -> Tensor:
    """``forward`` on two tensors in their promoted dtype, recording ``node_cls``; integer and
    bool operands compute in the default float dtype (``ints``) or raise like PyTorch's
    float-only kernels."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    dt = result_type(input._data, other._data)
    if dt.kind != "f":
        if not ints:
            _check_float(dt, f"{name}_cpu")
        dt = get_default_dtype()
    out = _binary(lambda a, b: forward(a.astype(dt, copy=False), b.astype(dt, copy=False)),
                  input, other)
    if _state.enabled and (input._requires_grad or other._requires_grad):
        node = cast_grads_to_inputs(node_cls((input, other)), (input, other))
        node.save(input, other)
        return _from_node(out, node)
    return _wrap(out)


def atan2(input, other) -> Tensor:
    """The angle of the point (other, input): ``atan(input / other)`` in the right quadrant."""
    return _float_binary("atan2", input, other, input._xp().arctan2, Atan2Backward0)


def hypot(input, other) -> Tensor:
    """sqrt(input**2 + other**2) without overflow (float tensors only)."""
    return _float_binary("hypot", input, other, input._xp().hypot, HypotBackward0, ints=False)


class LogaddexpBackward0(_FloatBinaryBackward):
    """Backward of ``logaddexp(a, b)``: 1 / (1 + exp(b - a)) and 1 / (1 + exp(a - b))."""

    @staticmethod
    def partials(m, a, b):
        """The derivatives w.r.t. ``a`` and ``b`` (PyTorch's formulas: NaN where both are the
        same infinity)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return 1 / (1 + m.exp(b - a)), 1 / (1 + m.exp(a - b))


class Logaddexp2Backward0(_FloatBinaryBackward):
    """Backward of ``logaddexp2(a, b)``: 1 / (1 + 2**(b - a)) and 1 / (1 + 2**(a - b))."""

    @staticmethod
    def partials(m, a, b):
        """The derivatives w.r.t. ``a`` and ``b``."""
        with np.errstate(invalid="ignore", over="ignore"):
            return 1 / (1 + m.exp2(b - a)), 1 / (1 + m.exp2(a - b))


def _quiet(fn):
    """``fn`` on arrays without NumPy's floating-point warnings (infinities give NaN quietly)."""
    def quiet(a, b):
        with np.errstate(invalid="ignore", over="ignore"):
            return fn(a, b)
    return quiet


def logaddexp(input, other) -> Tensor:
    """log(exp(input) + exp(other)), computed stably (float tensors only)."""
    return _float_binary("logaddexp", input, other, _quiet(input._xp().logaddexp),
                         LogaddexpBackward0, ints=False)


def logaddexp2(input, other) -> Tensor:
    """log2(2**input + 2**other), computed stably (float tensors only)."""
    return _float_binary("logaddexp2", input, other, _quiet(input._xp().logaddexp2),
                         Logaddexp2Backward0, ints=False)


class CopysignBackward0(Node):
    """Backward of ``copysign(a, b)``: ``sign(a) * signbit-sign(b)`` for ``a`` (0 where ``a`` is
    0, as in PyTorch); zero for ``b``."""

    def _weight(self, dtype):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        xp = _backend.get_array_module(ad)
        return xp.where(ad == 0, 0, xp.sign(ad) * xp.copysign(1, bd)).astype(dtype, copy=False)

    def backward(self, g):
        a, b = self.saved_tensors
        return unbroadcast(g * self._weight(g.dtype), a.shape), unbroadcast(g * 0, b.shape)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return sum_to(g * _wrap(self._weight(g._data.dtype)), a.shape), sum_to(g * 0, b.shape)


def copysign(input, other) -> Tensor:
    """The magnitude of ``input`` with the sign of ``other`` (a tensor or a number; -0.0 counts as
    negative); integer input gives the default float dtype."""
    if not isinstance(other, Tensor):
        other = _wrap(input._xp().asarray(scalar_value(other), dtype=get_default_dtype()
                                          if input._data.dtype.kind != "f" else input._data.dtype))
    return _float_binary("copysign", input, other, input._xp().copysign, CopysignBackward0)


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN); either may be a
    number. Integer input computes in the default float dtype."""
    if not isinstance(input, Tensor):
        input = _tensor_arg(input, other)
    if not isinstance(other, Tensor):
        other = _tensor_arg(other, input)
    dt = result_type(input._data, other._data)
    if dt.kind != "f":
        input = input.to(get_default_dtype())
    with np.errstate(divide="ignore", invalid="ignore"):
        log_other = where((input == 0) & (other <= 0), 0.0, log(other))
    return input * log_other


class LerpBackward0(Node):
    """Backward of ``lerp`` with a number weight w: 1 - w for ``input``, w for ``end``."""

    def backward(self, g):
        return self._grads(g, self.weight, unbroadcast)

    def graph_backward(self, g):
        return self._grads(g, self.weight, sum_to)

    def _grads(self, g, w, reduce, diff=None):
        terms = (lambda: g * (1 - w), lambda: g * w, lambda: g * diff)
        return tuple([None if e is None else reduce(term(), s)
                      for e, term, s in zip(self.next_functions, terms, self.shapes)])


class LerpBackward1(LerpBackward0):
    """Backward of ``lerp`` with a tensor weight, which gets ``end - input``."""

    def backward(self, g):
        a, e, w = self.saved_tensors
        wd = w._data if w._data.dtype.kind == "f" else w._data.astype(g.dtype)  # 0-d int
        return self._grads(g, wd, unbroadcast, e._data - a._data)

    def graph_backward(self, g):
        a, e, w = self.saved_tensors
        return self._grads(g, w, sum_to, e - a)


# c10's TypeMeta names, which PyTorch's lerp uses in its dtype errors
_TYPE_META_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double",
                    "int64": "long int", "int32": "int", "int16": "short int",
                    "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _check_lerp_dtype(x, arg, name):
    if arg.dtype != x.dtype:
        raise RuntimeError(f"expected dtype {_TYPE_META_NAMES[x.dtype.name]} for `{name}` but "
                           f"got dtype {_TYPE_META_NAMES[arg.dtype.name]}")


def lerp(input, end, weight) -> Tensor:
    """``input + weight * (end - input)`` for a number or tensor ``weight`` (computed from
    ``end`` where weight >= 0.5, as PyTorch does); ``end`` and a weight with dimensions must
    have ``input``'s dtype."""
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' (position 2) must be Tensor, not "
                        f"{type(end).__name__}")
    xd, ed = input._data, end._data
    _check_lerp_dtype(xd, ed, "end")
    w_t = isinstance(weight, Tensor)
    if w_t:
        w = weight._data
        if w.ndim:
            _check_lerp_dtype(xd, w, "weight")
        else:  # a 0-d weight of any dtype acts as a number
            w = w.astype(xd.dtype, copy=False)
    else:
        w = scalar_value(weight)
    _check_float(xd.dtype, "lerp_kernel_tensor" if w_t else "lerp_kernel_scalar")
    xp = input._xp()
    try:
        diff = ed - xd
        if w_t:
            out = xp.where(w < 0.5, xd + w * diff, ed - diff * (1 - w))
        else:
            out = xd + w * diff if w < 0.5 else ed - diff * (1 - w)
    except TypeError:
        check_devices(input, end, weight)
        raise
    except ValueError:
        check_devices(input, end, weight)
        raise _broadcast_error3(xd.shape, ed.shape, np.shape(w)) from None
    rg = input._requires_grad or end._requires_grad or (w_t and weight._requires_grad)
    if not (_state.enabled and rg):
        return _wrap(out)
    if w_t:
        node = cast_grads_to_inputs(LerpBackward1((input, end, weight)), (input, end, weight))
        node.save(input, end, weight)
    else:
        node = LerpBackward0((input, end))
        node.weight = w
    node.shapes = (xd.shape, ed.shape, np.shape(w))
    return _from_node(out, node)


def softmax(input, dim, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably (the op of ``nn.functional.softmax``)."""
    from .nn import activation  # (ops.nn imports this module)
    return activation.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, dtype=None) -> Tensor:
    """``x - logsumexp(x, dim)``, computed stably (the op of ``nn.functional.log_softmax``)."""
    from .nn import activation
    return activation.log_softmax(input, dim, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Comparisons and logic (results are bool tensors without history)
# --------------------------------------------------------------------------------------------
def _compare(op):
    def compare(input, other):
        input, other = _same_device(input, other)
        b = other._data if isinstance(other, Tensor) else other
        try:
            return _wrap(op(input._data, b))
        except TypeError:
            check_devices(input, other)
            raise
        except ValueError:
            check_devices(input, other)
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
    node_name = fn_name.capitalize() + "Backward0"

    def rounding(input) -> Tensor:
        return _zero_grad_result(input, getattr(input._xp(), fn_name)(input._data), node_name)
    rounding.__name__ = fn_name
    rounding.__doc__ = f"Elementwise {fn_name} (gradient zero, like PyTorch)."
    return rounding


floor = _rounding("floor")
ceil = _rounding("ceil")
trunc = _rounding("trunc")
_round0 = _rounding("round")


def round(input, *, decimals=0) -> Tensor:
    """Round half to even, to ``decimals`` decimal places (gradient zero, like PyTorch)."""
    if not decimals:
        return _round0(input)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"round_cpu\" not implemented for '{torch_type_name(input._data.dtype)}'")
    return _zero_grad_result(input, input._xp().round(input._data, decimals), "RoundBackward1")


def isnan(input) -> Tensor:
    """Elementwise test for NaN, as a bool tensor."""
    return _wrap(input._xp().isnan(input._data))


def isinf(input) -> Tensor:
    """Elementwise test for +-inf, as a bool tensor."""
    return _wrap(input._xp().isinf(input._data))


def isfinite(input) -> Tensor:
    """Elementwise test for finite values, as a bool tensor."""
    return _wrap(input._xp().isfinite(input._data))


def signbit(input) -> Tensor:
    """Whether each element's sign bit is set (negative numbers, -0.0 and -NaN), as a bool
    tensor."""
    xd = input._data
    xp = input._xp()
    return _wrap(xp.signbit(xd) if xd.dtype.kind == "f" else xp.asarray(xd < 0))


def equal(input, other) -> bool:
    """True if both tensors have the same shape and values."""
    check_devices(input, other)
    return input.shape == other.shape and bool((input._data == other._data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """``numpy.allclose`` on two tensors."""
    check_devices(input, other)
    return bool(input._xp().allclose(input._data, other._data, rtol=rtol, atol=atol,
                                      equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """Elementwise ``numpy.isclose``, as a bool tensor."""
    b = other._data if isinstance(other, Tensor) else other
    check_devices(input, other)
    return _wrap(input._xp().isclose(input._data, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
