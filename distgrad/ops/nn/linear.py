"""``linear`` (y = x @ W.T + b) and ``bilinear`` as single fused nodes."""
from __future__ import annotations

from ... import _backend
from ...autograd.graph import Node, grad_destination
from ...tensor import Tensor, _from_node
from .._util import _state, c_type_name, check_devices, sum_leading, unbroadcast
from ._util import check_tensor, dtype_kind_name

_wrap = Tensor._wrap


class LinearBackward0(Node):
    """Backward of ``x @ W.T + b``: dx = g @ W, dW = g.T @ x, db = g.sum(0); dW and db go
    straight into the parameters' preallocated gradient storage when they have one."""

    def backward(self, g):
        x, w = self.saved_tensors
        nexts = self.next_functions
        xd, wd = x._data, w._data
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if nexts[0] is not None:
            gx = g2 @ wd
            if xd.ndim != 2:
                gx = gx.reshape(xd.shape)
        if nexts[1] is not None:
            x2 = xd if xd.ndim == 2 else xd.reshape(-1, xd.shape[-1])
            out = grad_destination(nexts[1], wd.shape, g2.dtype)
            if out is None:
                gw = g2.T @ x2
            else:
                gw = _backend.get_array_module(g2).matmul(g2.T, x2, out=out)
        if len(nexts) == 3 and nexts[2] is not None:
            out = grad_destination(nexts[2], (g2.shape[1],), g2.dtype)
            gb = sum_leading(g2, out=out)
            if out is None:
                gb = unbroadcast(gb, self.bias_shape)
        return (gx, gw, gb) if len(nexts) == 3 else (gx, gw)


def linear(input, weight, bias=None) -> Tensor:
    """``input @ weight.T + bias`` for input ``(*, in_features)`` and weight
    ``(out_features, in_features)``; one autograd node."""
    check_tensor(input, "input", "linear")
    check_tensor(weight, "weight", "linear")
    xd, wd = input._data, weight._data
    if wd.ndim != 2 or xd.ndim == 0:
        if wd.ndim == 1 and xd.ndim >= 1:  # PyTorch allows a 1-D weight: x @ w
            out = input.matmul(weight)
            return out if bias is None else out + bias
        raise RuntimeError(f"linear(): expected a 2-D weight and an input with at least one "
                           f"dimension, got weight of size {list(wd.shape)} and input of size "
                           f"{list(xd.shape)}")
    in_f = xd.shape[-1]
    if in_f != wd.shape[1]:
        rows = xd.size // in_f if in_f else (xd.shape[0] if xd.ndim > 1 else 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{in_f} and "
                           f"{wd.shape[1]}x{wd.shape[0]})")
    if xd.dtype != wd.dtype:
        if bias is not None:  # PyTorch's addmm message
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{dtype_kind_name(xd.dtype)} and {dtype_kind_name(wd.dtype)}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{c_type_name(xd.dtype)} != {c_type_name(wd.dtype)}")
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, in_f)
    try:
        out = x2 @ wd.T
    except (TypeError, ValueError):  # CuPy's errors for arrays on different devices
        check_devices(input, weight)
        raise
    if bias is not None:
        bd = bias._data
        if bd.dtype != xd.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{dtype_kind_name(bd.dtype)} and {dtype_kind_name(wd.dtype)}")
        try:
            out += bd
        except (TypeError, ValueError):
            check_devices(input, bias)
            raise RuntimeError(f"The size of tensor a ({out.shape[-1]}) must match the size of "
                               f"tensor b ({bd.shape[-1] if bd.ndim else 1}) at non-singleton "
                               f"dimension 1") from None
    if xd.ndim != 2:
        out = out.reshape(xd.shape[:-1] + (wd.shape[0],))
    if _state.enabled and (input._requires_grad or weight._requires_grad
                           or (bias is not None and bias._requires_grad)):
        if bias is None:
            node = LinearBackward0((input, weight))
        else:
            node = LinearBackward0((input, weight, bias))
            node.bias_shape = bias._data.shape
        node.save(input, weight)
        return _from_node(out, node)
    return _wrap(out)


def _check_bilinear(input1, input2, weight, bias):
    """PyTorch's shape checks of ``bilinear``."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for i, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{a} and {b}")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): expected a 3-D weight, got weight of size "
                           f"{list(weight.shape)}")
    for name, size, expected in (("input1", input1.shape[-1], weight.shape[1]),
                                 ("input2", input2.shape[-1], weight.shape[2]),
                                 ("bias", None if bias is None else bias.shape[-1],
                                  weight.shape[0])):
        if size is not None and size != expected:
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got {size} "
                               f"but expected {expected}")


def bilinear(input1, input2, weight, bias=None) -> Tensor:
    """``y_k = x1 @ W_k @ x2 + b_k`` for inputs ``(*, in1)``, ``(*, in2)`` and weight
    ``(out, in1, in2)`` (composed of engine ops)."""
    _check_bilinear(input1, input2, weight, bias)
    # (N, in1) x (out, in1, in2) -> (N, out, in2), then contract with x2.
    t = (input1.unsqueeze(-2).unsqueeze(-2) @ weight).squeeze(-2)     # (..., out, in2)
    out = (t * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias
