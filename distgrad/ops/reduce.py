"""Reductions: sum, mean, var, std, max/min (with indices), amax/amin, argmax/argmin, logsumexp,
prod, norm."""
from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import as_dtype, get_default_dtype, int64
from ..tensor import Tensor, _from_node
from ._util import _state, normalize_dims, torch_type_name
from .shape import to

_wrap = Tensor._wrap

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``shape`` (re-inserting reduced axes if needed)."""
    xp = _backend.get_array_module(g)
    if axes is not None and not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _expand_back_tensor(g, shape, axes, keepdim):
    if axes is not None and not keepdim:
        for a in axes:
            g = g.unsqueeze(a)
    return g.expand(shape)


class SumBackward0(Node):
    """Backward of ``sum``."""

    def backward(self, g):
        return (_expand_back(g, self.shape, self.axes, self.keepdim),)

    def graph_backward(self, g):
        return (_expand_back_tensor(g, self.shape, self.axes, self.keepdim),)


class SumBackward1(SumBackward0):
    """Backward of ``sum`` over ``dim``."""


class MeanBackward0(Node):
    """Backward of ``mean``."""

    def backward(self, g):
        return (_expand_back(g / self.count, self.shape, self.axes, self.keepdim),)

    def graph_backward(self, g):
        return (_expand_back_tensor(g / self.count, self.shape, self.axes, self.keepdim),)


class MeanBackward1(MeanBackward0):
    """Backward of ``mean`` over ``dim``."""


def _reduce_args(input, dim, keepdim):
    axes = normalize_dims(dim, input._data.ndim)
    if axes is not None and input._data.ndim == 0:
        axes = None
    return axes


def _cast_input(input, dtype):
    """``input`` converted to ``dtype`` by a differentiable ``to`` when it requires grad (so its
    gradient comes back in its own dtype, as in PyTorch); other inputs are reduced as they are."""
    if input._requires_grad and as_dtype(dtype) != input._data.dtype:
        return to(input, dtype=dtype)
    return input


def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Sum over all elements or over ``dim`` (int or tuple)."""
    axes = _reduce_args(input, dim, keepdim)
    if dtype is not None:
        input = _cast_input(input, dtype)
    data = input._data
    if dtype is None and data.dtype.kind in "biu":
        dtype = int64
    out = data.sum(axis=axes, keepdims=keepdim, dtype=dtype)
    if _state.enabled and input._requires_grad:
        node = (SumBackward0 if dim is None else SumBackward1)((input,))
        node.shape, node.axes, node.keepdim = data.shape, axes, keepdim
        return _from_node(out, node)
    return _wrap(out)


def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean over all elements or over ``dim``."""
    data = input._data
    if data.dtype.kind != "f" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {torch_type_name(data.dtype)}")
    axes = _reduce_args(input, dim, keepdim)
    if dtype is not None:
        input = _cast_input(input, dtype)
        data = input._data
    out = data.mean(axis=axes, keepdims=keepdim, dtype=dtype)
    if _state.enabled and input._requires_grad:
        node = (MeanBackward0 if dim is None else MeanBackward1)((input,))
        node.shape, node.axes, node.keepdim = data.shape, axes, keepdim
        node.count = data.size // builtins.max(out.size, 1) if data.size else 1
        return _from_node(out, node)
    return _wrap(out)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Variance (Bessel-corrected by default, like PyTorch); ``var(x, False)`` is the
    ``var(input, unbiased)`` overload."""
    return _variance("var", input, *_variance_args("var", dim, unbiased, correction), keepdim)


