"""NCCL transport for GPU buffers (CuPy's ``cupy.cuda.nccl``), with a host transport beside it.

``NCCLBackend(host)`` implements the backend interface (see ``backends/__init__.py``): device
(CuPy) buffers go through an NCCL communicator on a side stream; host (NumPy) buffers, the
byte collectives and the barrier go through ``host`` (the MPI backend, or the world of one).
So with ``backend="nccl"`` (or the automatic choice) CPU tensors keep working and
``distgrad.distributed.all_reduce`` on a GPU tensor reduces on the GPU.

The NCCL communicator is made at the first device collective (or at once with ``eager=True``):
rank 0 draws the unique id and broadcasts it over ``host``; every rank must have made its GPU
current before (``init_process_group`` does). Collectives are enqueued on the backend's stream
after the current stream's work (an event), and a finished collective makes the current stream
wait for it (``Wait``) without blocking the host; ``Test`` queries the event.

What NCCL cannot do here is done through host memory with ``host`` (blocking): gather and
scatter, reductions of dtypes NCCL lacks (int16, uint16, complex products) and the bitwise
reductions. bool reductions use uint8 MAX/MIN (or/and).
"""
from __future__ import annotations

import importlib
import pickle

import numpy as np

from ... import _backend

__all__ = ["NCCLBackend", "is_available", "nccl_module"]


def nccl_module(cp=None):
    """CuPy's NCCL bindings (``cupy.cuda.nccl``), or None when they are missing."""
    if cp is None:
        if not _backend.cuda_available():
            return None
        cp = _backend.cupy_module()
    mod = getattr(cp.cuda, "nccl", None)
    if mod is None:  # pragma: no cover - real CuPy: a submodule imported on demand
        try:
            mod = importlib.import_module(cp.__name__ + ".cuda.nccl")
        except ImportError:
            return None
    return mod if getattr(mod, "available", True) else None


def is_available() -> bool:
    """True when CuPy, a GPU and NCCL are all there."""
    return nccl_module() is not None


# numpy dtype -> NCCL datatype name
_TYPES = {np.dtype(np.int8): "NCCL_INT8", np.dtype(np.uint8): "NCCL_UINT8",
          np.dtype(np.int32): "NCCL_INT32", np.dtype(np.uint32): "NCCL_UINT32",
          np.dtype(np.int64): "NCCL_INT64", np.dtype(np.uint64): "NCCL_UINT64",
          np.dtype(np.float16): "NCCL_FLOAT16", np.dtype(np.float32): "NCCL_FLOAT32",
          np.dtype(np.float64): "NCCL_FLOAT64"}
_OPS = {"SUM": "NCCL_SUM", "PROD": "NCCL_PROD", "MAX": "NCCL_MAX", "MIN": "NCCL_MIN"}
_BOOL_OPS = {"LOR": "NCCL_MAX", "LAND": "NCCL_MIN"}
_COMPLEX_PARTS = {np.dtype(np.complex64): np.dtype(np.float32),
                  np.dtype(np.complex128): np.dtype(np.float64)}


class _Request:
    """A collective in flight on the NCCL stream (``Test``/``Wait`` like an MPI request)."""

    __slots__ = ("_cp", "_event", "_keep", "_waited")

    def __init__(self, cp, event, keep):
        self._cp, self._event, self._keep = cp, event, keep
        self._waited = False

    def Test(self) -> bool:
        if self._event.done:
            self.Wait()
            return True
        return False

    def Wait(self) -> None:
        if not self._waited:  # later work on the current stream runs after the collective
            self._cp.cuda.get_current_stream().wait_event(self._event)
            self._waited = True
            self._keep = None


class _Done:
    """A request that completed when it was issued."""

    __slots__ = ()

    def Test(self) -> bool:
        return True

    def Wait(self) -> None:
        return None


_DONE = _Done()


