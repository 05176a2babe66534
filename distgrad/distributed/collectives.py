"""Collectives on tensors, PyTorch style: in place on ``tensor.data``.

Every function accepts distgrad Tensors or raw arrays (numpy; cupy on GPU). ``group=None`` is
the default group; ``src``/``dst`` are global ranks, as in PyTorch. With ``async_op=True`` the
call returns a :class:`Work` (``wait()``, ``is_completed()``); otherwise it blocks and returns
None. On a rank that is not a member of ``group`` every collective returns None at once.

dtypes: float16/32/64, int8/16/32/64, uint8/16/32/64, bool, complex64/128 (native byte order).
float16 is reduced in float32 (MPI has no portable half type) and moved as raw 2-byte words
otherwise. bool reductions are logical: SUM/MAX/BOR -> or, PRODUCT/MIN/BAND -> and, BXOR -> xor.
AVG is sum-then-divide and needs a floating-point or complex tensor.
"""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np

from . import faults as _faults
from . import process_group as _pgm
from .staging import _array, _bump_version, _from_host, _to_host, device_buffers, is_host_array

__all__ = [
    "ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
    "reduce_scatter", "reduce_scatter_tensor", "reduce", "gather", "scatter", "barrier",
    "broadcast_object_list", "all_gather_object", "all_to_all", "all_to_all_single",
    "gather_object", "scatter_object_list",
]


class ReduceOp:
    """Reduction operations: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``,
    ``BOR``, ``BXOR`` (singletons compared by identity, as cheap to hash as possible)."""

    __slots__ = ("name",)
    SUM = AVG = PRODUCT = MIN = MAX = BAND = BOR = BXOR = None  # set below

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"

    def __str__(self):
        return self.name

    def __reduce__(self):
        return (getattr, (ReduceOp, self.name))


for _name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
    setattr(ReduceOp, _name, ReduceOp(_name))
del _name

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_SUPPORTED = {np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                    np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                                    np.bool_, np.complex64, np.complex128)}
_PLAIN = {ReduceOp.SUM: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
          ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}
_LOGICAL = {ReduceOp.SUM: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
            ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND",
            ReduceOp.BXOR: "LXOR"}
_op_cache = {}  # op -> {dtype: (MPI op name, divide afterwards)}


def _check_dtype(arr, fn):
    if arr.dtype not in _SUPPORTED:
        raise TypeError(f"{fn}: unsupported dtype {arr.dtype} (supported: "
                        f"{', '.join(sorted(str(d) for d in _SUPPORTED))}; native byte order)")


def _reduce_op(op, dtype, fn):
    """(MPI op name, divide-by-size afterwards) for ``op`` on ``dtype``, or a clear error."""
    hit = _op_cache.get(op)
    if hit is not None:
        hit = hit.get(dtype)
        if hit is not None:
            return hit
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{fn}: op must be a distgrad.distributed.ReduceOp, got {op!r}")
    canonical = getattr(ReduceOp, op.name, None)
    if canonical is not op:  # a ReduceOp("SUM") made by hand: use the singleton
        if not isinstance(canonical, ReduceOp):
            raise ValueError(f"{fn}: unknown reduction {op!r}")
        return _reduce_op(canonical, dtype, fn)
    if dtype not in _SUPPORTED:
        raise TypeError(f"{fn}: unsupported dtype {dtype}")
    kind = dtype.kind
    if op is ReduceOp.AVG:
        if kind not in "fc":
            raise TypeError(f"{fn}: ReduceOp.AVG needs a floating-point tensor, got {dtype} "
                            f"(use ReduceOp.SUM and divide by the world size yourself)")
        result = ("SUM", True)
    elif kind == "b":
        result = (_LOGICAL[op], False)
    else:
        if kind == "c" and op in (ReduceOp.MIN, ReduceOp.MAX):
            raise TypeError(f"{fn}: ReduceOp.{op.name} is not defined for complex tensors")
        if kind in "fc" and op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR):
            raise TypeError(f"{fn}: ReduceOp.{op.name} needs an integer or bool tensor, "
                            f"got {dtype}")
        result = (_PLAIN[op], False)
    _op_cache.setdefault(op, {})[dtype] = result
    return result


