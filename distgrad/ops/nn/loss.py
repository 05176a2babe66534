"""Losses, each one fused node: cross_entropy (class indices or probabilities, weights,
ignore_index, label smoothing), nll_loss, mse/l1/smooth_l1/huber, binary_cross_entropy (with
and without logits), kl_div, and a few margin losses composed of engine ops."""
from __future__ import annotations

import warnings

import numpy as np

from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state, check_devices, unbroadcast
from .activation import log_softmax_array
from ._util import check_reduction, check_tensor, size_str, xp_of

_wrap = Tensor._wrap


def _nan_mean(loss):
    if loss.size == 0:
        return xp_of(loss).asarray(np.nan, dtype=loss.dtype)
    return loss.mean()


# --------------------------------------------------------------------------------------------
# cross entropy and nll
# --------------------------------------------------------------------------------------------
def _class_layout(x, name):
    """``x`` as ``(M, C)`` rows (class dim last) and a function mapping rows back."""
    if x.ndim == 2:
        return x, _same_rows
    if x.ndim == 1:
        return x.reshape(1, -1), lambda r: r.reshape(x.shape)
    xp = xp_of(x)
    C = x.shape[1]
    moved = xp.moveaxis(x, 1, -1)
    moved_shape = moved.shape

    def back(r):
        return xp.moveaxis(r.reshape(moved_shape), -1, 1)
    return moved.reshape(-1, C), back


def _same_rows(r):
    return r


def _check_index_target(input_shape, target, fn):
    td = target._data
    nd, tnd = len(input_shape), td.ndim
    if (nd <= 2 and tnd > 1) or (nd == 1 and tnd != 0):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if nd == 2 and tnd == 1 and td.shape[0] != input_shape[0]:
        raise ValueError(f"Expected input batch_size ({input_shape[0]}) to match target "
                         f"batch_size ({td.shape[0]}).")
    if nd > 2:
        expected = (input_shape[0],) + tuple(input_shape[2:])
        if tuple(td.shape) != expected:
            raise RuntimeError(f"Expected target size {list(expected)}, got {list(td.shape)}")
    if td.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {_kind(td.dtype)}")


def _kind(dtype):
    from ._util import dtype_kind_name
    return dtype_kind_name(dtype)


def _check_weight(weight, C, input):
    if weight is None:
        return None
    wd = weight._data
    if type(wd) is not type(input._data):
        check_devices(input, weight)
    if wd.ndim != 1 or wd.shape[0] != C:
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no "
                           f"classes but got weight tensor of shape: {list(wd.shape)}")
    return wd


def _targets(t, C, ignore_index):
    """Flat targets, the valid mask (None when all are valid) and safe (in-range) targets."""
    if t.ndim != 1:
        t = t.reshape(-1)
    if t.size == 0:
        return t, None, t
    if not 0 <= ignore_index < C and int(t.view(f"u{t.itemsize}").max()) < C:
        return t, None, t   # the common case in one reduction: as unsigned, negatives are huge
    lo, hi = int(t.min()), int(t.max())
    if 0 <= lo and hi < C and not lo <= ignore_index <= hi:
        return t, None, t                      # the common case: nothing ignored, all in range
    valid = t != ignore_index
    if bool(valid.all()):
        if 0 <= lo and hi < C:
            return t, None, t
        raise IndexError(f"Target {lo if lo < 0 else hi} is out of bounds.")
    tv = t[valid]
    if tv.size:
        lo, hi = int(tv.min()), int(tv.max())
        if lo < 0 or hi >= C:
            raise IndexError(f"Target {lo if lo < 0 else hi} is out of bounds.")
    return t, valid, xp_of(t).where(valid, t, 0)


