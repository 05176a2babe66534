"""Activations with fused backward: softmax, log_softmax, softmin, dropout (and its 2-D
variant), leaky_relu, elu, selu, celu, silu, mish, softplus, hardtanh/relu6, hardsigmoid,
hardswish, logsigmoid, softsign, tanhshrink, threshold, glu."""
from __future__ import annotations

import warnings

import numpy as np

from ... import random as _random
from ...autograd.graph import Node
from ...dtypes import as_dtype
from ...tensor import Tensor, _from_node
from .._util import _state, max_axis, maximum_zero, normalize_dims, sum_axis
from ._util import xp_of

_wrap = Tensor._wrap


def _softmax_dim(name, dim, ndim, stacklevel=4):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                      "to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
        dim = 0 if ndim in (0, 1, 3) else 1
    if ndim == 0:
        if dim not in (0, -1):
            normalize_dims(dim, 0)
        return None
    return normalize_dims(dim, ndim)[0]


def _cast(input, dtype):
    dtype = as_dtype(dtype)
    if dtype is not None and input._data.dtype != dtype:
        return input.to(dtype)
    return input


# --------------------------------------------------------------------------------------------
# softmax family
# --------------------------------------------------------------------------------------------
def softmax_array(x, axis):
    """Softmax of an array along ``axis`` (ones for a 0-d array)."""
    xp = xp_of(x)
    if axis is None:  # 0-d
        return xp.ones_like(x)
    out = x - max_axis(x, axis, keepdims=True)
    xp.exp(out, out=out)
    out /= sum_axis(out, axis, keepdims=True)
    return out


def log_softmax_array(x, axis):
    """Log-softmax of an array along ``axis`` (zeros for a 0-d array)."""
    xp = xp_of(x)
    if axis is None:
        return xp.zeros_like(x)
    out = x - max_axis(x, axis, keepdims=True)
    lse = xp.log(sum_axis(xp.exp(out), axis, keepdims=True))
    out -= lse
    return out


class SoftmaxBackward0(Node):
    """Backward of ``softmax``."""

    def backward(self, g):
        y = self.saved_output
        if self.dim is None:
            return (g * 0,)
        s = sum_axis(g * y, self.dim, keepdims=True)
        gx = g - s
        gx *= y
        return (gx,)

    def graph_backward(self, g):
        y = self.saved_output_tensor()
        if self.dim is None:
            return (g * 0,)
        return (y * (g - (g * y).sum(self.dim, keepdim=True)),)


class LogSoftmaxBackward0(Node):
    """Backward of ``log_softmax``."""

    def backward(self, g):
        y = self.saved_output
        if self.dim is None:
            return (g * 0,)
        xp = xp_of(y)
        gx = xp.exp(y)
        gx *= sum_axis(g, self.dim, keepdims=True)
        return (g - gx,)

    def graph_backward(self, g):
        y = self.saved_output_tensor()
        if self.dim is None:
            return (g * 0,)
        return (g - y.exp() * g.sum(self.dim, keepdim=True),)


def _softmax_like(input, dim, dtype, name, array_fn, node_cls):
    input = _cast(input, dtype)
    xd = input._data
    if xd.dtype.kind != "f":
        raise RuntimeError(f'"{name}_lastdim_kernel_impl" not implemented for '
                           f"'{str(xd.dtype).capitalize()}'")
    axis = _softmax_dim(name, dim, xd.ndim)
    out = array_fn(xd, axis)
    if _state.enabled and input._requires_grad:
        node = node_cls((input,))
        node.dim = axis
        result = _from_node(out, node)
        node.save_output(result)
        return result
    return _wrap(out)


def softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably."""
    return _softmax_like(input, dim, dtype, "softmax", softmax_array, SoftmaxBackward0)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """``x - logsumexp(x, dim)``, computed stably (fused backward)."""
    return _softmax_like(input, dim, dtype, "log_softmax", log_softmax_array, LogSoftmaxBackward0)


def softmin(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """``softmax(-x)``."""
    return softmax(-_cast(input, dtype), dim)


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------
class DropoutBackward0(Node):
    """Backward of ``dropout``: the gradient times the saved mask."""

    def backward(self, g):
        return (g * self.mask,)

    def graph_backward(self, g):
        return (g * _wrap(self.mask),)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _kept(shape, p, like):
    """``1`` (kept, probability ``1-p``) or ``0`` (dropped), drawn from distgrad's generator."""
    xp = xp_of(like)
    dtype = like.dtype
    if xp is np:
        r = _random.rng().random(shape, dtype=np.float32 if dtype != np.float64 else np.float64)
    else:  # CuPy: its generator is seeded by distgrad.manual_seed
        r = xp.random.random(shape, dtype=np.float32 if dtype != np.float64 else np.float64)
    return (r >= p).astype(dtype)