def _check_writable(arr, fn, what="tensor"):
    if type(arr) is np.ndarray and not arr.flags.writeable:
        raise ValueError(f"{fn}: the {what}'s array is read-only (a broadcast view or a frozen "
                         f"array?); collectives write their result in place")


def _wire(buf):
    """The view MPI moves: float16 travels as 2-byte words."""
    return buf.view(np.uint16) if buf.dtype == _F16 else buf


def _alloc(like, shape, dtype):
    """An output buffer where the transport writes: host memory, or device memory when the
    transport takes device buffers (nccl, the world of one, CUDA-aware MPI)."""
    if is_host_array(like) or not device_buffers():
        return np.empty(shape, dtype)
    from .staging import _module_of

    return _module_of(like).empty(shape, dtype)


def _stack(arrs, like, dtype):
    out = _alloc(like, (len(arrs),) + tuple(like.shape), dtype)
    for i, a in enumerate(arrs):
        out[i] = _to_host(a, dtype=dtype).reshape(like.shape)
    return out


def _check_list(fn, name, arrs, ref, n, ref_name="the tensor"):
    if len(arrs) != n:
        raise ValueError(f"{fn}: {name} has {len(arrs)} entries but the group has {n} ranks")
    for i, a in enumerate(arrs):
        if tuple(a.shape) != tuple(ref.shape):
            raise ValueError(f"{fn}: {name}[{i}] has shape {tuple(a.shape)} but {ref_name} has "
                             f"shape {tuple(ref.shape)}")
        if a.dtype != ref.dtype:
            raise TypeError(f"{fn}: {name}[{i}] has dtype {a.dtype} but {ref_name} has dtype "
                            f"{ref.dtype}")


def _prepare_outputs(fn, name, outs, tensors) -> None:
    """Check that every output array of ``outs`` (those of ``tensors``, the list ``name``) is
    writable and count the write on each tensor."""
    for i, o in enumerate(outs):
        _check_writable(o, fn, f"{name}[{i}]")
        _bump_version(tensors[i])


def _root(pg, rank, fn, what):
    try:
        return pg.group_rank(int(rank))
    except ValueError:
        raise ValueError(f"{fn}: {what}={rank} is not a rank of this group "
                         f"(global ranks {list(pg.world_ranks)})") from None


def _divide(buf, n):
    if n != 1:
        buf /= n


# --------------------------------------------------------------------------- running


class Work:
    """The handle of an asynchronous collective (``async_op=True``)."""

    __slots__ = ("_pg", "_seq", "_name", "_req", "_finish", "_done", "_result")

    def __init__(self, pg, seq, name, req, finish):
        self._pg, self._seq, self._name = pg, seq, name
        self._req, self._finish = req, finish
        self._done = False
        self._result = []  # the tensors the collective writes (the future's value)
        if req is None:  # completed at launch (a world of one)
            self._complete()

    def _complete(self):
        self._done = True
        self._req = None
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    def is_completed(self) -> bool:
        """True once the collective has finished (tests it without blocking)."""
        if not self._done and self._req.Test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        """Same as ``is_completed()``: True once the collective has finished."""
        return self.is_completed()

    def wait(self, timeout=None) -> bool:
        """Block until done. ``timeout`` (timedelta or seconds) overrides the watchdog's."""
        if self._done:
            return True
        wd = _pgm._state.watchdog
        if wd is None:
            self._req.Wait()
        else:
            limit = None if timeout is None else _pgm._timeout_seconds(timeout)
            tid = wd.enter(self._pg, self._seq, self._name, None, limit)
            try:
                self._req.Wait()
            finally:
                wd.exit(tid)
        self._complete()
        return True

    def get_future(self):
        """A ``distgrad.futures.Future`` completed by ``wait()``; its value is the list of the
        tensors the collective wrote (``[tensor]`` for ``all_reduce``)."""
        from ..futures import Future
        return Future._of(lambda: (self.wait(), self._result)[1], self.is_completed)

    def __repr__(self):
        return (f"<distgrad Work {self._name} #{self._seq} "
                f"{'completed' if self._done else 'in flight'}>")