def _variance_args(name, dim, unbiased, correction):
    """``(dim, correction)`` from the arguments of ``var``-like op ``name``: ``name(x, False)``
    is the ``(input, unbiased)`` overload; ``unbiased`` (default True) and ``correction``
    exclude each other."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{name}(): the unbiased flag was given twice")
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise RuntimeError(f"{name}(): cannot specify both unbiased and correction")
    return dim, correction


def _variance(name, input, dim, correction, keepdim) -> Tensor:
    """The variance over ``dim`` with ``correction``, for op ``name`` (its errors and warning
    name it)."""
    if input._data.dtype.kind != "f":
        what = "std and var" if name in ("std", "var") else name
        raise RuntimeError(f"{what} only support floating point and complex dtypes")
    axes = _reduce_args(input, dim, keepdim)
    data = input._data
    n = data.size // builtins.max(1, _count_out(data.shape, axes))
    dof = n - correction
    if dof > 0:
        out = data.var(axis=axes, ddof=correction, keepdims=keepdim)
    else:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
        centered = data - data.mean(axis=axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (centered * centered).sum(axis=axes, keepdims=keepdim) / data.dtype.type(0)
    if _state.enabled and input._requires_grad:
        node = VarBackward0((input,))
        node.save(input)
        node.axes, node.keepdim = axes, keepdim
        node.scale = 2.0 / dof if dof > 0 else math.inf
        return _from_node(out, node)
    return _wrap(out)


class VarBackward0(Node):
    """Backward of ``var``: 2 (x - mean) / (N - correction); double backward is the same formula
    on tensors."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        axes = self.axes
        if axes is not None and not self.keepdim:
            g = _backend.get_array_module(g).expand_dims(g, axes)
        centered = xd - xd.mean(axis=axes, keepdims=True)
        if self.scale == math.inf:  # no degrees of freedom: NaN, like PyTorch
            with np.errstate(invalid="ignore"):
                return ((g * self.scale) * centered,)
        return ((g * self.scale) * centered,)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        axes = self.axes
        if axes is not None and not self.keepdim:
            for a in axes:
                g = g.unsqueeze(a)
        return ((g * self.scale) * (x - mean(x, dim=axes, keepdim=True)),)


def _count_out(shape, axes):
    if axes is None:
        return 1
    return math.prod([s for i, s in enumerate(shape) if i not in axes])


class StdBackward0(Node):
    """Backward of the square root that turns the variance into ``std``: 0.5 / std, and 0 where
    std is 0 (PyTorch's ``std_backward``; a plain sqrt would give NaN for constant input)."""

    def backward(self, g):
        out = self.saved_output
        xp = _backend.get_array_module(out)
        zero = out == 0
        d = xp.where(zero, 0, 0.5 / xp.where(zero, 1, out)).astype(out.dtype, copy=False)
        return (g * d,)

    def graph_backward(self, g):
        from .elementwise import where
        out = self.saved_output_tensor()
        with np.errstate(divide="ignore", invalid="ignore"):
            return (where(out == 0, 0.0, g * 0.5 / out),)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Standard deviation (Bessel-corrected by default)."""
    return _sqrt_of_variance(
        _variance("std", input, *_variance_args("std", dim, unbiased, correction), keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``, with ``var``'s arguments."""
    dim, correction = _variance_args("var_mean", dim, unbiased, correction)
    return _variance("var_mean", input, dim, correction, keepdim), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``, with ``std``'s arguments."""
    dim, correction = _variance_args("std_mean", dim, unbiased, correction)
    return (_sqrt_of_variance(_variance("std_mean", input, dim, correction, keepdim)),
            mean(input, dim, keepdim))


def _sqrt_of_variance(v) -> Tensor:
    """``sqrt(v)`` for a variance ``v``, with ``std``'s gradient (0 where ``v`` is 0)."""
    out = v._xp().sqrt(v._data)
    if _state.enabled and v._requires_grad:
        node = StdBackward0((v,))
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