class CrossEntropyLossBackward0(Node):
    """Gradient of cross entropy w.r.t. the logits: ``(softmax * sum(q) - q) * scale`` where
    ``q`` is the (weighted, smoothed) target distribution of each row."""

    def backward(self, g):
        logp = self.logp
        if logp is None:
            from ...autograd.graph import FREED_MESSAGE
            raise RuntimeError(FREED_MESSAGE)
        xp = xp_of(logp)
        M, C = logp.shape
        eps, red = self.label_smoothing, self.reduction
        # per-row scale of the incoming gradient
        if red == "none":
            s = g.reshape(-1)
        elif red == "mean":
            if isinstance(self.denom, int) and self.denom:
                s = g / self.denom
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    s = g / self.denom
        else:
            s = g
        grad = xp.exp(logp)
        if self.probs is not None:
            q = self.probs                       # (M, C): smoothed, weighted target rows
            qsum = q.sum(axis=1, keepdims=True)
            grad *= qsum
            grad -= q
        else:
            t, valid, wt, w, rows = self.safe_t, self.valid, self.wt, self.weight, self.rows
            if w is None and eps == 0.0 and valid is None:
                grad[rows, t] -= 1
            else:
                # q = (1-eps) * wt_i * onehot + (eps/C) * valid_i * w
                if wt is None:
                    wt = xp.ones(M, dtype=grad.dtype)
                a = (1 - eps) * wt
                if eps:
                    vmask = (valid.astype(grad.dtype) if valid is not None
                             else xp.ones(M, dtype=grad.dtype))
                    wsum = C if w is None else w.sum()
                    a = a + (eps / C) * wsum * vmask
                    grad *= a[:, None]
                    wrow = (w if w is not None else xp.ones(C, dtype=grad.dtype))
                    grad -= (eps / C) * vmask[:, None] * wrow[None, :]
                else:
                    grad *= a[:, None]
                grad[rows, t] -= (1 - eps) * wt
        if red == "none":
            grad *= s[:, None]
        else:
            grad *= s
        if self.valid is not None:          # ignored rows get exactly zero (even if s is nan)
            grad[~self.valid] = 0
        gx = self.back(grad)
        if len(self.next_functions) == 2 and self.next_functions[1] is not None:
            # gradient w.r.t. probability targets: -(1-eps) * w_c * logp * scale
            gt = -(1 - eps) * logp
            if self.weight is not None:
                gt = gt * self.weight
            gt = gt * (s[:, None] if red == "none" else s)
            return gx, self.back(gt)
        return (gx,) if len(self.next_functions) == 1 else (gx, None)

    def release(self):
        """Drop the saved tensors and log-probabilities (after backward without retain_graph)."""
        super().release()
        self.logp = None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0) -> Tensor:
    """Cross entropy of logits ``input`` ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)`` against class
    indices ``(N, d1, ...)`` or class probabilities (same shape as ``input``); one fused node."""
    check_tensor(input, "input", "cross_entropy")
    check_tensor(target, "target", "cross_entropy")
    reduction = check_reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    xd, td = input._data, target._data
    if xd.dtype.kind != "f":
        raise RuntimeError(f'"log_softmax_lastdim_kernel_impl" not implemented for '
                           f"'{str(xd.dtype).capitalize()}'")
    if xd.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least one dimension")
    C = xd.shape[0] if xd.ndim == 1 else xd.shape[1]
    wd = _check_weight(weight, C, input)
    x2, back = _class_layout(xd, "cross_entropy")
    M = x2.shape[0]
    logp = log_softmax_array(x2, 1)
    eps = float(label_smoothing)
    probs = None
    safe_t = valid = wt = rows = None
    if td.dtype.kind == "f" and td.shape == xd.shape:
        if td.dtype != xd.dtype:  # PyTorch promotes (float32 logits, float64 targets: float64)
            common = np.promote_types(xd.dtype, td.dtype)
            return cross_entropy(input.to(common), target.to(common), weight, None, ignore_index,
                                 None, reduction, label_smoothing)
        t2, _ = _class_layout(td, "cross_entropy")
        probs = t2 * (1 - eps) + eps / C if eps else t2
        if wd is not None:
            probs = probs * wd
        loglik = (logp * probs).sum(axis=1)
        denom = M
    else:
        _check_index_target(xd.shape, target, "cross_entropy")
        t, valid, safe_t = _targets(td, C, ignore_index)
        rows = xp_of(xd).arange(M)
        loglik = logp[rows, safe_t]
        if wd is None:
            wt = valid.astype(xd.dtype) if valid is not None else None
        else:
            wt = wd[safe_t]
            if valid is not None:
                wt = wt * valid
        if wt is not None:
            loglik = loglik * wt
        if eps:
            smooth = logp.sum(axis=1) if wd is None else logp @ wd
            if valid is not None:
                smooth = smooth * valid
            loglik = (1 - eps) * loglik + (eps / C) * smooth
        denom = wt.sum() if wt is not None else M
    # loglik is minus the loss of each row: negating after the reduction (exact) saves an array op
    if reduction == "none":
        out = (-loglik).reshape(td.shape if probs is None else
                                (xd.shape[:1] + xd.shape[2:] if xd.ndim > 1 else ()))
    elif reduction == "sum":
        out = -loglik.sum()
    elif isinstance(denom, int) and denom:
        out = -loglik.sum() / denom
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = -loglik.sum() / denom if M else -loglik.sum() * np.nan
    if out.dtype != xd.dtype:
        out = out.astype(xd.dtype)
    target_grad = probs is not None and target._requires_grad
    if _state.enabled and (input._requires_grad or target_grad):
        node = CrossEntropyLossBackward0((input, target) if target_grad else (input,))
        node.logp, node.back, node.reduction = logp, back, reduction
        node.label_smoothing, node.probs, node.weight = eps, probs, wd
        node.safe_t, node.valid, node.wt, node.denom, node.rows = safe_t, valid, wt, denom, rows
        return _from_node(out, node)
    return _wrap(out)