_state = _pgm._state
_get_ident = threading.get_ident
_monotonic = time.monotonic


def _run(pg, name, start, finish, async_op, arr=None, op=None, root=None):
    """Run one collective: sequence number, debug check, watchdog guard, then ``finish``.

    ``start(async_op)`` issues the backend call (returning a request when async). ``arr``,
    ``op`` and ``root`` only describe the call for the debug check.
    """
    pg._seq += 1
    seq = pg._seq
    state = _state
    wd = state.watchdog
    if state.debug and pg._backend.size > 1:
        _guarded(wd, pg, seq, name + " (debug check)",
                 lambda: _faults.debug_check(pg, name, arr, op, root))
    if async_op:  # the launch is guarded too: a shared-memory all-reduce completes in it
        return Work(pg, seq, name, _guarded(wd, pg, seq, name, lambda: start(True)), finish)
    if wd is None:
        start(False)
    else:  # the watchdog's enter/exit, inlined: this is the hot path of every collective
        inflight = wd.inflight
        tid = _get_ident()
        inflight[tid] = (pg, seq, name, _monotonic(), None)
        try:
            start(False)
        finally:
            del inflight[tid]
    if finish is not None:
        finish()
    return None


def _guarded(wd, pg, seq, name, fn, timeout=None):
    if wd is None:
        return fn()
    tid = wd.enter(pg, seq, name, timeout=timeout)
    try:
        return fn()
    finally:
        wd.exit(tid)


def _run_blocking(pg, name, fn, extra=None, timeout=None):
    """A blocking composite operation (object collectives, new_group, the breakpoint's wait)
    under the same guards; ``timeout`` (seconds) overrides the watchdog's."""
    pg._seq += 1
    seq = pg._seq
    state = _pgm._state

    def body():
        if state.debug and pg._backend.size > 1:
            _faults.debug_check(pg, name, extra=extra)
        return fn()

    return _guarded(state.watchdog, pg, seq, name, body, timeout)


def _no(buf) -> bool:
    return False


def reduction_buffer(pg, count, dtype):
    """``(array, shared)``: a zeroed 1-D host array for data that will be SUM-all-reduced over
    ``pg``, in node shared memory (``shared`` True) when every rank is on this node (the fast
    path of ``backends/shm.py``: the ranks' own threads do the reduction when it is called,
    nothing progresses in the background), else in ordinary memory. Collective over ``pg``."""
    shared = getattr(pg._backend, "shared_zeros", None)
    buf = shared(count, dtype) if shared is not None and pg.size() > 1 else None
    return (np.zeros(count, dtype), False) if buf is None else (buf, True)


def reduction_progress(pg, buf, upto) -> None:
    """For a shared ``reduction_buffer``: this rank's first ``upto`` elements of ``buf`` are
    final for its next all-reduce (other ranks may start reducing them), or, with ``upto``
    None, what was said so is void (a backward pass was abandoned; every rank must do the
    same)."""
    if upto is None:
        pg._backend.shared.retract(buf)
    else:
        pg._backend.shared.publish(buf, upto)