def _keep_mask(shape, p, like):
    """A mask of ``1/(1-p)`` (kept) and ``0`` (dropped), drawn from distgrad's generator."""
    mask = _kept(shape, p, like)
    mask *= 1.0 / (1.0 - p)
    return mask


def _apply_mask(input, mask, node_class=DropoutBackward0):
    out = input._data * mask
    if _state.enabled and input._requires_grad:
        node = node_class((input,))
        node.mask = mask
        return _from_node(out, node)
    return _wrap(out)


def _dropout_impl(input, p, training, inplace, mask_shape_fn):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if inplace:
        from ..inplace import apply_inplace
        return apply_inplace(input, lambda s: _dropout_impl(s, p, training, False, mask_shape_fn))
    xd = input._data
    if p == 1.0:
        mask = xp_of(xd).zeros(mask_shape_fn(xd.shape), dtype=xd.dtype)
    else:
        mask = _keep_mask(mask_shape_fn(xd.shape), p, xd)
    return _apply_mask(input, mask)


def _alpha_dropout_impl(input, p, training, inplace, mask_shape_fn):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if inplace:
        from ..inplace import apply_inplace
        return apply_inplace(input, lambda s: _alpha_dropout_impl(s, p, training, False,
                                                                  mask_shape_fn))
    xd = input._data
    if p == 1.0:
        return _apply_mask(input, xp_of(xd).zeros(mask_shape_fn(xd.shape), dtype=xd.dtype))
    keep = _kept(mask_shape_fn(xd.shape), p, xd)
    # dropped values become SELU's saturation value, then a * x + b restores mean and variance
    saturation = _SELU_SCALE * _SELU_ALPHA  # minus SELU's value at minus infinity
    a = 1.0 / np.sqrt((saturation ** 2 * p + 1) * (1 - p))
    shift = (keep - 1) * (saturation * a) + saturation * a * p
    keep *= a
    return _apply_mask(input, keep) + _wrap(shift)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1) -> Tensor:
    """A sample of the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with Gumbel
    noise ``g`` from distgrad's generator; ``hard`` returns the one-hot of its maximum, with the
    soft sample's gradient (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning,
                      stacklevel=2)
    xd = logits._data
    xp = xp_of(xd)
    if xp is np:
        exponential = _random.rng().standard_exponential(xd.shape)
    else:  # CuPy: its generator is seeded by distgrad.manual_seed
        exponential = xp.random.standard_exponential(xd.shape)
    gumbels = _wrap(-xp.log(exponential).astype(xd.dtype, copy=False))
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = y_soft.detach().mul(0).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def _feature_shape(shape):
    if len(shape) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return shape[:2] + (1,) * (len(shape) - 2)


def alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """Dropout for SELU networks (training only): dropped elements take SELU's negative
    saturation value, and an affine map keeps zero mean and unit variance."""
    return _alpha_dropout_impl(input, p, training, inplace, lambda s: s)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """``alpha_dropout`` of whole channels of ``(N, C, *)`` input."""
    return _alpha_dropout_impl(input, p, training, inplace, _feature_shape)


def dropout(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only;
    the mask comes from distgrad's generator, so ``manual_seed`` makes it reproducible)."""
    return _dropout_impl(input, p, training, inplace, lambda s: s)


def _feature_dropout(input, p, training, inplace, name, spatial):
    nd = input.ndim
    if nd not in (spatial + 1, spatial + 2):
        warnings.warn(f"{name}: Received a {nd}-D input to {name}, which is deprecated and will "
                      f"result in an error in a future release.", UserWarning, stacklevel=3)
    batched = nd == spatial + 2

    def shape_fn(s):
        lead = 2 if batched else 1
        return s[:lead] + (1,) * (len(s) - lead)
    return _dropout_impl(input, p, training, inplace, shape_fn)


def dropout1d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, "dropout1d", 1)


def dropout2d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, "dropout2d", 2)


def dropout3d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, "dropout3d", 3)


# --------------------------------------------------------------------------------------------
# pointwise activations with a fused backward
# --------------------------------------------------------------------------------------------
class PointwiseBackward(Node):
    """``g * derivative`` where ``derivative(x, y)`` is computed at backward time."""

    def backward(self, g):
        (x,) = self.saved_tensors
        return (g * self.derivative(x._data, *self.args),)

    def name(self):
        return self.op_name