class NllLossBackward0(Node):
    """Backward of ``nll_loss``."""

    def backward(self, g):
        xp = xp_of(g)
        M, C = self.rows_shape
        grad = xp.zeros((M, C), dtype=g.dtype)
        if self.reduction == "none":
            s = g.reshape(-1)
        elif self.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                s = g / self.denom
        else:
            s = g
        rows, t, wt = xp.arange(M), self.safe_t, self.wt
        if self.valid is not None:          # ignored rows get exactly zero (even if s is nan)
            rows, t, wt = rows[self.valid], t[self.valid], wt[self.valid]
        grad[rows, t] = -wt * s if self.reduction != "none" else -wt * s[rows]
        return (self.back(grad),)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean") -> Tensor:
    """Negative log likelihood of log-probabilities ``input`` ``(N, C)``/``(N, C, d...)``/``(C,)``
    at class indices ``target``."""
    check_tensor(input, "input", "nll_loss")
    check_tensor(target, "target", "nll_loss")
    reduction = check_reduction(reduction, size_average, reduce)
    xd, td = input._data, target._data
    if xd.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    C = xd.shape[0] if xd.ndim == 1 else xd.shape[1]
    if xd.ndim >= 2 and td.ndim >= 1 and td.shape[0] != xd.shape[0]:
        raise ValueError(f"Expected input batch_size ({xd.shape[0]}) to match target batch_size "
                         f"({td.shape[0]}).")
    _check_index_target(xd.shape, target, "nll_loss")
    wd = _check_weight(weight, C, input)
    x2, back = _class_layout(xd, "nll_loss")
    M = x2.shape[0]
    xp = xp_of(xd)
    t, valid, safe_t = _targets(td, C, ignore_index)
    if wd is None:
        wt = valid.astype(xd.dtype) if valid is not None else xp.ones(M, dtype=xd.dtype)
    else:
        wt = wd[safe_t]
        if valid is not None:
            wt = wt * valid
    per_row = -x2[xp.arange(M), safe_t] * wt
    denom = wt.sum() if (wd is not None or valid is not None) else M
    if reduction == "none":
        out = per_row.reshape(td.shape)
    elif reduction == "sum":
        out = per_row.sum()
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = per_row.sum() / denom if M else per_row.sum() * np.nan
    if out.dtype != xd.dtype:
        out = out.astype(xd.dtype)
    if _state.enabled and input._requires_grad:
        node = NllLossBackward0((input,))
        node.rows_shape, node.back, node.reduction = (M, C), back, reduction
        node.safe_t, node.wt, node.denom, node.valid = safe_t, wt, denom, valid
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# regression losses
# --------------------------------------------------------------------------------------------
def _warn_size(input, target, stacklevel=4):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({size_str(target.shape)}) that is different to the "
                      f"input size ({size_str(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=stacklevel)


