"""MPI transport over mpi4py's buffer-based (uppercase) calls. Arrays are never pickled.

Imported only when a process group uses MPI; importing it imports (and initializes) MPI.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from .shm import SharedBuffers

# numpy dtype -> MPI datatype (native byte order only). float16 never reaches MPI as float16:
# the collectives layer reduces it as float32 and moves it as uint16 otherwise.
_DATATYPES = {
    np.dtype(np.float32): MPI.FLOAT,
    np.dtype(np.float64): MPI.DOUBLE,
    np.dtype(np.int8): MPI.INT8_T,
    np.dtype(np.int16): MPI.INT16_T,
    np.dtype(np.int32): MPI.INT32_T,
    np.dtype(np.int64): MPI.INT64_T,
    np.dtype(np.uint8): MPI.UINT8_T,
    np.dtype(np.uint16): MPI.UINT16_T,
    np.dtype(np.uint32): MPI.UINT32_T,
    np.dtype(np.uint64): MPI.UINT64_T,
    np.dtype(np.bool_): MPI.C_BOOL,
    np.dtype(np.complex64): MPI.C_FLOAT_COMPLEX,
    np.dtype(np.complex128): MPI.C_DOUBLE_COMPLEX,
}

_OPS = {name: getattr(MPI, name) for name in
        ("SUM", "PROD", "MAX", "MIN", "LAND", "LOR", "LXOR", "BAND", "BOR", "BXOR")}


def _msg(buf):
    try:
        return [buf, _DATATYPES[buf.dtype]]
    except KeyError:
        raise TypeError(f"distgrad: no MPI datatype for dtype {buf.dtype}") from None


def _counted(buf, counts):
    """A vector message: ``buf`` in consecutive blocks of ``counts`` elements."""
    displs = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=displs[1:])
    return [buf, (list(counts), displs.tolist()), _msg(buf)[1]]


class MPIBackend:
    """Collectives and point-to-point operations over an mpi4py communicator."""

    name = "mpi"

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.shared = SharedBuffers(comm)

    def shared_zeros(self, count, dtype):
        """A zeroed array in node shared memory that SUM all-reduces take the fast path on, or
        None when the ranks do not share one node (collective)."""
        return self.shared.zeros(count, dtype)

    def averages(self, buf) -> bool:
        """Whether ``allreduce(buf, "AVG", ...)`` works: ``buf`` is in node shared memory,
        where the division is fused into the reduction."""
        return bool(self.shared.segments) and self.shared.locate(buf) is not None

    # each call: the nonblocking variant when async_op, else the blocking one (full speed)
    def allreduce(self, buf, op, async_op):
        if (op == "SUM" or op == "AVG") and self.shared.segments:
            where = self.shared.locate(buf)
            if where is not None:  # done at once, also when asked for asynchronously
                self.shared.allreduce(*where, average=op == "AVG")
                return None
        if async_op:
            return self.comm.Iallreduce(MPI.IN_PLACE, _msg(buf), _OPS[op])
        self.comm.Allreduce(MPI.IN_PLACE, _msg(buf), _OPS[op])

    def bcast(self, buf, root, async_op):
        if async_op:
            return self.comm.Ibcast(_msg(buf), root)
        self.comm.Bcast(_msg(buf), root)

    def allgather(self, send, recv, async_op):
        if async_op:
            return self.comm.Iallgather(_msg(send), _msg(recv))
        self.comm.Allgather(_msg(send), _msg(recv))

    def reduce_scatter(self, send, recv, op, async_op):
        if async_op:
            return self.comm.Ireduce_scatter_block(_msg(send), _msg(recv), _OPS[op])
        self.comm.Reduce_scatter_block(_msg(send), _msg(recv), _OPS[op])

    def reduce(self, buf, root, op, async_op):
        if self.rank == root:
            args = (MPI.IN_PLACE, _msg(buf), _OPS[op], root)
        else:
            args = (_msg(buf), None, _OPS[op], root)
        if async_op:
            return self.comm.Ireduce(*args)
        self.comm.Reduce(*args)

    def gather(self, send, recv, root, async_op):
        args = (_msg(send), _msg(recv) if recv is not None else None, root)
        if async_op:
            return self.comm.Igather(*args)
        self.comm.Gather(*args)

    def scatter(self, send, recv, root, async_op):
        args = (_msg(send) if send is not None else None, _msg(recv), root)
        if async_op:
            return self.comm.Iscatter(*args)
        self.comm.Scatter(*args)

    def barrier(self, async_op):
        if async_op:
            return self.comm.Ibarrier()
        self.comm.Barrier()

    def alltoallv(self, send, send_counts, recv, recv_counts, async_op):
        """Rank j receives ``send_counts[j]`` elements of ``send`` (in rank order), into
        ``recv`` at the offsets of ``recv_counts`` (element counts per rank)."""
        args = (_counted(send, send_counts), _counted(recv, recv_counts))
        if async_op:
            return self.comm.Ialltoallv(*args)
        self.comm.Alltoallv(*args)

    # point-to-point: requests that the caller waits on
    def isend(self, buf, dst, tag):
        return self.comm.Isend(_msg(buf), dst, tag)

    def irecv(self, buf, src, tag):
        return self.comm.Irecv(_msg(buf), MPI.ANY_SOURCE if src is None else src, tag)

    @staticmethod
    def wait_source(req) -> int:
        """Wait for the receive ``req``; the rank it came from."""
        status = MPI.Status()
        req.Wait(status)
        return status.Get_source()

    # bytes for the object collectives: sizes first, then one buffer-based transfer
    def bcast_bytes(self, data, root):
        n = np.zeros(1, np.int64)
        if self.rank == root:
            n[0] = len(data)
        self.comm.Bcast([n, MPI.INT64_T], root)
        buf = bytearray(data) if self.rank == root else bytearray(int(n[0]))
        self.comm.Bcast([buf, MPI.BYTE], root)
        return bytes(buf)

    def allgather_bytes(self, data):
        sizes = np.zeros(self.size, np.int64)
        self.comm.Allgather([np.array([len(data)], np.int64), MPI.INT64_T], [sizes, MPI.INT64_T])
        out, layout = _byte_layout(sizes)
        self.comm.Allgatherv([bytearray(data), MPI.BYTE], [out, layout, MPI.BYTE])
        return _split_bytes(out, layout)

    def gather_bytes(self, data, root):
        is_root = self.rank == root
        sizes = np.zeros(self.size, np.int64) if is_root else None
        self.comm.Gather([np.array([len(data)], np.int64), MPI.INT64_T],
                         [sizes, MPI.INT64_T] if is_root else None, root)
        if not is_root:
            self.comm.Gatherv([bytearray(data), MPI.BYTE], None, root)
            return None
        out, layout = _byte_layout(sizes)
        self.comm.Gatherv([bytearray(data), MPI.BYTE], [out, layout, MPI.BYTE], root)
        return _split_bytes(out, layout)

    def scatter_bytes(self, parts, root):
        is_root = self.rank == root
        size = np.zeros(1, np.int64)
        sizes = np.array([len(p) for p in parts], np.int64) if is_root else None
        self.comm.Scatter([sizes, MPI.INT64_T] if is_root else None, [size, MPI.INT64_T], root)
        out = bytearray(int(size[0]))
        send = None
        if is_root:
            send = [bytearray(b"".join(parts)), _byte_layout(sizes)[1], MPI.BYTE]
        self.comm.Scatterv(send, [out, MPI.BYTE], root)
        return bytes(out)

    def split(self, world_ranks):
        """A sub-communicator of the given ranks (of this communicator); None on non-members."""
        member = self.rank in world_ranks
        comm = self.comm.Split(0 if member else MPI.UNDEFINED, self.rank)
        return MPIBackend(comm) if member else None

    def free(self):
        self.shared.free()
        if self.comm not in (MPI.COMM_NULL, MPI.COMM_WORLD, MPI.COMM_SELF):
            try:
                self.comm.Free()
            except MPI.Exception:
                pass
        self.comm = MPI.COMM_NULL


def library_version() -> str:
    """The MPI library's version string (``MPI.Get_library_version()``, NULs stripped)."""
    return MPI.Get_library_version().replace("\x00", "").strip()