class ExtremumBackward(Node):
    """Gradient of max/min/amax/amin: spread evenly over the elements equal to the extremum."""

    def _tie_weights(self):
        """Per element of the input: 1/count where it equals the extremum (count = the ties of
        its reduction group), else 0."""
        (x,) = self.saved_tensors
        xd = x._data
        out = self.saved_output
        xp = _backend.get_array_module(xd)
        if self.axes is not None and not self.keepdim:
            out = xp.expand_dims(out, self.axes)
        mask = xd == out
        return (mask / mask.sum(axis=self.axes, keepdims=True)).astype(xd.dtype, copy=False)

    def backward(self, g):
        if self.axes is not None and not self.keepdim:
            g = _backend.get_array_module(g).expand_dims(g, self.axes)
        return (g * self._tie_weights(),)

    def graph_backward(self, g):
        if self.axes is not None and not self.keepdim:
            for a in self.axes:
                g = g.unsqueeze(a)
        return (g * _wrap(self._tie_weights()),)


class AmaxBackward0(ExtremumBackward):
    """Backward of ``amax``."""


class AminBackward0(ExtremumBackward):
    """Backward of ``amin``."""


class MaxBackward1(ExtremumBackward):
    """Backward of ``max`` of all elements."""


class MinBackward1(ExtremumBackward):
    """Backward of ``min`` of all elements."""


class IndexedExtremumBackward(Node):
    """Gradient of ``max(dim)``/``min(dim)``: flows only to the returned index."""

    def backward(self, g):
        xp = _backend.get_array_module(g)
        idx = self.indices
        dim = self.dim
        if not self.keepdim:
            g = xp.expand_dims(g, dim)
            idx = xp.expand_dims(idx, dim)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.put_along_axis(out, idx, g, axis=dim)
        return (out,)

    def graph_backward(self, g):
        xp = _backend.get_array_module(g._data)
        idx = self.indices
        if not self.keepdim:
            g = g.unsqueeze(self.dim)
            idx = xp.expand_dims(idx, self.dim)
        onehot = xp.zeros(self.shape, dtype=g._data.dtype)
        xp.put_along_axis(onehot, idx, 1, axis=self.dim)
        return (g * _wrap(onehot),)


class MaxBackward0(IndexedExtremumBackward):
    """Backward of ``max`` along ``dim``."""


class MinBackward0(IndexedExtremumBackward):
    """Backward of ``min`` along ``dim``."""


# the nodes of max and min: of all elements, and along a dim (PyTorch's names)
_EXTREMUM_NODES = {"max": (MaxBackward1, MaxBackward0), "min": (MinBackward1, MinBackward0)}


def _extremum(input, dim, keepdim, reduce_fn, arg_fn, name):
    data = input._data
    if dim is None:
        if data.size == 0:
            raise _empty_reduction_error(name, data.shape, None)
        out = reduce_fn(data)
        return _saving_result(input, out, None, False, _EXTREMUM_NODES[name][0])
    if isinstance(dim, Tensor):  # max(a, b) with two tensors is maximum
        raise TypeError("use distgrad.maximum/minimum for two tensors")
    if not isinstance(dim, (int, np.integer)):
        raise _dim_not_int_error(name, dim)
    axis = normalize_dims(dim, data.ndim)[0] if data.ndim else None
    if axis is None:
        if not -1 <= dim <= 0:
            normalize_dims(dim, 0)
        values = _saving_result(input, reduce_fn(data), None, False, _EXTREMUM_NODES[name][0])
        return values_indices(values, _wrap(input._xp().zeros((), dtype=int64)))
    try:
        idx = arg_fn(data, axis=axis, keepdims=True)
    except ValueError:  # an empty reduction dim
        raise _empty_reduction_error(name, data.shape, (axis,)) from None
    xp = input._xp()
    values = xp.take_along_axis(data, idx, axis=axis)
    if not keepdim:
        values = values.squeeze(axis)
        idx = idx.squeeze(axis)
    idx = idx.astype(int64, copy=False)
    if _state.enabled and input._requires_grad:
        node = _EXTREMUM_NODES[name][1]((input,))
        node.indices, node.dim, node.keepdim, node.shape = idx, axis, keepdim, data.shape
        return values_indices(_from_node(values, node), _wrap(idx))
    return values_indices(_wrap(values), _wrap(idx))