class PointwiseLossBackward(Node):
    """Backward of ``reduce(f(input - target))``: ``d = f'(diff)`` goes to input, ``-d`` to
    target, reduced to their shapes."""

    def backward(self, g):
        d = self.derivative(self.diff)
        if self.reduction == "none":
            d *= g
        else:
            d *= (g / self.count) if self.reduction == "mean" else g
        ni, nt = self.next_functions
        gi = unbroadcast(d, self.shapes[0]) if ni is not None else None
        gt = unbroadcast(-d, self.shapes[1]) if nt is not None else None
        return gi, gt

    def name(self):
        return self.op_name

    def release(self):
        """Drop the saved tensors and the difference (after backward without retain_graph)."""
        super().release()
        self.diff = None


def _pointwise_loss(input, target, reduction, value_fn, derivative, op_name):
    xd, td = input._data, target._data
    try:
        diff = xd - td
    except ValueError:
        check_devices(input, target)
        from .._util import broadcast_error
        raise broadcast_error(xd.shape, td.shape) from None
    except TypeError:
        check_devices(input, target)
        raise
    loss = value_fn(diff)
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum()
    else:
        out = _nan_mean(loss)
    if _state.enabled and (input._requires_grad or target._requires_grad):
        node = PointwiseLossBackward((input, target))
        node.diff, node.derivative, node.reduction = diff, derivative, reduction
        node.count, node.shapes, node.op_name = diff.size, (xd.shape, td.shape), op_name
        return _from_node(out, node)
    return _wrap(out)


def _weighted(loss_fn, input, target, reduction, weight):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss_fn(input, target, reduction="none") * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",
             weight=None) -> Tensor:
    """Mean squared error (warns, like PyTorch, when the shapes differ and broadcast)."""
    check_tensor(input, "input", "mse_loss")
    check_tensor(target, "target", "mse_loss")
    _warn_size(input, target)
    reduction = check_reduction(reduction, size_average, reduce)
    if weight is not None:
        return _weighted(mse_loss, input, target, reduction, weight)
    return _pointwise_loss(input, target, reduction, lambda d: d * d, lambda d: 2 * d,
                           "MseLossBackward0")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
            weight=None) -> Tensor:
    """Mean absolute error."""
    check_tensor(input, "input", "l1_loss")
    check_tensor(target, "target", "l1_loss")
    _warn_size(input, target)
    reduction = check_reduction(reduction, size_average, reduce)
    if weight is not None:
        return _weighted(l1_loss, input, target, reduction, weight)
    return _pointwise_loss(input, target, reduction, lambda d: xp_of(d).abs(d),
                           lambda d: xp_of(d).sign(d), "L1LossBackward0")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0) -> Tensor:
    """``0.5 d**2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta``."""
    _warn_size(input, target)
    reduction = check_reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def value(d):
        xp = xp_of(d)
        a = xp.abs(d)
        return xp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)

    def deriv(d):
        xp = xp_of(d)
        return xp.clip(d / beta, -1, 1)
    return _pointwise_loss(input, target, reduction, value, deriv, "SmoothL1LossBackward0")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None) -> Tensor:
    """``0.5 d**2`` for ``|d| < delta``, else ``delta * (|d| - 0.5 delta)``."""
    _warn_size(input, target)
    reduction = check_reduction(reduction)
    if weight is not None:
        return _weighted(lambda i, t, reduction: huber_loss(i, t, reduction, delta), input,
                         target, reduction, weight)

    def value(d):
        xp = xp_of(d)
        a = xp.abs(d)
        return xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    def deriv(d):
        return xp_of(d).clip(d, -delta, delta)
    return _pointwise_loss(input, target, reduction, value, deriv, "HuberLossBackward0")