def world_info():
    """(rank, size, local rank, local size, thread level is MULTIPLE)."""
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
    try:
        lr, ls = local.Get_rank(), local.Get_size()
    finally:
        local.Free()
    return world.Get_rank(), world.Get_size(), lr, ls, MPI.Query_thread() == MPI.THREAD_MULTIPLE


def dup_world():
    """A duplicate of ``MPI.COMM_WORLD`` (a private communicator)."""
    return MPI.COMM_WORLD.Dup()


def allreduce_max_int(comm, value: int) -> int:
    """The largest of every rank's ``value`` on ``comm``."""
    buf = np.array([value], np.int64)
    comm.Allreduce(MPI.IN_PLACE, [buf, MPI.INT64_T], MPI.MAX)
    return int(buf[0])


def _byte_layout(sizes):
    """A receive buffer for blocks of ``sizes`` bytes laid end to end, and their
    ``(counts, displacements)`` as the v-collectives take them."""
    displs = np.zeros(len(sizes), np.int64)
    np.cumsum(sizes[:-1], out=displs[1:])
    return bytearray(int(sizes.sum())), (sizes.tolist(), displs.tolist())


def _split_bytes(buf, layout):
    """The blocks of ``buf`` described by ``layout`` (from ``_byte_layout``), as bytes."""
    return [bytes(buf[d:d + s]) for s, d in zip(*layout)]
