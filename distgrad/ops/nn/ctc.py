"""The connectionist temporal classification loss (PyTorch's ``ctc_loss``), one fused node.

Each target ``l1 .. lS`` is extended to ``blank, l1, blank, l2, ..., lS, blank`` (positions
``s = 0 .. 2S``); an alignment moves, at each time step, from position ``s`` to ``s``, ``s + 1``
or (between different labels) ``s + 2``. The forward variables ``alpha[t, s]`` and the backward
variables ``beta[t, s]`` (both including the emission at ``t``) are computed in log space, one
Python step per time step, vectorised over the batch and the positions.
"""
from __future__ import annotations

import operator

import numpy as np

from ... import _backend
from ...autograd.graph import Node
from ...tensor import Tensor, _from_node
from .._util import _state
from ._util import check_reduction, dtype_kind_name, xp_of

_wrap = Tensor._wrap
_NEG_INF = -np.inf
_CHECKING = " (while checking arguments for ctc_loss_allocate_outputs)"


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------
def _invalid_arguments(*args):
    """PyTorch's TypeError for arguments that match no ``ctc_loss`` signature."""
    got = ", ".join(type(a).__name__ for a in args)
    return TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of "
        "ints target_lengths, int blank = 0, str reduction = 'mean', bool zero_infinity = False)"
        "\n * (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, "
        "int blank = 0, str reduction = 'mean', bool zero_infinity = False)")


def _is_int(v) -> bool:
    """Whether ``v`` passes for an int in PyTorch's int lists (bools do not)."""
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def _host_lengths(*args):
    """``input_lengths``, ``target_lengths`` and ``blank`` of ``ctc_loss``'s arguments ``args``
    as host int64 arrays and an int: both lengths tensors (of an integral dtype) or both
    sequences of ints, as PyTorch's overloads."""
    log_probs, targets, input_lengths, target_lengths, blank = args[:5]
    both_tensors = isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor)
    both_sequences = all(isinstance(v, (list, tuple)) and all(_is_int(i) for i in v)
                         for v in (input_lengths, target_lengths))
    if (not (both_tensors or both_sequences) or not _is_int(blank)
            or not isinstance(log_probs, Tensor) or not isinstance(targets, Tensor)):
        raise _invalid_arguments(*args)
    if not both_tensors:
        return (np.array([operator.index(i) for i in input_lengths], dtype=np.int64),
                np.array([operator.index(i) for i in target_lengths], dtype=np.int64),
                operator.index(blank))
    lengths = []
    for name, t in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if t._data.dtype.kind not in "iu":
            raise RuntimeError(f"{name} must be integral")
        lengths.append(_backend.to_device(t._data, _backend.CPU).astype(np.int64).reshape(-1))
    return lengths[0], lengths[1], operator.index(blank)


def _check_shapes(xd, td, blank):
    """PyTorch's checks of ``log_probs`` and ``targets``, in its order; ``(T, N, C)``."""
    if xd.ndim == 0:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if xd.dtype not in (np.float32, np.float64):
        op = "ctc_loss_cuda" if _backend.is_device_array(xd) else "ctc_loss_cpu"
        raise NotImplementedError(f'"{op}" not implemented for \'{dtype_kind_name(xd.dtype)}\'')
    if xd.size == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    ndim = xd.ndim if xd.ndim == 3 else xd.ndim + 1      # unbatched input gets a batch dim
    if ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {ndim}-dimensional tensor "
                           f"for argument #1 'log_probs'{_CHECKING}")
    if not 1 <= td.ndim <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {td.ndim}-dimensional tensor "
                           f"for argument #2 'targets'{_CHECKING}")
    T, C = xd.shape[0], xd.shape[-1]
    N = xd.shape[1] if xd.ndim == 3 else 1
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    return T, N, C


def _first_bad(values, bad):
    """The first of ``values`` where ``bad`` holds, as an int."""
    return int(values[int(np.argmax(bad))])