# --------------------------------------------------------------------------------------------
# binary cross entropy
# --------------------------------------------------------------------------------------------
class BinaryCrossEntropyBackward0(Node):
    """Backward of ``binary_cross_entropy``."""

    def backward(self, g):
        x, t = self.saved_tensors
        xd, td = x._data, t._data
        xp = xp_of(xd)
        w = self.weight
        scale = g if self.reduction != "mean" else g / max(xd.size, 1)
        ni, nt = self.next_functions
        gi = gt = None
        if ni is not None:
            gi = (xd - td) / xp.maximum((1 - xd) * xd, 1e-12)
            gi *= scale
            if w is not None:
                gi = gi * w
            gi = gi.astype(xd.dtype, copy=False)
        if nt is not None:
            gt = -(xp.log(xd) - xp.log1p(-xd)) * scale
            if w is not None:
                gt = gt * w
            gt = gt.astype(td.dtype, copy=False)
        return gi, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean") -> Tensor:
    """``-w (t log x + (1 - t) log(1 - x))`` with the logs clamped to >= -100 (as PyTorch)."""
    check_tensor(input, "input", "binary_cross_entropy")
    check_tensor(target, "target", "binary_cross_entropy")
    reduction = check_reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({size_str(target.shape)}) that is different to "
                         f"the input size ({size_str(input.shape)}) is deprecated. Please ensure "
                         "they have the same size.")
    xd, td = input._data, target._data
    if type(xd) is not type(td) or weight is not None:
        check_devices(input, target, weight)
    xp = xp_of(xd)
    if xd.size and (bool((xd < 0).any()) or bool((xd > 1).any())):
        raise RuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(xd), -100)
        log_1mx = xp.maximum(xp.log1p(-xd), -100)
    loss = -(td * log_x + (1 - td) * log_1mx)
    wd = None
    if weight is not None:
        wd = weight._data
        loss = loss * wd
        if loss.shape != xd.shape:
            raise RuntimeError(f"The size of tensor a ({xd.shape[-1]}) must match the size of "
                               f"tensor b ({wd.shape[-1]}) at non-singleton dimension")
    loss = loss.astype(xd.dtype, copy=False)
    out = loss if reduction == "none" else (loss.sum() if reduction == "sum" else _nan_mean(loss))
    if _state.enabled and (input._requires_grad or target._requires_grad):
        node = BinaryCrossEntropyBackward0((input, target))
        node.save(input, target)
        node.weight, node.reduction = wd, reduction
        return _from_node(out, node)
    return _wrap(out)


class BinaryCrossEntropyWithLogitsBackward0(Node):
    """Backward of ``binary_cross_entropy_with_logits``."""

    def backward(self, g):
        x, t = self.saved_tensors
        xd, td = x._data, t._data
        xp = xp_of(xd)
        w, pw = self.weight, self.pos_weight
        scale = g if self.reduction != "mean" else g / max(xd.size, 1)
        ni, nt = self.next_functions
        gi = gt = None
        e = xp.exp(-xp.abs(xd))
        sig = xp.where(xd >= 0, 1 / (1 + e), e / (1 + e))       # sigmoid(x)
        if ni is not None:
            if pw is None:
                gi = sig - td
            else:
                lw = (pw - 1) * td + 1
                gi = (1 - td) - lw * (1 - sig)
            gi = gi * scale
            if w is not None:
                gi = gi * w
            gi = unbroadcast(gi, xd.shape).astype(xd.dtype, copy=False)
        if nt is not None:
            gt = -xd
            if pw is not None:
                log_sig = xp.minimum(xd, 0) - xp.log1p(e)
                gt = gt - (pw - 1) * log_sig
            gt = gt * scale
            if w is not None:
                gt = gt * w
            gt = unbroadcast(gt, td.shape).astype(td.dtype, copy=False)
        return gi, gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from the logits;
    ``pos_weight`` weighs the positive term (broadcast over the class dimension, last)."""
    check_tensor(input, "input", "binary_cross_entropy_with_logits")
    check_tensor(target, "target", "binary_cross_entropy_with_logits")
    reduction = check_reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({size_str(target.shape)}) must be the same as input size "
                         f"({size_str(input.shape)})")
    xd, td = input._data, target._data
    if type(xd) is not type(td) or weight is not None or pos_weight is not None:
        check_devices(input, target, weight, pos_weight)
    xp = xp_of(xd)
    softplus_neg = xp.maximum(-xd, 0) + xp.log1p(xp.exp(-xp.abs(xd)))   # log(1 + exp(-x))
    pw = None if pos_weight is None else pos_weight._data
    wd = None if weight is None else weight._data
    if pw is None:
        loss = (1 - td) * xd + softplus_neg
    else:
        loss = (1 - td) * xd + ((pw - 1) * td + 1) * softplus_neg
    if wd is not None:
        loss = loss * wd
    loss = loss.astype(xd.dtype, copy=False)
    out = loss if reduction == "none" else (loss.sum() if reduction == "sum" else _nan_mean(loss))
    if _state.enabled and (input._requires_grad or target._requires_grad):
        node = BinaryCrossEntropyWithLogitsBackward0((input, target))
        node.save(input, target)
        node.weight, node.pos_weight, node.reduction = wd, pw, reduction
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# composed losses
# --------------------------------------------------------------------------------------------
def _finish(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()


class TargetTermBackward(Node):
    """Backward of a loss term that is a function of the target alone: the gradient times
    ``derivative(target)`` (written with tensor ops, so double backward works too); named as
    PyTorch's node for the same term."""

    def backward(self, g):
        (t,) = self.saved_tensors
        return (g * _quiet(self.derivative, _wrap(t._data))._data,)

    def graph_backward(self, g):
        (t,) = self.saved_tensors
        return (g * _quiet(self.derivative, t),)

    def name(self):
        return self.op_name