def _pointwise(input, forward, derivative, op_name, *args):
    """Apply ``forward(x, *args)``; the backward is ``g * derivative(x, *args)``."""
    xd = input._data
    out = forward(xd, *args)
    if out.dtype != xd.dtype and xd.dtype.kind == "f":
        out = out.astype(xd.dtype)
    if _state.enabled and input._requires_grad:
        node = PointwiseBackward((input,))
        node.derivative, node.args, node.op_name = derivative, args, op_name
        node.save(input)
        return _from_node(out, node)
    return _wrap(out)


def _inplace(input, fn, *args):
    from ..inplace import apply_inplace
    return apply_inplace(input, lambda s: fn(s, *args))


def _leaky_fwd(x, slope):
    return xp_of(x).where(x > 0, x, x * slope)


def _leaky_der(x, slope):
    return xp_of(x).where(x > 0, 1.0, slope).astype(x.dtype, copy=False)


def leaky_relu(input, negative_slope=0.01, inplace=False) -> Tensor:
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""
    if inplace:
        return _inplace(input, leaky_relu, negative_slope)
    return _pointwise(input, _leaky_fwd, _leaky_der, "LeakyReluBackward0", negative_slope)


def _elu_fwd(x, alpha, scale, input_scale):
    xp = xp_of(x)
    return scale * xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0) * input_scale))


def _elu_der(x, alpha, scale, input_scale):
    xp = xp_of(x)
    return (scale * xp.where(x > 0, 1.0, alpha * input_scale
                             * xp.exp(xp.minimum(x, 0) * input_scale))).astype(x.dtype, copy=False)