def _check_target_size(td, dim, expected, at_least=""):
    """PyTorch's check of the targets' size ``dim`` (exactly ``expected``, or at least it)."""
    got = td.shape[dim]
    if got < expected or (got > expected and not at_least):
        raise RuntimeError(f"Expected tensor to have size {at_least}{expected} at dimension "
                           f"{dim}, but got size {got} for argument #2 'targets'{_CHECKING}")


def _check_lengths(T, N, td, il, tl):
    """PyTorch's checks of the lengths against the shapes, in its order."""
    if il.size != N:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tl.size != N:
        raise RuntimeError("target_lengths must be of size batch_size")
    if (tl < 0).any():
        raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                           f"{_first_bad(tl, tl < 0)}{_CHECKING}")
    if td.ndim == 1:
        _check_target_size(td, 0, int(tl.sum()))
    else:
        _check_target_size(td, 0, N)
        _check_target_size(td, 1, int(tl.max()), "at least ")
    bad = (il < 0) | (il > T)
    if bad.any():
        v = _first_bad(il, bad)
        bound = "at least 0" if v < 0 else f"at most {T}"
        raise RuntimeError(f"Expected input_lengths to have value {bound}, but got value {v}"
                           f"{_CHECKING}")


def _labels(td, tl, blank, C):
    """The targets as host ``(N, max target length)`` labels (the blank past each length)."""
    t = _backend.to_device(td, _backend.CPU).astype(np.int64)   # PyTorch converts to Long
    S = int(tl.max())
    j = np.arange(S)
    used = j < tl[:, None]
    if t.ndim == 1:                                  # concatenated targets
        starts = np.cumsum(tl) - tl
        labels = t[np.where(used, starts[:, None] + j, 0)]
    else:
        labels = t[:, :S]
    labels = np.where(used, labels, blank)
    out_of_range = (labels < 0) | (labels >= C)
    if out_of_range.any():
        raise IndexError(f"Target {_first_bad(labels.reshape(-1), out_of_range.reshape(-1))} "
                         f"is out of bounds.")
    return labels


# --------------------------------------------------------------------------------------------
# the recursions
# --------------------------------------------------------------------------------------------
def _log_add(*terms):
    """``log(sum(exp(terms)))`` shifted by the terms' maximum (0 when all are -inf), as
    PyTorch's CTC kernels compute it."""
    xp = xp_of(terms[0])
    m = terms[0]
    for a in terms[1:]:
        m = xp.maximum(m, a)
    m = xp.where(m == _NEG_INF, 0, m)
    total = xp.exp(terms[0] - m)
    for a in terms[1:]:
        total += xp.exp(a - m)
    with np.errstate(divide="ignore"):              # log(0): no path, -inf
        return xp.log(total) + m


def _paths_into(prev, skip, reverse):
    """Log of the summed probability of the paths that reach each position from ``prev`` (the
    variables of the adjacent time step): from the same position, the neighbour and, where
    ``skip`` allows, the position two away (neighbours on the right when ``reverse``)."""
    xp = xp_of(prev)
    N, L = prev.shape
    pad = xp.full((N, 2), _NEG_INF, dtype=prev.dtype)
    if reverse:
        padded = xp.concatenate([prev, pad], axis=1)
        one, two = padded[:, 1:L + 1], padded[:, 2:]
    else:
        padded = xp.concatenate([pad, prev], axis=1)
        one, two = padded[:, 1:L + 1], padded[:, :L]
    return _log_add(prev, one, xp.where(skip, two, _NEG_INF))


def _alpha(lpe, skip_from_left):
    """The forward variables ``(T, N, L)`` (positions past a target's end are never read)."""
    xp = xp_of(lpe)
    alpha = xp.full(lpe.shape, _NEG_INF, dtype=lpe.dtype)
    alpha[0, :, :2] = lpe[0, :, :2]
    for t in range(1, lpe.shape[0]):
        alpha[t] = _paths_into(alpha[t - 1], skip_from_left, False) + lpe[t]
    return alpha


