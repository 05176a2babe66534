"""PowerSGD gradient compression (Vogels et al., NeurIPS 2019) as a DDP communication hook,
PyTorch's ``ddp_comm_hooks.powerSGD_hook``: ``PowerSGDState``, ``powerSGD_hook`` and
``batched_powerSGD_hook``.

Each gradient of two or more dimensions, seen as an ``n x m`` matrix ``M``, is averaged as a
rank-``r`` approximation: ``P = M Q`` is all-reduced and orthogonalised, ``Q = M^T P`` is
all-reduced and averaged, and ``P Q^T`` replaces ``M``: ``(n + m) r`` numbers travel instead of
``n m``. Vectors, and matrices too small to gain ``min_compression_rate``, are averaged with one
plain all-reduce. With error feedback, what the approximation left out on this rank is added
to its next gradient; with warm start, each step's ``Q`` starts from the previous step's.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from .... import _backend
from ....futures import Future
from ....tensor import Tensor
from ... import collectives as _coll
from ... import process_group as _pgm
from .default_hooks import allreduce_hook

__all__ = ["PowerSGDState", "powerSGD_hook", "batched_powerSGD_hook"]

_log = logging.getLogger(__name__)


class PowerSGDState:
    """PowerSGD's settings and its memory across steps (PyTorch's arguments and defaults).

    ``matrix_approximation_rank``: the rank ``r`` of the approximation. ``start_powerSGD_iter``:
    plain averaging (``allreduce_hook``) for this many steps first. ``min_compression_rate``: a
    matrix is compressed only if that divides its traffic by more than this.
    ``use_error_feedback``, ``warm_start``: see the module docstring.
    ``orthogonalization_epsilon``: added to each column's norm (PyTorch divides a zero column by
    zero with the default 0, which makes NaNs; distgrad leaves a zero column at zero).
    ``random_seed``: seeds the initial ``Q``, the same on every rank.
    ``compression_stats_logging_frequency``: log ``compression_stats()`` every this many steps.
    ``batch_tensors_with_same_shape``: accepted for PyTorch's signature; each matrix is always
    multiplied on its own.
    """

    def __init__(self, process_group, matrix_approximation_rank=1, start_powerSGD_iter=1_000,
                 min_compression_rate=2, use_error_feedback=True, warm_start=True,
                 orthogonalization_epsilon=0, random_seed=0,
                 compression_stats_logging_frequency=10_000, batch_tensors_with_same_shape=False):
        if (use_error_feedback or warm_start) and start_powerSGD_iter <= 1:
            raise ValueError("Expect `start_powerSGD_iter` > 1 if `use_error_feedback` or "
                             "`warm_start` is enabled, because PowerSGD can only be applied "
                             "after the first two iterations in DDP.")
        if matrix_approximation_rank < 1:
            raise ValueError(f"matrix_approximation_rank must be at least 1, got "
                             f"{matrix_approximation_rank}")
        self.process_group = process_group
        self.matrix_approximation_rank = matrix_approximation_rank
        self.start_powerSGD_iter = start_powerSGD_iter
        self.min_compression_rate = min_compression_rate
        self.use_error_feedback = use_error_feedback
        self.warm_start = warm_start
        self.orthogonalization_epsilon = orthogonalization_epsilon
        self.rng = np.random.RandomState(random_seed)
        self.compression_stats_logging_frequency = max(1, compression_stats_logging_frequency)
        self.batch_tensors_with_same_shape = batch_tensors_with_same_shape
        self.error_dict = {}       # bucket index -> this rank's residual (flat, like the bucket)
        self.p_memory_dict = {}    # bucket index -> the bucket's P matrices, flat
        self.q_memory_dict = {}    # bucket index -> the bucket's Q matrices, flat
        self.iter = 0
        self.total_numel_before_compression = 0
        self.total_numel_after_compression = 0
        self.next_stats_report = 0

    def maybe_increase_iter(self, bucket) -> None:
        """Count a step when its last bucket has been reduced."""
        if bucket.is_last():
            self.iter += 1
            if self.iter == self.start_powerSGD_iter:
                _log.info("Start to apply PowerSGD after %d iterations.", self.iter)

    def compression_stats(self):
        """``(compression rate, numbers before compression, numbers after)`` so far."""
        after = self.total_numel_after_compression
        rate = self.total_numel_before_compression / after if after else 0
        return rate, self.total_numel_before_compression, after

    def _maybe_log_stats(self) -> None:
        if self.iter >= self.next_stats_report:
            rate, before, after = self.compression_stats()
            _log.info("Compression stats: iter %d, total before compression %d, total after "
                      "compression %d, rate %.2f", self.iter, before, after, rate)
            self.next_stats_report = self.iter + self.compression_stats_logging_frequency


def _should_compress(rows, cols, rank, min_compression_rate):
    """Whether a ``rows x cols`` matrix gains enough from rank ``rank``, and the numbers sent
    without and with compression."""
    before, after = rows * cols, (rows + cols) * rank
    return after * min_compression_rate < before, before, after


def _orthogonalize(matrix, epsilon) -> None:
    """Orthonormalise the columns of ``matrix`` in place (Gram-Schmidt)."""
    xp = _backend.get_array_module(matrix)
    for i in range(matrix.shape[1]):
        col = matrix[:, i:i + 1]
        norm = float(xp.sqrt((col * col).sum())) + epsilon
        if norm > 0:
            col /= norm
        if i + 1 < matrix.shape[1]:
            rest = matrix[:, i + 1:]
            rest -= col * (col.T @ rest)


def _views(flat, shapes):
    """Consecutive views of ``flat`` with the given 2-D shapes."""
    out, start = [], 0
    for shape in shapes:
        size = shape[0] * shape[1]
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


def _memory(memory, index, size, like):
    """The flat array ``memory[index]`` of ``size`` elements (new when missing or resized)."""
    flat = memory.get(index)
    if flat is None or flat.size != size:
        flat = memory[index] = _backend.get_array_module(like).empty(size, dtype=like.dtype)
        return flat, True
    return flat, False


def _low_rank_average(state, index, matrices, group, like) -> None:
    """Replace each ``(matrix, rank)`` of bucket ``index`` by its rank-``rank`` approximation of
    the average over ``group``: ``P = M Q`` summed and orthonormalised, ``Q = M^T P`` averaged,
    ``M = P Q^T``."""
    xp = _backend.get_array_module(like)
    p_shapes = [(m.shape[0], r) for m, r in matrices]
    q_shapes = [(m.shape[1], r) for m, r in matrices]
    p_flat, _ = _memory(state.p_memory_dict, index, sum(a * b for a, b in p_shapes), like)
    q_flat, new_q = _memory(state.q_memory_dict, index, sum(a * b for a, b in q_shapes), like)
    ps, qs = _views(p_flat, p_shapes), _views(q_flat, q_shapes)
    if new_q or not state.warm_start:  # the same random Q on every rank
        seed = state.rng.randint(1_000_000_000)
        q_flat[...] = xp.asarray(np.random.default_rng(seed).standard_normal(q_flat.size))
        for q in qs:
            _orthogonalize(q, state.orthogonalization_epsilon)
    for (m, _), p, q in zip(matrices, ps, qs):
        xp.matmul(m, q, out=p)
    _coll.all_reduce(Tensor._wrap(p_flat), group=group)
    for p in ps:
        _orthogonalize(p, state.orthogonalization_epsilon)
    for (m, _), p, q in zip(matrices, ps, qs):
        xp.matmul(m.T, p, out=q)
    _coll.all_reduce(Tensor._wrap(q_flat), group=group)
    q_flat /= group.size()
    for (m, _), p, q in zip(matrices, ps, qs):
        xp.matmul(p, q.T, out=m)  # the approximation of the average replaces the gradient
    if not state.warm_start:
        state.p_memory_dict.pop(index, None)
        state.q_memory_dict.pop(index, None)


def _compressed_hook(state, bucket, average):
    """The frame both hooks share: plain averaging (``allreduce_hook``) for the first
    ``state.start_powerSGD_iter`` steps; then ``average(state, bucket, data, index, group)``
    replaces the flat bucket ``data`` with its approximated average, between adding this rank's
    residual (error feedback) and keeping the new one. Returns a completed future of the
    bucket."""
    group = _pgm._resolve(state.process_group)
    if state.iter < state.start_powerSGD_iter:
        state.maybe_increase_iter(bucket)
        return allreduce_hook(state.process_group, bucket)
    buffer = bucket.buffer()
    data = buffer._data
    index = bucket.index()
    before = None
    if state.use_error_feedback:
        error = state.error_dict.get(index)
        if error is not None and error.shape == data.shape:
            data += error
        before = data.copy()
    average(state, bucket, data, index, group)
    if before is not None:
        before -= data  # what this rank's input lost to the approximation
        state.error_dict[index] = before
    state.maybe_increase_iter(bucket)
    state._maybe_log_stats()
    fut = Future()
    fut.set_result(buffer)
    return fut


def powerSGD_hook(state: PowerSGDState, bucket):
    """Average the bucket's gradients with PowerSGD (after ``state.start_powerSGD_iter`` steps
    of plain averaging), matrix by matrix; returns a completed future of the bucket."""
    return _compressed_hook(state, bucket, _average_by_matrix)


def _average_by_matrix(state, bucket, data, index, group):
    """Each gradient of two or more dimensions worth compressing by its low-rank average; the
    vectors and small matrices by one plain all-reduce, in flight meanwhile."""
    xp = _backend.get_array_module(data)
    rank = state.matrix_approximation_rank
    matrices, plain = [], []
    for grad in bucket.gradients():
        g = grad._data
        if g.ndim > 1:
            m = g.reshape(g.shape[0], -1)
            r = min(m.shape[0], m.shape[1], rank)
            compress, numel_before, numel_after = _should_compress(
                m.shape[0], m.shape[1], r, state.min_compression_rate)
            state.total_numel_before_compression += numel_before
            if compress:
                matrices.append((m, r))
                state.total_numel_after_compression += numel_after
                continue
        else:
            state.total_numel_before_compression += g.size
        state.total_numel_after_compression += g.size
        plain.append(g)

    rest = rest_work = None
    if plain:
        rest = Tensor._wrap(xp.concatenate([g.reshape(-1) for g in plain]))
        rest_work = _coll.all_reduce(rest, group=group, async_op=True)
    if matrices:
        _low_rank_average(state, index, matrices, group, data)
    if rest_work is not None:
        rest_work.wait()
        averaged = rest._data
        averaged /= group.size()
        start = 0
        for g in plain:
            g.reshape(-1)[...] = averaged[start:start + g.size]
            start += g.size


def batched_powerSGD_hook(state: PowerSGDState, bucket):
    """Average the whole bucket with PowerSGD as one square matrix (the flat bucket, padded with
    zeros to ``side x side``): fewer, larger products than ``powerSGD_hook``, and a coarser
    approximation; returns a completed future of the bucket."""
    return _compressed_hook(state, bucket, _average_as_square)


def _average_as_square(state, bucket, data, index, group):
    """The flat bucket, zero-padded to a square, replaced by its low-rank average."""
    side = math.isqrt(data.size - 1) + 1 if data.size else 0
    rank = min(side, state.matrix_approximation_rank)
    state.total_numel_before_compression += data.size
    state.total_numel_after_compression += 2 * side * rank
    square = _backend.get_array_module(data).zeros(side * side, dtype=data.dtype)
    square[:data.size] = data
    if side:
        _low_rank_average(state, index, [(square.reshape(side, side), rank)], group, data)
    data[...] = square[:data.size]