def elu(input, alpha=1.0, inplace=False) -> Tensor:
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    if inplace:
        return _inplace(input, elu, alpha)
    return _pointwise(input, _elu_fwd, _elu_der, "EluBackward0", alpha, 1.0, 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False) -> Tensor:
    """Scaled ELU with the self-normalising constants."""
    if inplace:
        return _inplace(input, selu)
    return _pointwise(input, _elu_fwd, _elu_der, "EluBackward0", _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input, alpha=1.0, inplace=False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if inplace:
        return _inplace(input, celu, alpha)
    return _pointwise(input, _elu_fwd, _elu_der, "EluBackward0", alpha, 1.0, 1.0 / alpha)


def _sigmoid(x):
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _silu_fwd(x):
    return x * _sigmoid(x)


def _silu_der(x):
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


def silu(input, inplace=False) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    if inplace:
        return _inplace(input, silu)
    return _pointwise(input, _silu_fwd, _silu_der, "SiluBackward0")


def _softplus_array(x, beta=1.0, threshold=20.0):
    xp = xp_of(x)
    bx = x * beta
    soft = (maximum_zero(bx) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
    return xp.where(bx > threshold, x, soft)


def _softplus_der(x, beta=1.0, threshold=20.0):
    bx = x * beta
    return xp_of(x).where(bx > threshold, 1.0, _sigmoid(bx))


def softplus(input, beta=1.0, threshold=20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta`` (linear above ``threshold``)."""
    return _pointwise(input, _softplus_array, _softplus_der, "SoftplusBackward0", beta, threshold)


def _mish_fwd(x):
    return x * xp_of(x).tanh(_softplus_array(x))


def _mish_der(x):
    xp = xp_of(x)
    t = xp.tanh(_softplus_array(x))
    return t + x * (1 - t * t) * _sigmoid(x)


def mish(input, inplace=False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    if inplace:
        return _inplace(input, mish)
    return _pointwise(input, _mish_fwd, _mish_der, "MishBackward0")


def _hardtanh_fwd(x, lo, hi):
    return xp_of(x).clip(x, lo, hi)


def _hardtanh_der(x, lo, hi):
    return ((x > lo) & (x < hi)).astype(x.dtype)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False) -> Tensor:
    """``clamp(x, min_val, max_val)`` (gradient 0 at and beyond the limits, like PyTorch)."""
    if inplace:
        return _inplace(input, hardtanh, min_val, max_val)
    return _pointwise(input, _hardtanh_fwd, _hardtanh_der, "HardtanhBackward0", min_val, max_val)


def relu6(input, inplace=False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def _hardsigmoid_fwd(x):
    return xp_of(x).clip(x / 6 + 0.5, 0, 1)


def _hardsigmoid_der(x):
    return (((x > -3) & (x < 3)) / 6).astype(x.dtype)


def hardsigmoid(input, inplace=False) -> Tensor:
    """``clamp(x / 6 + 1/2, 0, 1)``."""
    if inplace:
        return _inplace(input, hardsigmoid)
    return _pointwise(input, _hardsigmoid_fwd, _hardsigmoid_der, "HardsigmoidBackward0")


def _hardswish_fwd(x):
    return x * xp_of(x).clip(x + 3, 0, 6) / 6


def _hardswish_der(x):
    xp = xp_of(x)
    return xp.where(x <= -3, 0.0, xp.where(x < 3, x / 3 + 0.5, 1.0))   # PyTorch's ends


def hardswish(input, inplace=False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    if inplace:
        return _inplace(input, hardswish)
    return _pointwise(input, _hardswish_fwd, _hardswish_der, "HardswishBackward0")


def _logsigmoid_fwd(x):
    xp = xp_of(x)
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


def _logsigmoid_der(x):
    return _sigmoid(-x)


def logsigmoid(input) -> Tensor:
    """``log(sigmoid(x))``, computed stably."""
    return _pointwise(input, _logsigmoid_fwd, _logsigmoid_der, "LogSigmoidBackward0")


def _softsign_fwd(x):
    return x / (1 + xp_of(x).abs(x))


def _softsign_der(x):
    d = 1 + xp_of(x).abs(x)
    return 1 / (d * d)


def softsign(input) -> Tensor:
    """``x / (1 + |x|)``."""
    return _pointwise(input, _softsign_fwd, _softsign_der, "SoftsignBackward0")


def _tanhshrink_fwd(x):
    return x - xp_of(x).tanh(x)


def _tanhshrink_der(x):
    t = xp_of(x).tanh(x)
    return t * t


def tanhshrink(input) -> Tensor:
    """``x - tanh(x)``."""
    return _pointwise(input, _tanhshrink_fwd, _tanhshrink_der, "TanhshrinkBackward0")


def _threshold_fwd(x, threshold, value):
    return xp_of(x).where(x > threshold, x, value)


def _threshold_der(x, threshold, value):
    return (x > threshold).astype(x.dtype)


def threshold(input, threshold, value, inplace=False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    if inplace:
        return _inplace(input, globals()["threshold"], threshold, value)
    return _pointwise(input, _threshold_fwd, _threshold_der, "ThresholdBackward0", threshold, value)


def _shrink_fwd(x, lambd, soft):
    xp = xp_of(x)
    keep = xp.abs(x) > lambd
    if soft:
        return xp.where(keep, x - xp.sign(x) * lambd, 0)
    return xp.where(keep, x, 0)


def _shrink_der(x, lambd, soft):
    return (xp_of(x).abs(x) > lambd).astype(x.dtype)


def hardshrink(input, lambd=0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    return _pointwise(input, _shrink_fwd, _shrink_der, "HardshrinkBackward0", lambd, False)


def softshrink(input, lambd=0.5) -> Tensor:
    """``x - lambd*sign(x)`` where ``|x| > lambd``, else 0."""
    return _pointwise(input, _shrink_fwd, _shrink_der, "SoftshrinkBackward0", lambd, True)


def glu(input, dim=-1) -> Tensor:
    """``a * sigmoid(b)`` where ``a, b`` are the two halves of ``input`` along ``dim``."""
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is "
                           f"size {n}")
    a, b = input.split(n // 2, dim)
    return a * b.sigmoid()


def prelu(input, weight) -> Tensor:
    """``max(0, x) + weight * min(0, x)`` with one weight or one per channel (dim 1)."""
    w = weight
    if weight.numel() != 1:
        if input.ndim < 2 or input.shape[1] != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {weight.numel()} and channel size = "
                               f"{input.shape[1] if input.ndim >= 2 else 1}.")
        w = weight.reshape((-1,) + (1,) * (input.ndim - 2))
    pos = input.relu()
    return pos + w * (input - pos)


class RreluWithNoiseBackward0(DropoutBackward0):
    """Backward of ``rrelu``: the gradient times the saved slopes (1 where x > 0)."""


class RreluWithNoiseBackward1(RreluWithNoiseBackward0):
    """Backward of in-place ``rrelu``."""


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False) -> Tensor:
    """Randomised leaky ReLU: ``x`` for x > 0, else ``x`` times a slope drawn uniformly from
    ``[lower, upper]`` per element (in evaluation: ``(lower + upper) / 2``)."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if inplace:
        return _inplace(input, _rrelu, lower, upper, training, RreluWithNoiseBackward1)
    return _rrelu(input, lower, upper, training, RreluWithNoiseBackward0)


def _rrelu(input, lower, upper, training, node_class):
    xd = input._data
    xp = xp_of(xd)
    if not training:
        slope = (lower + upper) / 2
    elif xp is np:
        slope = _random.rng().uniform(lower, upper, xd.shape).astype(xd.dtype)
    else:
        slope = xp.random.uniform(lower, upper, xd.shape).astype(xd.dtype)
    factor = xp.where(xd > 0, 1, slope).astype(xd.dtype)
    return _apply_mask(input, factor, node_class)