# --------------------------------------------------------------------------- collectives


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group, in place on every rank."""
    pg = _pgm._default if group is None else _pgm._resolve(group)
    if pg is None:
        _pgm._resolve(None)  # raises PyTorch's "not initialized" error
    backend = pg._backend
    if backend is None:
        return None
    arr = tensor if type(tensor) is np.ndarray else _array(tensor)
    opname, avg = _reduce_op(op, arr.dtype, "all_reduce")
    if avg and type(arr) is np.ndarray and arr.dtype != _F16 and getattr(backend, "averages",
                                                                         _no)(arr):
        opname, avg = "AVG", False  # the backend divides as it reduces (shared memory)
    if arr is not tensor:
        _bump_version(tensor)
    state = _state
    if not (async_op or avg or state.debug) and type(arr) is np.ndarray:
        # fast path (small all_reduces are latency-bound): a contiguous, writable host array
        # that MPI reduces as is; the same steps as _run without the closures
        flags = arr.flags
        if flags.c_contiguous and flags.writeable and arr.dtype != _F16:
            pg._seq += 1
            wd = state.watchdog
            if wd is None:
                backend.allreduce(arr, opname, False)
            else:
                inflight = wd.inflight
                tid = _get_ident()
                inflight[tid] = (pg, pg._seq, "all_reduce", _monotonic(), None)
                try:
                    backend.allreduce(arr, opname, False)
                finally:
                    del inflight[tid]
            return None
    _check_writable(arr, "all_reduce")
    buf = _to_host(arr, dtype=_F32) if arr.dtype == _F16 else _to_host(arr)
    if buf is arr and not avg:  # the common case: nothing to do afterwards
        finish = None
    else:
        def finish():
            if avg:
                _divide(buf, backend.size)
            _from_host(arr, buf)
    work = _run(pg, "all_reduce", lambda a: backend.allreduce(buf, opname, a), finish, async_op,
                arr, op)
    if work is not None:
        work._result = [tensor]
    return work


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy ``tensor`` from global rank ``src`` to every rank of the group, in place."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    arr = _array(tensor)
    _check_dtype(arr, "broadcast")
    root = _root(pg, src, "broadcast", "src")
    is_root = root == pg._backend.rank
    if not is_root:
        _check_writable(arr, "broadcast")
        _bump_version(tensor)
    buf = _to_host(arr, copy_in=is_root)
    finish = None if (is_root or buf is arr) else (lambda: _from_host(arr, buf))
    return _run(pg, "broadcast", lambda a: pg._backend.bcast(_wire(buf), root, a), finish,
                async_op, arr, None, src)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` receives rank i's ``tensor`` (the list has one entry per rank)."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    arr = _array(tensor)
    _check_dtype(arr, "all_gather")
    outs = [_array(t) for t in tensor_list]
    _check_list("all_gather", "tensor_list", outs, arr, pg._backend.size)
    _prepare_outputs("all_gather", "tensor_list", outs, tensor_list)
    send = _to_host(arr)
    recv = _alloc(arr, (pg._backend.size,) + tuple(arr.shape), arr.dtype)

    def finish():
        for i, o in enumerate(outs):
            _from_host(o, recv[i])
    return _run(pg, "all_gather", lambda a: pg._backend.allgather(_wire(send), _wire(recv), a),
                finish, async_op, arr)


def _check_blocks(fn, out, arr, stacked, n) -> None:
    """Check that ``out`` and ``arr`` (output and input of ``fn``) share a dtype and that the
    ``stacked`` one (``"output"`` or ``"input"``) holds ``n`` blocks of the other's size."""
    if out.dtype != arr.dtype:
        raise TypeError(f"{fn}: output dtype {out.dtype} != input dtype {arr.dtype}")
    big, block, other = (out, arr, "input") if stacked == "output" else (arr, out, "output")
    if big.size != n * block.size:
        raise ValueError(f"{fn}: {stacked} has {big.size} elements (shape {tuple(big.shape)}) "
                         f"but needs world size {n} x {block.size} {other} elements ({other} "
                         f"shape {tuple(block.shape)})")


def _recv_buffer(fn, out, output, what="output tensor"):
    """``(recv, finish)`` for a transfer into ``out`` (the array of ``output``, checked writable,
    its write counted): the buffer MPI writes, and the copy of it back into ``out`` (None when
    MPI writes ``out`` itself)."""
    _check_writable(out, fn, what)
    _bump_version(output)
    recv = _to_host(out, copy_in=False)
    return recv, (None if recv is out else (lambda: _from_host(out, recv)))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size x input elements, stacked or concatenated along dim 0)
    receives every rank's ``input_tensor`` in rank order."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    out, arr = _array(output_tensor), _array(input_tensor)
    _check_dtype(arr, "all_gather_into_tensor")
    n = pg._backend.size
    _check_blocks("all_gather_into_tensor", out, arr, "output", n)
    recv, finish = _recv_buffer("all_gather_into_tensor", out, output_tensor)
    send = _to_host(arr)
    return _run(pg, "all_gather_into_tensor",
                lambda a: pg._backend.allgather(_wire(send), _wire(recv), a), finish, async_op,
                arr)