def _beta(lpe, skip_from_right, last, final):
    """The backward variables ``(T, N, L)``: the emissions at the last two positions at each
    sequence's last step ``last``, -inf past it and past the target's end."""
    xp = xp_of(lpe)
    T, N = lpe.shape[:2]
    init = xp.where(final, lpe[xp.maximum(last, 0), xp.arange(N)], _NEG_INF)
    beta = xp.full(lpe.shape, _NEG_INF, dtype=lpe.dtype)
    nxt = xp.full((N, lpe.shape[2]), _NEG_INF, dtype=lpe.dtype)
    for t in range(T - 1, -1, -1):
        cur = _paths_into(nxt, skip_from_right, True) + lpe[t]
        cur = xp.where((last == t)[:, None], init, xp.where((last > t)[:, None], cur, _NEG_INF))
        beta[t] = nxt = cur
    return beta


class CtcLossBackward0(Node):
    """Gradient of the CTC loss w.r.t. ``log_probs``, PyTorch's formula: at ``(t, c)``,
    ``exp(lp) - exp(logsumexp(alpha + beta over the positions of label c) + nll - lp)``, i.e.
    the gradient w.r.t. the inputs of a log_softmax that produced ``lp``; zero past each input
    length."""

    def backward(self, g):
        (x,) = self.saved_tensors
        lp = x._data if x._data.ndim == 3 else x._data[:, None]
        with _backend.on_device(_backend.device_of(lp)):
            return (self._grad(lp, g).reshape(x._data.shape),)

    def _grad(self, lp, g):
        xp = xp_of(lp)
        T, N, C = lp.shape
        lpe, alpha, nll, ext = self.lpe, self.alpha, self.nll, self.ext
        beta = _beta(lpe, self.skip_from_right, self.last, self.final)
        with np.errstate(invalid="ignore", over="ignore"):
            log_occupancy = alpha + beta - lpe + nll[:, None]
            if self.last_label_blank is not None:
                # PyTorch's last step writes the final blank's term, then overwrites it with the
                # last label's when that label is the blank itself
                b = self.last_label_blank
                log_occupancy[self.last[b], b, 2 * self.target_lengths[b]] = _NEG_INF
            cells = (xp.arange(T * N).reshape(T, N, 1) * C + ext).reshape(-1)
            occupancy = xp.bincount(cells, weights=xp.exp(log_occupancy).reshape(-1),
                                    minlength=T * N * C).reshape(T, N, C)
            grad = xp.exp(lp) - occupancy.astype(lp.dtype, copy=False)
            # where PyTorch's exp(res + nll - lp) meets inf - inf
            grad = xp.where((lp == _NEG_INF) | ~xp.isfinite(nll)[:, None], np.nan, grad)
            grad *= self._scale(g)[:, None]
        keep = xp.arange(T)[:, None] <= self.last
        if self.zero_infinity:
            keep &= nll != np.inf
        return xp.where(keep[:, :, None], grad, 0).astype(lp.dtype, copy=False)

    def _scale(self, g):
        """The incoming gradient of each sample's loss."""
        g = g.reshape(-1)
        if self.reduction == "mean":
            return g / self.last.shape[0] / self.length_divisor
        return g

    def release(self):
        """Drop the saved tensors and recursion arrays (after backward without retain_graph)."""
        super().release()
        self.lpe = self.alpha = None