def _quiet(fn, arg):
    """``fn(arg)`` without NumPy's warnings for log(0), 0/0 and the like (their inf and NaN are
    the results PyTorch gives)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return fn(arg)


def _target_term(target, value, derivative, op_name):
    """``value(target's array)`` as a tensor whose gradient is ``derivative(target)``."""
    out = _quiet(value, target._data)
    if _state.enabled and target._requires_grad:
        node = TargetTermBackward((target,))
        node.save(target)
        node.derivative, node.op_name = derivative, op_name
        return _from_node(out, node)
    return _wrap(out)


def _xlogx(t):
    """PyTorch's ``xlogy(t, t)``: 0 where t is 0, NaN for negative t."""
    xp = xp_of(t)
    return xp.where(t == 0, 0, t * xp.log(t))


def _xlogx_derivative(t):
    """The derivative PyTorch's ``xlogy(t, t)`` backward gives: ``log(t) + t / t`` (NaN at 0)."""
    return t.log() + t / t


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",
           log_target=False) -> Tensor:
    """``target * (log(target) - input)`` (``input`` holds log-probabilities; so does
    ``target`` with ``log_target``), computed as PyTorch does: ``xlogy(target, target) - target
    * input``, so a zero target adds no loss and has a NaN gradient. ``reduction='batchmean'``
    divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = check_reduction(reduction, size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if input._data.dtype.kind != "f" or target._data.dtype.kind != "f":
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _target_term(target, _xlogx, _xlogx_derivative, "XlogyBackward0") - target * input
    if reduction == "batchmean":
        loss = loss.sum()
        return loss / input.shape[0] if input.ndim else loss
    return _finish(loss, check_reduction(reduction))


def _stirling(t):
    """The Stirling approximation of ``log(t!)`` for t > 1, else 0 (NaN stays NaN)."""
    xp = xp_of(t)
    return xp.where(t <= 1, 0, t * xp.log(t) - t + 0.5 * xp.log(2 * np.pi * t))


def _stirling_derivative(t):
    """The derivative PyTorch's backward gives for ``_stirling``: ``log(t) + 1/(2t)`` for t > 1,
    0 for 0 < t <= 1, NaN for t <= 0 (its masked-out formula is still evaluated there)."""
    return (t.log() + t / t - 1 + 0.5 / t) * (t > 1)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean") -> Tensor:
    """Negative log-likelihood of ``target`` under a Poisson distribution of rate ``input``
    (``exp(input)`` with ``log_input``); ``full`` adds the Stirling term of ``log(target!)``."""
    reduction = check_reduction(reduction, size_average, reduce)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        loss = loss + _target_term(target, _stirling, _stirling_derivative, "MaskedFillBackward0")
    return _finish(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean") -> Tensor:
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input``, variance
    ``var``."""
    reduction = check_reduction(reduction)
    if var.ndim == input.ndim - 1 or (var.ndim == input.ndim and var.shape[-1] == 1
                                      and input.shape[-1] != 1):
        if var.ndim == input.ndim - 1:
            var = var.unsqueeze(-1)
    if bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    var = var.clamp(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _finish(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = check_reduction(reduction, size_average, reduce)
    return _finish((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean") -> Tensor:
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1."""
    reduction = check_reduction(reduction, size_average, reduce)
    td = target._data
    pos = input * _wrap((td == 1).astype(input.dtype))
    neg = (margin - input).clamp(min=0) * _wrap((td == -1).astype(input.dtype))
    return _finish(pos + neg, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """``log(1 + exp(-target * input))``."""
    reduction = check_reduction(reduction, size_average, reduce)
    from .activation import softplus
    return _finish(softplus(-target * input), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean") -> Tensor:
    """``1 - cos(x1, x2)`` for ``target`` 1, ``max(0, cos(x1, x2) - margin)`` for -1."""
    reduction = check_reduction(reduction, size_average, reduce)
    from .distance import cosine_similarity
    cos = cosine_similarity(input1, input2, dim=-1)
    td = target._data
    pos = (1 - cos) * _wrap((td == 1).astype(cos.dtype))
    neg = (cos - margin).clamp(min=0) * _wrap((td == -1).astype(cos.dtype))
    return _finish(pos + neg, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean") -> Tensor:
    """``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` with the p-norm distance."""
    reduction = check_reduction(reduction, size_average, reduce)
    from .distance import pairwise_distance
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        from ..elementwise import minimum
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _finish((d_pos - d_neg + margin).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean") -> Tensor:
    """``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` with any distance
    ``distance_function(x, y)`` (default: the Euclidean ``pairwise_distance``)."""
    reduction = check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater "
                         f"than 0, got {margin} instead")
    if distance_function is None:
        from .distance import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        from ..elementwise import minimum
        d_neg = minimum(d_neg, distance_function(positive, negative))
    return _finish((d_pos - d_neg + margin).clamp(min=0), reduction)


def _class_rows(input, fn):
    """``input`` as ``(N, C)`` rows, after PyTorch's shape check of the margin losses over
    classes."""
    if input.ndim == 0 or input.ndim > 2:
        raise RuntimeError(f"{fn}: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    return input if input.ndim == 2 else input.unsqueeze(0)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C`` per sample
    (times ``weight[y]``)."""
    reduction = check_reduction(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    rows = _class_rows(input, "multi_margin_loss")
    n, c = rows.shape
    td = target._data
    if td.size != n or td.ndim > 1:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{n}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    y = td.reshape(n, 1)
    other = _wrap((xp_of(td).arange(c) != y).astype(rows.dtype))  # 0 at the target class
    z = (margin - rows.gather(1, _wrap(y)) + rows).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[_wrap(y)]
    loss = (z * other).sum(1) / c
    return _finish(loss if input.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction="mean") -> Tensor:
    """Multi-label hinge loss: ``sum_{j in y, i not in y} max(0, 1 - (x[j] - x[i])) / C`` per
    sample, where ``y`` is the row of ``target`` up to its first -1."""
    reduction = check_reduction(reduction, size_average, reduce)
    rows = _class_rows(input, "multilabel_margin_loss")
    n, c = rows.shape
    if target.shape != input.shape:
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: "
                           f"{list(target.shape)} for input of size: {list(input.shape)}")
    td = target._data.reshape(n, c)
    xp = xp_of(td)
    listed = xp.cumprod(td >= 0, axis=1).astype(bool)  # the entries before the first -1
    # how often each class is listed: (n, listed entry, class) matches, summed over the entries
    counts = ((td[:, :, None] == xp.arange(c)) & listed[:, :, None]).sum(1).astype(rows.dtype)
    pairs = _wrap(counts[:, :, None] * (counts == 0)[:, None, :])  # (j listed, i not listed)
    margins = (1 - rows.unsqueeze(2) + rows.unsqueeze(1)).clamp(min=0)
    loss = (margins * pairs).sum((1, 2)) / c
    return _finish(loss if input.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean") -> Tensor:
    """Multi-label one-versus-all loss: the mean binary cross-entropy over the classes."""
    reduction = check_reduction(reduction, size_average, reduce)
    from .activation import logsigmoid
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(dim=-1) if input.ndim else loss
    return _finish(loss, reduction)