def _reduce_scatter_common(fn, pg, out, send_arrays, in_like, op, async_op):
    opname, avg = _reduce_op(op, out.dtype, fn)
    _check_writable(out, fn, "output tensor")
    half = out.dtype == _F16
    wdt = _F32 if half else out.dtype
    if isinstance(send_arrays, list):
        send = _stack(send_arrays, out, wdt)
    else:
        send = _to_host(send_arrays, dtype=wdt if half else None)
    recv = _to_host(out, copy_in=False, dtype=wdt if half else None)
    backend = pg._backend

    def finish():
        if avg:
            _divide(recv, backend.size)
        _from_host(out, recv)
    return _run(pg, fn, lambda a: backend.reduce_scatter(send, recv, opname, a),
                None if (recv is out and not avg) else finish, async_op, in_like, op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` over all ranks into rank i's ``output``."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    out = _array(output)
    ins = [_array(t) for t in input_list]
    _check_list("reduce_scatter", "input_list", ins, out, pg._backend.size, "the output")
    _bump_version(output)
    return _reduce_scatter_common("reduce_scatter", pg, out, ins, out, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Like :func:`reduce_scatter` with the inputs as one tensor of world_size x output
    elements (block i goes to rank i)."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    out, arr = _array(output), _array(input)
    n = pg._backend.size
    _check_blocks("reduce_scatter_tensor", out, arr, "input", n)
    _bump_version(output)
    return _reduce_scatter_common("reduce_scatter_tensor", pg, out, arr, arr, op, async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group into global rank ``dst``'s ``tensor`` (in place
    there; the other ranks' tensors are left unchanged)."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    arr = _array(tensor)
    opname, avg = _reduce_op(op, arr.dtype, "reduce")
    root = _root(pg, dst, "reduce", "dst")
    backend = pg._backend
    is_root = root == backend.rank
    if is_root:
        _check_writable(arr, "reduce")
        _bump_version(tensor)
    buf = _to_host(arr, dtype=_F32) if arr.dtype == _F16 else _to_host(arr)
    if is_root and (avg or buf is not arr):
        def finish():
            if avg:
                _divide(buf, backend.size)
            _from_host(arr, buf)
    else:
        finish = None
    return _run(pg, "reduce", lambda a: backend.reduce(buf, root, opname, a), finish, async_op,
                arr, op, dst)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Global rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (one entry per
    rank); the other ranks pass no list."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    arr = _array(tensor)
    _check_dtype(arr, "gather")
    root = _root(pg, dst, "gather", "dst")
    backend = pg._backend
    is_root = root == backend.rank
    send = _to_host(arr)
    if is_root:
        if gather_list is None:
            raise ValueError("gather: gather_list is required on the destination rank")
        outs = [_array(t) for t in gather_list]
        _check_list("gather", "gather_list", outs, arr, backend.size)
        _prepare_outputs("gather", "gather_list", outs, gather_list)
        recv = _alloc(arr, (backend.size,) + tuple(arr.shape), arr.dtype)

        def finish():
            for i, o in enumerate(outs):
                _from_host(o, recv[i])
    else:
        if gather_list:
            raise ValueError("gather: gather_list must not be given on a rank other than dst "
                             "(PyTorch's rule; pass None)")
        recv = finish = None
    return _run(pg, "gather",
                lambda a: backend.gather(_wire(send), None if recv is None else _wire(recv),
                                         root, a), finish, async_op, arr, None, dst)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank i's ``tensor`` receives ``scatter_list[i]`` of global rank ``src``."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    arr = _array(tensor)
    _check_dtype(arr, "scatter")
    recv, finish = _recv_buffer("scatter", arr, tensor, "tensor")
    root = _root(pg, src, "scatter", "src")
    backend = pg._backend
    if root == backend.rank:
        if scatter_list is None:
            raise ValueError("scatter: scatter_list is required on the source rank")
        ins = [_array(t) for t in scatter_list]
        _check_list("scatter", "scatter_list", ins, arr, backend.size)
        send = _stack(ins, arr, arr.dtype)
    else:
        if scatter_list:
            raise ValueError("scatter: scatter_list must not be given on a rank other than src "
                             "(PyTorch's rule; pass None)")
        send = None
    return _run(pg, "scatter",
                lambda a: backend.scatter(None if send is None else _wire(send), _wire(recv),
                                          root, a), finish, async_op, arr, None, src)


def _splits(fn, name, arr, sizes, n):
    """Rows of ``arr`` (split along dim 0) that go to or come from each of the ``n`` ranks."""
    if arr.ndim == 0:
        raise ValueError(f"{fn}: the {name} tensor must have at least one dimension")
    rows = arr.shape[0]
    if sizes is None or len(sizes) == 0:
        if rows % n:
            raise ValueError(f"{fn}: the {name} tensor's dim 0 ({rows}) must be divisible by "
                             f"the world size ({n}) when no {name}_split_sizes are given")
        return [rows // n] * n
    sizes = [int(v) for v in sizes]
    if len(sizes) != n or sum(sizes) != rows or min(sizes) < 0:
        raise ValueError(f"{fn}: {name}_split_sizes {sizes} must have one non-negative entry "
                         f"per rank ({n}) summing to the {name} tensor's dim 0 ({rows})")
    return sizes


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    """Split ``input`` along dim 0 into one block per rank (equal, or ``input_split_sizes``
    rows), send block j to rank j, and concatenate the blocks received into ``output`` in
    rank order (``output_split_sizes`` rows from each)."""
    pg = _pgm._resolve(group)
    backend = pg._backend
    if backend is None:
        return None
    out, arr = _array(output), _array(input)
    _check_dtype(arr, "all_to_all_single")
    if out.dtype != arr.dtype:
        raise TypeError(f"all_to_all_single: output dtype {out.dtype} != input dtype {arr.dtype}")
    if out.shape[1:] != arr.shape[1:]:
        raise ValueError(f"all_to_all_single: output shape {tuple(out.shape)} and input shape "
                         f"{tuple(arr.shape)} must agree beyond dim 0")
    n = backend.size
    row = int(np.prod(arr.shape[1:], dtype=np.int64))
    send_counts = [k * row for k in _splits("all_to_all_single", "input", arr,
                                            input_split_sizes, n)]
    recv_counts = [k * row for k in _splits("all_to_all_single", "output", out,
                                            output_split_sizes, n)]
    recv, finish = _recv_buffer("all_to_all_single", out, output)
    send = _to_host(arr)
    return _run(pg, "all_to_all_single",
                lambda a: backend.alltoallv(_wire(send), send_counts, _wire(recv), recv_counts, a),
                finish, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Send ``input_tensor_list[j]`` to rank j and receive rank j's into
    ``output_tensor_list[j]`` (one entry per rank; shapes may differ between entries)."""
    pg = _pgm._resolve(group)
    backend = pg._backend
    if backend is None:
        return None
    n = backend.size
    ins = [_array(t) for t in input_tensor_list]
    outs = [_array(t) for t in output_tensor_list]
    for name, arrs in (("input_tensor_list", ins), ("output_tensor_list", outs)):
        if len(arrs) != n:
            raise ValueError(f"all_to_all: {name} has {len(arrs)} entries but the group has {n} "
                             "ranks")
    dtype = ins[0].dtype
    _check_dtype(ins[0], "all_to_all")
    for name, arrs in (("input_tensor_list", ins), ("output_tensor_list", outs)):
        for i, a in enumerate(arrs):
            if a.dtype != dtype:
                raise TypeError(f"all_to_all: {name}[{i}] has dtype {a.dtype} but "
                                f"input_tensor_list[0] has dtype {dtype}")
    _prepare_outputs("all_to_all", "output_tensor_list", outs, output_tensor_list)
    send_counts, recv_counts = [a.size for a in ins], [o.size for o in outs]
    send = _alloc(ins[0], (sum(send_counts),), dtype)
    recv = _alloc(ins[0], (sum(recv_counts),), dtype)
    first = 0
    for a in ins:
        send[first:first + a.size] = _to_host(a).reshape(-1)
        first += a.size

    def finish():
        first = 0
        for o in outs:
            _from_host(o, recv[first:first + o.size])
            first += o.size
    return _run(pg, "all_to_all",
                lambda a: backend.alltoallv(_wire(send), send_counts, _wire(recv), recv_counts, a),
                finish, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has reached the barrier."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    backend = pg._backend
    return _run(pg, "barrier", lambda a: backend.barrier(a), None, async_op)


# --------------------------------------------------------------------------- objects


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace the entries of ``object_list`` on every rank with those of global rank ``src``.

    The objects are pickled (as in PyTorch): only use it with trusted peers. Every rank must
    pass a list of the same length."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    root = _root(pg, src, "broadcast_object_list", "src")
    backend = pg._backend
    is_root = root == backend.rank
    data = pickle.dumps(list(object_list), protocol=pickle.HIGHEST_PROTOCOL) if is_root else None
    got = _run_blocking(pg, "broadcast_object_list", lambda: backend.bcast_bytes(data, root),
                        extra=("len(object_list)", len(object_list)))
    if not is_root:
        objs = pickle.loads(got)
        if len(objs) != len(object_list):
            raise ValueError(f"broadcast_object_list: rank {src} sent {len(objs)} objects but "
                             f"this rank's object_list has {len(object_list)} entries")
        object_list[:] = objs
    return None


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` receives rank i's ``obj`` (pickled, as in PyTorch)."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    backend = pg._backend
    if len(object_list) != backend.size:
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} entries but the "
                         f"group has {backend.size} ranks")
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    parts = _run_blocking(pg, "all_gather_object", lambda: backend.allgather_bytes(data))
    for i, part in enumerate(parts):
        object_list[i] = pickle.loads(part)
    return None


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    """Global rank ``dst`` receives every rank's ``obj`` in ``object_gather_list`` (one entry
    per rank, pickled as in PyTorch); the other ranks pass None."""
    pg = _pgm._resolve(group)
    backend = pg._backend
    if backend is None:
        return None
    root = _root(pg, dst, "gather_object", "dst")
    is_dst = root == backend.rank
    if is_dst and (object_gather_list is None or len(object_gather_list) != backend.size):
        raise ValueError(f"gather_object: the destination rank needs an object_gather_list with "
                         f"one entry per rank ({backend.size})")
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    parts = _run_blocking(pg, "gather_object", lambda: backend.gather_bytes(data, root))
    if is_dst:
        object_gather_list[:] = [pickle.loads(part) for part in parts]
    return None


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=0,
                        group=None):
    """Rank i receives ``scatter_object_input_list[i]`` of global rank ``src`` as
    ``scatter_object_output_list[0]`` (pickled, as in PyTorch)."""
    pg = _pgm._resolve(group)
    backend = pg._backend
    if backend is None:
        return None
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    root = _root(pg, src, "scatter_object_list", "src")
    is_src = root == backend.rank
    if is_src and (scatter_object_input_list is None
                   or len(scatter_object_input_list) != backend.size):
        raise ValueError(f"scatter_object_list: the source rank needs a "
                         f"scatter_object_input_list with one entry per rank ({backend.size})")
    parts = ([pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
              for obj in scatter_object_input_list] if is_src else None)
    got = _run_blocking(pg, "scatter_object_list", lambda: backend.scatter_bytes(parts, root))
    scatter_object_output_list[0] = pickle.loads(got)
    return None
