"""Normalisation layers as single fused nodes: layer_norm, batch_norm, group_norm,
instance_norm (and rms_norm, local_response_norm composed of engine ops)."""
from __future__ import annotations

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_tensor, size_str, xp_of

_wrap = Tensor._wrap


class NormBackward(Node):
    """Backward of ``y = xhat * w + b`` with ``xhat = (x - mean) * rstd``.

    Statistics are over ``axes`` of ``x.reshape(stat_shape)``; ``w``/``b`` broadcast as
    ``param_shape`` against ``x``. With ``fixed`` statistics (batch norm in evaluation mode)
    the input gradient is simply ``g * w * rstd``.
    """

    def backward(self, g):
        xp = xp_of(g)
        nexts = self.next_functions
        xhat, rstd = self.xhat, self.rstd
        w = self.weight
        gx = gw = gb = None
        if nexts[0] is not None:
            gxh = g * w.reshape(self.param_shape) if w is not None else g
            if self.fixed:
                gx = gxh.reshape(self.stat_shape) * rstd
            else:
                gh = gxh.reshape(self.stat_shape)
                xh = xhat.reshape(self.stat_shape)
                m1 = gh.mean(axis=self.axes, keepdims=True)
                m2 = (gh * xh).mean(axis=self.axes, keepdims=True)
                gx = gh - m1
                gx -= xh * m2
                gx *= rstd
            gx = gx.reshape(g.shape)
        if len(nexts) > 1 and nexts[1] is not None:
            gw = (g * xhat).sum(axis=self.param_axes).reshape(self.weight_shape)
        if len(nexts) > 2 and nexts[2] is not None:
            gb = g.sum(axis=self.param_axes).reshape(self.bias_shape)
        del xp
        return (gx, gw, gb)[:len(nexts)]

    def name(self):
        return self.op_name

    def release(self):
        """Drop the saved tensors, ``xhat`` and ``rstd`` (after backward without retain_graph)."""
        super().release()
        self.xhat = self.rstd = None