def _saving_result(input, out, axes, keepdim, node_class):
    """The result ``out`` of reducing ``input`` over ``axes``, with a ``node_class`` node that
    saves the input and the output when ``input`` requires grad."""
    if _state.enabled and input._requires_grad:
        node = node_class((input,))
        node.save(input)
        node.axes, node.keepdim = axes, keepdim
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


def max(input, dim=None, keepdim=False):
    """The maximum of all elements, or ``(values, indices)`` along ``dim``; ``max(a, b)`` is
    ``maximum``."""
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    xp = input._xp()
    return _extremum(input, dim, keepdim, xp.max, xp.argmax, "max")


def min(input, dim=None, keepdim=False):
    """The minimum of all elements, or ``(values, indices)`` along ``dim``."""
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    xp = input._xp()
    return _extremum(input, dim, keepdim, xp.min, xp.argmin, "min")


def _dim_not_int_error(name, dim):
    """PyTorch's TypeError for a reduction that takes one int dim given another type."""
    return TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                     f"dim={type(dim).__name__}), but expected one of: (Tensor input), "
                     "(Tensor input, int dim, bool keepdim = False)")


def _empty_reduction_error(name, shape, axes):
    """PyTorch's error for a max/min-like reduction of no elements (NumPy's ValueError)."""
    if axes is None:
        return RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                            "input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
    dim = next(a for a in axes if shape[a] == 0)
    return IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")


def _amax_amin(input, dim, keepdim, name, node_class):
    axes = _reduce_args(input, dim, keepdim)
    try:
        out = getattr(input._data, name[1:])(axis=axes, keepdims=keepdim)
    except ValueError:
        raise _empty_reduction_error(name, input._data.shape, axes) from None
    return _saving_result(input, out, axes, keepdim, node_class)


def amax(input, dim=(), keepdim=False) -> Tensor:
    """Maximum over ``dim`` (all dims by default); the gradient is shared among ties."""
    return _amax_amin(input, dim, keepdim, "amax", AmaxBackward0)


def amin(input, dim=(), keepdim=False) -> Tensor:
    """Minimum over ``dim`` (all dims by default)."""
    return _amax_amin(input, dim, keepdim, "amin", AminBackward0)