# --------------------------------------------------------------------------------------------
# the function
# --------------------------------------------------------------------------------------------
def _extended(labels, il, tl, blank):
    """Host arrays of the extended sequences: the label at each position ``(N, L)``, whether a
    position may be entered from two before (``(N, L + 2)``, False in the two columns past the
    end), the last two positions of each sequence and the samples whose last label is the
    blank."""
    N = labels.shape[0]
    ext = np.full((N, 2 * labels.shape[1] + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    L = ext.shape[1]
    skip = np.zeros((N, L + 2), dtype=bool)
    skip[:, 2:L] = ext[:, 2:] != ext[:, :-2]
    end = 2 * tl[:, None]
    final = (np.arange(L) == end) | (np.arange(L) == end - 1)
    last_is_blank = (tl > 0) & (il > 0) & (ext[np.arange(N), np.maximum(2 * tl - 1, 0)] == blank)
    return ext, skip, final, np.nonzero(last_is_blank)[0]


def _forward(log_probs, lp, labels, il, tl, blank, reduction, zero_infinity):
    """The loss of ``lp`` ``(T, N, C)`` (the array of ``log_probs``, with a batch dim), reduced,
    and its node when ``log_probs`` requires grad; runs on ``lp``'s device."""
    xp = xp_of(lp)
    dev = _backend.device_of(lp)
    N = lp.shape[1]
    ext, skip, final, last_blank = (_backend.to_device(a, dev)
                                    for a in _extended(labels, il, tl, blank))
    last, tl_d = _backend.to_device(il - 1, dev), _backend.to_device(tl, dev)
    L = ext.shape[1]
    rows = xp.arange(N)
    lpe = lp[:, rows[:, None], ext]                   # (T, N, L): the emission at each position
    alpha = _alpha(lpe, skip[:, :L])
    end = alpha[xp.maximum(last, 0), rows]
    ll_blank = end[rows, 2 * tl_d]
    ll_label = xp.where(tl_d > 0, end[rows, xp.maximum(2 * tl_d - 1, 0)], _NEG_INF)
    empty_input = xp.where(tl_d == 0, 0, _NEG_INF).astype(lp.dtype)
    nll = -xp.where(last >= 0, _log_add(ll_blank, ll_label), empty_input)
    loss = xp.where(nll == np.inf, 0, nll).astype(lp.dtype) if zero_infinity else nll
    length_divisor = _backend.to_device(np.maximum(tl, 1).astype(lp.dtype), dev)
    if reduction == "none":
        out = loss if log_probs.ndim == 3 else loss.reshape(())
    elif reduction == "sum":
        out = loss.sum()
    else:
        out = (loss / length_divisor).mean()
    if not (_state.enabled and log_probs._requires_grad):
        return _wrap(out)
    node = CtcLossBackward0((log_probs,))
    node.save(log_probs)
    node.lpe, node.alpha, node.nll, node.ext = lpe, alpha, nll, ext
    node.skip_from_right, node.last, node.final = skip[:, 2:], last, final
    node.last_label_blank = last_blank if last_blank.size else None
    node.target_lengths, node.length_divisor = tl_d, length_divisor
    node.reduction, node.zero_infinity = reduction, bool(zero_infinity)
    return _from_node(out, node)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False) -> Tensor:
    """Connectionist temporal classification loss of ``log_probs`` ``(T, N, C)`` (or unbatched
    ``(T, C)``) against padded ``(N, S)`` or concatenated targets; the lengths are tensors or
    sequences of ints. ``'mean'`` divides each loss by its target length before averaging;
    ``zero_infinity`` zeroes impossible alignments' infinite losses and their gradients."""
    reduction = check_reduction(reduction)
    il, tl, blank = _host_lengths(log_probs, targets, input_lengths, target_lengths, blank,
                                  reduction, zero_infinity)
    xd, td = log_probs._data, targets._data
    T, N, C = _check_shapes(xd, td, blank)
    _check_lengths(T, N, td, il, tl)
    labels = _labels(td, tl, blank, C)
    with _backend.on_device(_backend.device_of(xd)):
        return _forward(log_probs, xd if xd.ndim == 3 else xd[:, None], labels, il, tl, blank,
                        reduction, zero_infinity)