def _normalize(input, weight, bias, stat_shape, axes, param_shape, eps, op_name,
               mean=None, var=None):
    """Shared forward: statistics over ``axes`` of ``stat_shape`` (or the given fixed ``mean``/
    ``var`` broadcastable to ``stat_shape``), then the affine transform."""
    xd = input._data
    xp = xp_of(xd)
    xs = xd.reshape(stat_shape)
    fixed = mean is not None
    if not fixed:
        mean = xs.mean(axis=axes, keepdims=True)
        xc = xs - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
    else:
        xc = xs - mean
    rstd = 1.0 / xp.sqrt(var + eps)
    rstd = rstd.astype(xd.dtype, copy=False)
    xhat = (xc * rstd).reshape(xd.shape)
    wd = None if weight is None else weight._data
    bd = None if bias is None else bias._data
    out = xhat * wd.reshape(param_shape) if wd is not None else xhat.copy()
    if bd is not None:
        out += bd.reshape(param_shape)
    out = out.astype(xd.dtype, copy=False)
    if _state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                           or (bias is not None and bias._requires_grad)):
        inputs = [input]
        if weight is not None or bias is not None:
            inputs.append(weight if weight is not None else _wrap(xp.ones(1, dtype=xd.dtype)))
        if bias is not None:
            inputs.append(bias)
        node = NormBackward(tuple(inputs))
        node.xhat, node.rstd, node.weight, node.fixed = xhat, rstd, wd, fixed
        node.stat_shape, node.axes, node.param_shape = stat_shape, axes, param_shape
        node.param_axes = tuple(i for i, s in enumerate(param_shape) if s == 1) \
            if len(param_shape) == xd.ndim else None
        node.weight_shape = None if wd is None else wd.shape
        node.bias_shape = None if bd is None else bd.shape
        node.op_name = op_name
        if node.param_axes is None:   # layer norm: params cover the trailing dims
            node.param_axes = tuple(range(xd.ndim - len(param_shape)))
        return _from_node(out, node), mean, var
    return _wrap(out), mean, var


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias``."""
    check_tensor(input, "input", "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    shape = input.shape
    if k == 0 or input.ndim < k or tuple(shape[-k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(str(s) for s in normalized_shape)}], but got "
                           f"input of size{list(shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(p.shape)} and normalized_shape = "
                               f"{list(normalized_shape)}")
    n = int(np.prod(normalized_shape))
    lead = shape[:input.ndim - k]
    stat_shape = (int(np.prod(lead)) if lead else 1, n)
    out, _, _ = _normalize(input, weight, bias, stat_shape, (1,), normalized_shape, eps,
                           "NativeLayerNormBackward0")
    return out


def _update_running(buf, momentum, value):
    if buf is None:
        return
    d = buf._data
    d *= 1 - momentum
    d += (momentum * value).astype(d.dtype, copy=False).reshape(d.shape)
    buf._version_counter[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5) -> Tensor:
    """Batch normalisation over all dims but the channel dim 1. In training, batch statistics
    are used and the running buffers are updated in place (unbiased variance); otherwise the
    running statistics are used."""
    check_tensor(input, "input", "batch_norm")
    xd = input._data
    if xd.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {xd.ndim}D input)")
    C = xd.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    N = xd.shape[0]
    spatial = xd.shape[2:]
    param_shape = (1, C) + (1,) * len(spatial)
    if training:
        count = xd.size // C if C else 0
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {size_str(xd.shape)}")
        # statistics over (N, *spatial) per channel: view as (N, C, S) and reduce (0, 2)
        stat_shape = (N, C, int(np.prod(spatial)) if spatial else 1)
        out, mean, var = _normalize(input, weight, bias, stat_shape, (0, 2), param_shape, eps,
                                    "NativeBatchNormBackward0")
        if momentum is None:
            momentum = 0.0
        _update_running(running_mean, momentum, mean)
        _update_running(running_var, momentum, var * (count / (count - 1)))
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    stat_shape = (N, C, int(np.prod(spatial)) if spatial else 1)
    rm = running_mean._data.reshape(1, C, 1).astype(xd.dtype, copy=False)
    rv = running_var._data.reshape(1, C, 1).astype(xd.dtype, copy=False)
    out, _, _ = _normalize(input, weight, bias, stat_shape, (0, 2), param_shape, eps,
                           "NativeBatchNormBackward0", mean=rm, var=rv)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial dims."""
    check_tensor(input, "input", "instance_norm")
    xd = input._data
    if xd.ndim < 3:
        raise ValueError(f"expected 3D or more input (got {xd.ndim}D input)")
    N, C = xd.shape[:2]
    S = int(np.prod(xd.shape[2:]))
    param_shape = (1, C) + (1,) * (xd.ndim - 2)
    if use_input_stats:
        if S <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {size_str(xd.shape)}")
        out, mean, var = _normalize(input, weight, bias, (N, C, S), (2,), param_shape, eps,
                                    "NativeBatchNormBackward0")
        if running_mean is not None:
            _update_running(running_mean, momentum, mean.mean(axis=0))
        if running_var is not None:
            _update_running(running_var, momentum, (var * (S / (S - 1))).mean(axis=0))
        return out
    rm = running_mean._data.reshape(1, C, 1).astype(xd.dtype, copy=False)
    rv = running_var._data.reshape(1, C, 1).astype(xd.dtype, copy=False)
    out, _, _ = _normalize(input, weight, bias, (N, C, S), (2,), param_shape, eps,
                           "NativeBatchNormBackward0", mean=rm, var=rv)
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Normalise groups of ``C // num_groups`` channels of each sample."""
    check_tensor(input, "input", "group_norm")
    xd = input._data
    if xd.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{xd.ndim}")
    N, C = xd.shape[:2]
    if C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(xd.shape)} and num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.numel() != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(p.shape)} and "
                               f"input of shape {list(xd.shape)}")
    param_shape = (1, C) + (1,) * (xd.ndim - 2)
    out, _, _ = _normalize(input, weight, bias, (N, num_groups, xd.size // max(N * num_groups, 1)),
                           (2,), param_shape, eps, "NativeGroupNormBackward0")
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None) -> Tensor:
    """``x / sqrt(mean(x**2 over normalized dims) + eps) * weight``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    dims = tuple(range(-len(normalized_shape), 0))
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    out = input * ((input * input).mean(dim=dims, keepdim=True) + eps) ** -0.5
    return out * weight if weight is not None else out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0) -> Tensor:
    """Divide by ``(k + alpha * mean of x**2 over size neighbouring channels) ** beta``."""
    from .padding import pad
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    C = input.shape[1]
    sq = pad(input * input, (0, 0) * (dim - 2) + (size // 2, (size - 1) // 2))
    acc = sq[:, 0:C]
    for i in range(1, size):
        acc = acc + sq[:, i:i + C]
    return input / (acc * (alpha / size) + k) ** beta