aminmax_result = namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)``: ``amin`` and ``amax`` over the int ``dim`` (all dims when None; with
    ``keepdim`` every dim is then kept with size 1). Each gradient is shared among ties."""
    data = input._data
    if dim is None:
        if data.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        dim = ()
    elif not isinstance(dim, (int, np.integer)):
        raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
    else:
        axis = normalize_dims(dim, data.ndim)[0]
        if data.ndim and data.shape[axis] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {axis} to have non-zero size.")
    return aminmax_result(amin(input, dim, keepdim), amax(input, dim, keepdim))


# --------------------------------------------------------------------------------------------
# Covariance and correlation (PyTorch's compositions, so the gradients are the same)
# --------------------------------------------------------------------------------------------
def _check_weights(name, w, observations, integral):
    """PyTorch's checks of ``cov``'s ``fweights`` (``integral``) or ``aweights``."""
    if w.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {w.ndim} dimensions")
    kind_ok = w._data.dtype.kind in "iu" if integral else w._data.dtype.kind == "f"
    if not kind_ok:
        raise RuntimeError(f"cov(): expected {name} to have "
                           f"{'integral' if integral else 'floating point'} dtype but got {name} "
                           f"with {torch_type_name(w._data.dtype)} dtype")
    if w.numel() != observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {w.numel()} != {observations}")
    if observations and bool(w._data.min() < 0):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (1-D: one variable),
    observations in the columns, optionally weighted by integer frequencies ``fweights`` and
    float ``aweights``; normalised by the weight sum less ``correction``."""
    from .linalg import mm
    if input.ndim > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    if input._data.dtype.kind == "b":
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if isinstance(correction, bool) or not isinstance(correction, (int, np.integer)):
        raise TypeError(f"cov(): argument 'correction' must be int, not "
                        f"{type(correction).__name__}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    observations = x.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, observations, True)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, observations, False)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = _wrap(input._xp().asarray(observations, dtype=int64))
    else:
        w_sum = sum(w)
        if not bool(w_sum._data != 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = sum(x if w is None else x * w, 1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm_factor = w_sum - correction * sum(w * aweights) / w_sum
    else:
        norm_factor = w_sum - correction
    if bool(norm_factor._data <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm_factor = _wrap(input._xp().zeros((), dtype=norm_factor._data.dtype))
    x = x - avg.unsqueeze(1)
    c = mm(x, (x if w is None else x * w).t())
    with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: inf or NaN
        return (c / norm_factor).squeeze()


def corrcoef(input) -> Tensor:
    """Pearson's correlation coefficients of the variables in the rows of ``input`` (``cov``
    normalised by the standard deviations, clipped to [-1, 1])."""
    from .elementwise import clamp, sqrt
    if input.ndim > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    c = cov(input)
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN for a constant variable
        if c.ndim == 0:  # one variable: 1, or NaN where the covariance is 0, inf or NaN
            return c / c
        stddev = sqrt(c.diagonal())
        c = c / stddev.reshape(-1, 1)
        c = c / stddev.reshape(1, -1)
    return clamp(c, -1, 1)


def _arg_extremum(input, dim, keepdim, name):
    data = input._data
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    if dim is not None:
        dim = normalize_dims(dim, data.ndim)[0]
        if data.ndim == 0:
            dim = None
    if data.size == 0:
        if dim is None:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        if data.shape[dim] == 0:
            raise _empty_reduction_error(name, data.shape, (dim,))
    out = getattr(data, name)(axis=dim, keepdims=keepdim)
    return _wrap(input._xp().asarray(out).astype(int64, copy=False))


def argmax(input, dim=None, keepdim=False) -> Tensor:
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    return _arg_extremum(input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False) -> Tensor:
    """Index of the minimum."""
    return _arg_extremum(input, dim, keepdim, "argmin")


def _logical_reduce(input, dim, keepdim, name):
    data = input._data
    if isinstance(dim, (tuple, list)) and not dim:  # PyTorch: an empty dim list reduces nothing
        out = data != 0
    else:
        axes = _reduce_args(input, dim, keepdim)
        out = getattr(data, name)(axis=axes, keepdims=keepdim)
    if data.dtype == np.uint8:  # PyTorch keeps uint8 for uint8 input
        out = out.astype(np.uint8)
    return _wrap(input._xp().asarray(out))


def all(input, dim=None, keepdim=False) -> Tensor:
    """True where every element (over ``dim``) is non-zero, as a bool tensor; an empty ``dim``
    list reduces nothing (each element is tested on its own), as in PyTorch."""
    return _logical_reduce(input, dim, keepdim, "all")


def any(input, dim=None, keepdim=False) -> Tensor:
    """True where some element (over ``dim``) is non-zero, as a bool tensor."""
    return _logical_reduce(input, dim, keepdim, "any")


class LogsumexpBackward0(Node):
    """Backward of ``logsumexp``: the gradient times ``exp(x - out)`` (the softmax of x)."""

    def backward(self, g):
        (x,) = self.saved_tensors
        xd = x._data
        out = _expand_back(self.saved_output, xd.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, as in PyTorch
            softmax = _backend.get_array_module(xd).exp(xd - out)
        return (_expand_back(g, xd.shape, self.axes, self.keepdim) * softmax,)

    def graph_backward(self, g):
        from .elementwise import exp
        (x,) = self.saved_tensors
        out = _expand_back_tensor(self.saved_output_tensor(), x.shape, self.axes, self.keepdim)
        return (_expand_back_tensor(g, x.shape, self.axes, self.keepdim) * exp(x - out),)


def logsumexp(input, dim, keepdim=False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably (the maximum, where finite, is taken out
    before exponentiating); integer input gives the default float dtype."""
    data = input._data
    if isinstance(dim, (tuple, list)) and not dim and not keepdim and data.ndim:
        # an empty dim list reduces every dim, but PyTorch 2.13 then fails to drop them
        raise RuntimeError("output with shape [] doesn't match the broadcast shape "
                           f"[{', '.join(['1'] * data.ndim)}]")
    if data.dtype.kind != "f":
        data = data.astype(get_default_dtype())
    axes = _reduce_args(input, dim, keepdim)
    xp = input._xp()
    m = data.max(axis=axes, keepdims=True) if data.size else xp.zeros((), dtype=data.dtype)
    m = xp.where(xp.isinf(m), 0, m).astype(data.dtype, copy=False)
    # log(0) = -inf for a sum of no terms or of only -inf; NaN propagates
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.log(xp.exp(data - m).sum(axis=axes, keepdims=True)) + m
    if not keepdim:
        out = out.reshape(()) if axes is None else out.squeeze(axes)
    return _saving_result(input, out, axes, keepdim, LogsumexpBackward0)


def prod(input, dim=None, keepdim=False) -> Tensor:
    """Product of elements (the gradient is exact with zeros too)."""
    if isinstance(dim, (tuple, list)):
        raise _dim_not_int_error("prod", dim)
    data = input._data
    axes = _reduce_args(input, dim, keepdim)
    out = data.prod(axis=axes, keepdims=keepdim,
                    dtype=int64 if data.dtype.kind in "biu" else None)
    if not (_state.enabled and input._requires_grad):
        return _wrap(out)
    node = (ProdBackward0 if dim is None else ProdBackward1)((input,))
    node.save(input)
    node.axes = axes
    node.keepdim = keepdim
    result = _from_node(out, node)
    node.save_output(result)
    return result


class ProdBackward0(Node):
    """Backward of ``prod``."""

    def backward(self, g):
        (x,) = self.saved_tensors
        out = self.saved_output
        xd = x._data
        xp = _backend.get_array_module(xd)
        axes = self.axes
        if axes is not None and not self.keepdim:
            out = xp.expand_dims(out, axes)
            g = xp.expand_dims(g, axes)
        if xp.all(xd != 0):
            return (g * out / xd,)
        # With zeros, out / x is undefined: use the product of the other elements, from
        # exclusive cumulative products from both ends.
        axis = None if axes is None else axes[0]
        flat = xd.reshape(-1) if axis is None else xd
        ax = 0 if axis is None else axis
        ones_shape = list(flat.shape)
        ones_shape[ax] = 1
        one = xp.ones(ones_shape, dtype=xd.dtype)
        left = xp.concatenate([one, xp.cumprod(flat, axis=ax)], axis=ax)
        right = xp.flip(xp.cumprod(xp.flip(flat, ax), axis=ax), ax)
        right = xp.concatenate([right, one], axis=ax)
        n = flat.shape[ax]
        others = xp.take(left, xp.arange(n), axis=ax) * xp.take(right, xp.arange(1, n + 1), axis=ax)
        return (g * others.reshape(xd.shape),)

    def graph_backward(self, g):
        (x,) = self.saved_tensors
        axes = self.axes
        if axes is not None and not self.keepdim:
            g = g.unsqueeze(axes[0])
        if bool((x._data != 0).all()):
            out = self.saved_output_tensor()
            if axes is not None and not self.keepdim:
                out = out.unsqueeze(axes[0])
            return (g * out / x,)
        return (g * _prod_of_others(x, None if axes is None else axes[0]),)


class ProdBackward1(ProdBackward0):
    """Backward of ``prod`` along ``dim``."""


def _prod_of_others(x, axis) -> Tensor:
    """For each element of ``x``, the product of the other elements of its slice along ``axis``
    (of all elements for None), as a differentiable function of ``x`` exact with zeros: the
    exclusive cumulative products from both ends, multiplied."""
    from .scan import cumprod
    from .shape import cat, flip, narrow, reshape
    flat = reshape(x, (-1,)) if axis is None else x
    ax = 0 if axis is None else axis
    n = flat.shape[ax]
    one_shape = list(flat.shape)
    one_shape[ax] = 1
    one = _wrap(x._xp().ones(one_shape, dtype=x._data.dtype))
    left = cumprod(cat([one, narrow(flat, ax, 0, n - 1)], ax), ax)
    right = flip(cumprod(flip(cat([narrow(flat, ax, 1, n - 1), one], ax), ax), ax), ax)
    return reshape(left * right, x.shape)


def count_nonzero(input, dim=None) -> Tensor:
    """The number of non-zero elements (over ``dim``, an int or a tuple), as int64."""
    axes = _reduce_args(input, dim, False)
    return _wrap(input._xp().asarray((input._data != 0).sum(axis=axes), dtype=int64))


class NansumBackward0(Node):
    """Backward of ``nansum``: the gradient times ``not isnan(x)`` (a NaN or infinite gradient
    still gives NaN at the NaN elements: ``inf * 0``, as in PyTorch)."""

    def backward(self, g):
        with np.errstate(invalid="ignore"):
            return (_expand_back(g, self.shape, self.axes, self.keepdim) * self.not_nan,)

    def graph_backward(self, g):
        return (_expand_back_tensor(g, self.shape, self.axes, self.keepdim) * _wrap(self.not_nan),)


def nansum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """``sum`` treating NaN as zero (NaN elements get a zero gradient)."""
    if input._data.dtype.kind != "f":
        return sum(input, dim, keepdim, dtype=dtype)
    axes = _reduce_args(input, dim, keepdim)
    if dtype is not None:
        input = _cast_input(input, dtype)
    data = input._data
    xp = input._xp()
    out = xp.asarray(xp.nansum(data, axis=axes, keepdims=keepdim, dtype=dtype))
    if _state.enabled and input._requires_grad:
        node = NansumBackward0((input,))
        node.shape, node.axes, node.keepdim = data.shape, axes, keepdim
        node.not_nan = ~xp.isnan(data)
        return _from_node(out, node)
    return _wrap(out)


def nanmean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """``mean`` of the non-NaN elements (NaN where a slice has none)."""
    if input._data.dtype.kind != "f" and dtype is None:
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype "
                           f"but got {torch_type_name(input._data.dtype)}")
    from .elementwise import isnan, logical_not
    count = sum(logical_not(isnan(input)), dim, keepdim)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 for an all-NaN slice
        return nansum(input, dim, keepdim, dtype=dtype) / count


def norm(input, p="fro", dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """The norm of ``input`` (``torch.norm``): for ``p='fro'`` (over at most two dims) or a number,
    the vector ``p``-norm over ``dim`` (all elements by default; ``'fro'`` is the 2-norm); other
    strings go to ``linalg.matrix_norm``."""
    from .linalg import matrix_norm, vector_norm
    dims = None if dim is None else list(dim) if isinstance(dim, (tuple, list)) else [dim]
    if not isinstance(p, str):
        return vector_norm(input, 2.0 if p is None else p, dims, keepdim, dtype=dtype)
    if p == "fro" and (dims is None or len(dims) <= 2):
        return vector_norm(input, 2.0, dims, keepdim, dtype=dtype)
    return matrix_norm(input, p, dims if dims is not None else list(range(input._data.ndim)),
                       keepdim, dtype=dtype)