class NCCLBackend:
    """Collectives on CuPy arrays through NCCL, with ``host`` (an MPI backend) for setup."""

    name = "nccl"

    def __init__(self, host, eager: bool = False):
        self.host = host
        self.rank, self.size = host.rank, host.size
        self.cp = _backend.cupy_module()
        self.nccl = nccl_module(self.cp)
        if self.nccl is None:
            raise RuntimeError("distgrad: backend='nccl' needs CuPy built with NCCL "
                               "(cupy.cuda.nccl is not available); use backend='mpi'")
        self.comm = None
        self.stream = None
        self.device = None
        if eager:
            self._communicator()

    # -- setup ------------------------------------------------------------------------------
    def _communicator(self):
        """The NCCL communicator (made collectively on first use)."""
        if self.comm is None:
            cp, nccl = self.cp, self.nccl
            uid = nccl.get_unique_id() if self.rank == 0 else None
            # a tuple of 128 ints up to CuPy 13, bytes from CuPy 14: sent as it is
            uid = pickle.loads(self.host.bcast_bytes(pickle.dumps(uid) if self.rank == 0
                                                     else None, 0))
            self.device = int(cp.cuda.runtime.getDevice())
            self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
            self.stream = cp.cuda.Stream(non_blocking=True)
        return self.comm

    def _is_dev(self, buf) -> bool:
        return isinstance(buf, self.cp.ndarray)

    def _launch(self, call, async_op, keep):
        """Enqueue ``call(stream_ptr)`` on the NCCL stream after the current stream's work."""
        comm = self._communicator()
        cp = self.cp
        ready = cp.cuda.Event(disable_timing=True)
        ready.record(cp.cuda.get_current_stream())
        self.stream.wait_event(ready)
        call(comm, self.stream.ptr)
        done = cp.cuda.Event(disable_timing=True)
        done.record(self.stream)
        req = _Request(cp, done, keep)
        if async_op:
            return req
        req.Wait()
        return None

    def _const(self, name):
        return getattr(self.nccl, name)

    def _reduction(self, dtype, op):
        """(view dtype, NCCL datatype, NCCL op) for reducing ``dtype`` with ``op``, or None when
        NCCL cannot (the host fallback does it)."""
        if dtype in _TYPES and op in _OPS:
            return dtype, self._const(_TYPES[dtype]), self._const(_OPS[op])
        if dtype == np.bool_ and op in _BOOL_OPS:
            return np.dtype(np.uint8), self._const("NCCL_UINT8"), self._const(_BOOL_OPS[op])
        if dtype in _COMPLEX_PARTS and op == "SUM":
            part = _COMPLEX_PARTS[dtype]
            return part, self._const(_TYPES[part]), self._const("NCCL_SUM")
        return None

    def _staged(self, fn, ins, outs, async_op):
        """Run ``fn(*host_buffers)`` on the host transport with device buffers copied to host
        memory (``ins`` copied in, ``outs`` copied back); blocking."""
        _backend.synchronize()
        hosts = {}

        def host(b):
            if b is None or not self._is_dev(b):
                return b
            if id(b) not in hosts:
                hosts[id(b)] = b.get() if any(b is i for i in ins) else np.empty(b.shape, b.dtype)
            return hosts[id(b)]

        args = [host(b) for b in fn.buffers]
        fn(*args)
        for b in outs:
            if b is not None and self._is_dev(b):
                b[...] = self.cp.asarray(hosts[id(b)])
        return _DONE if async_op else None

    # -- the interface ----------------------------------------------------------------------
    def allreduce(self, buf, op, async_op):
        if not self._is_dev(buf):
            return self.host.allreduce(buf, op, async_op)
        spec = self._reduction(buf.dtype, op)
        if spec is None:
            return self._staged(_Call(lambda b: self.host.allreduce(b, op, False), buf),
                                [buf], [buf], async_op)
        view, dt, nop = spec
        b = buf.view(view)
        return self._launch(
            lambda comm, s: comm.allReduce(b.data.ptr, b.data.ptr, b.size, dt, nop, s),
            async_op, (buf,))

    def bcast(self, buf, root, async_op):
        if not self._is_dev(buf):
            return self.host.bcast(buf, root, async_op)
        u8 = self._const("NCCL_UINT8")
        return self._launch(lambda comm, s: comm.bcast(buf.data.ptr, buf.nbytes, u8, root, s),
                            async_op, (buf,))

    def allgather(self, send, recv, async_op):
        if not (self._is_dev(send) and self._is_dev(recv)):
            if not (self._is_dev(send) or self._is_dev(recv)):
                return self.host.allgather(send, recv, async_op)
            return self._staged(_Call(lambda s, r: self.host.allgather(s, r, False), send, recv),
                                [send], [recv], async_op)
        u8 = self._const("NCCL_UINT8")
        return self._launch(
            lambda comm, s: comm.allGather(send.data.ptr, recv.data.ptr, send.nbytes, u8, s),
            async_op, (send, recv))

    def reduce_scatter(self, send, recv, op, async_op):
        both = self._is_dev(send) and self._is_dev(recv)
        spec = self._reduction(recv.dtype, op) if both else None
        if spec is None:
            if not (self._is_dev(send) or self._is_dev(recv)):
                return self.host.reduce_scatter(send, recv, op, async_op)
            return self._staged(
                _Call(lambda s, r: self.host.reduce_scatter(s, r, op, False), send, recv),
                [send], [recv], async_op)
        view, dt, nop = spec
        sv, rv = send.view(view), recv.view(view)
        return self._launch(
            lambda comm, s: comm.reduceScatter(sv.data.ptr, rv.data.ptr, rv.size, dt, nop, s),
            async_op, (send, recv))

    def reduce(self, buf, root, op, async_op):
        if not self._is_dev(buf):
            return self.host.reduce(buf, root, op, async_op)
        spec = self._reduction(buf.dtype, op)
        if spec is None:
            return self._staged(_Call(lambda b: self.host.reduce(b, root, op, False), buf),
                                [buf], [buf] if self.rank == root else [], async_op)
        view, dt, nop = spec
        b = buf.view(view)
        return self._launch(
            lambda comm, s: comm.reduce(b.data.ptr, b.data.ptr, b.size, dt, nop, root, s),
            async_op, (buf,))

    def gather(self, send, recv, root, async_op):
        if not (self._is_dev(send) or (recv is not None and self._is_dev(recv))):
            return self.host.gather(send, recv, root, async_op)
        return self._staged(_Call(lambda s, r: self.host.gather(s, r, root, False), send, recv),
                            [send], [recv], async_op)

    def scatter(self, send, recv, root, async_op):
        if not ((send is not None and self._is_dev(send)) or self._is_dev(recv)):
            return self.host.scatter(send, recv, root, async_op)
        return self._staged(_Call(lambda s, r: self.host.scatter(s, r, root, False), send, recv),
                            [send], [recv], async_op)

    def alltoallv(self, send, send_counts, recv, recv_counts, async_op):
        if not (self._is_dev(send) or self._is_dev(recv)):
            return self.host.alltoallv(send, send_counts, recv, recv_counts, async_op)
        return self._staged(
            _Call(lambda s, r: self.host.alltoallv(s, send_counts, r, recv_counts, False),
                  send, recv), [send], [recv], async_op)

    def barrier(self, async_op):
        return self.host.barrier(async_op)

    # point-to-point: staged through host memory over the host transport
    def isend(self, buf, dst, tag):
        if self._is_dev(buf):
            _backend.synchronize()
            buf = buf.get()  # the request keeps this copy alive until it completes
        return self.host.isend(buf, dst, tag)

    def irecv(self, buf, src, tag):
        if not self._is_dev(buf):
            return self.host.irecv(buf, src, tag)
        host = np.empty(buf.shape, buf.dtype)
        return _DeviceRecv(self.host.irecv(host, src, tag), host, buf)

    def wait_source(self, req) -> int:
        return self.host.wait_source(req)

    def bcast_bytes(self, data, root):
        return self.host.bcast_bytes(data, root)

    def allgather_bytes(self, data):
        return self.host.allgather_bytes(data)

    def gather_bytes(self, data, root):
        return self.host.gather_bytes(data, root)

    def scatter_bytes(self, parts, root):
        return self.host.scatter_bytes(parts, root)

    def split(self, world_ranks):
        sub = self.host.split(world_ranks)
        return None if sub is None else NCCLBackend(sub)

    def free(self):
        if self.comm is not None:
            try:
                if self.stream is not None:
                    self.stream.synchronize()
                self.comm.destroy()
            except Exception:  # pragma: no cover - a communicator already torn down
                pass
            self.comm = None
        self.host.free()


class _DeviceRecv:
    """A host receive for a device array: the data is copied to the device on completion."""

    def __init__(self, req, host, dev):
        self.req, self.host, self.dev = req, host, dev

    def _copy(self):
        if self.host is not None:
            self.dev[...] = _backend.cupy_module().asarray(self.host)
            self.host = None

    def Test(self) -> bool:
        done = self.req.Test()
        if done:
            self._copy()
        return done

    def Wait(self, status=None) -> None:
        self.req.Wait(status)
        self._copy()


class _Call:
    """A host-transport call and the buffers it takes (for ``NCCLBackend._staged``)."""

    __slots__ = ("fn", "buffers")

    def __init__(self, fn, *buffers):
        self.fn, self.buffers = fn, buffers

    def __call__(self, *args):
        return self.fn(*args)
