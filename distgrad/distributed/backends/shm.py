"""All-reduce through shared memory, for ranks that share a node.

MPI's own shared-memory all-reduce copies every buffer into its transport and back out. When
the buffers themselves live in an MPI shared-memory window (``MPI.Win.Allocate_shared``), each
rank can instead sum its share of the elements straight from every rank's buffer on the node
and write the result into all of them: one read of each buffer and one write, 2-3x faster than
``Allreduce`` for a few MB on two ranks (benchmarks/ddp_sync.py). DDP allocates its flat
gradient buffers here; any SUM all-reduce of an array inside such a buffer takes this path.

Across several nodes (each with the same number of ranks, at least two) the reduction is
hierarchical: each rank sums its share over its node, all-reduces that share with the ranks of
the same local rank on the other nodes (MPI, a 1/L-sized message per rank for L ranks per node,
the L messages of a node in parallel), and copies the result to its node's buffers.

Every element is computed by exactly one rank per node (and MPI's all-reduce gives the same
result on every rank), so all replicas get bit-identical results. Allocation is collective and
the decision to use shared memory is made jointly (every rank agrees, or none uses it). A buffer
that no rank uses any more is freed at the next allocation; those of a destroyed group stay
mapped until the process exits, since gradients may still view them.
``DISTGRAD_SHM_ALLREDUCE=0`` turns the path off.
"""

from __future__ import annotations

import atexit
import os
import weakref

import numpy as np
from mpi4py import MPI

from . import divide

_ALIGN = 64  # bytes: each rank's share starts on its own cache line
_HEADROOM = 1.25  # /dev/shm must have this much more room than asked for
_CHUNK = 1 << 15  # elements summed, divided and copied out together (they stay in cache)


def _enabled() -> bool:
    return os.environ.get("DISTGRAD_SHM_ALLREDUCE", "1") != "0"


def _room_for(nbytes: int) -> bool:
    """Whether the node's shared-memory file system can hold ``nbytes`` more (a full /dev/shm
    makes a later page fault kill the process with SIGBUS instead of raising)."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return True  # not Linux-like: MPI allocates shared memory its own way
    return st.f_bavail * st.f_frsize >= nbytes * _HEADROOM


class _Segment:
    """One shared buffer: a weak reference to this rank's array (its owner, e.g. DDP, keeps it
    alive) and views of the other node ranks' arrays (None at this rank's place)."""

    __slots__ = ("win", "start", "stop", "dtype", "me", "mine", "peers")

    def __init__(self, win, mine, peers, me):
        self.win, self.dtype, self.me = win, mine.dtype, me
        self.mine = weakref.ref(mine)
        self.peers = peers
        self.start = mine.__array_interface__["data"][0]
        self.stop = self.start + mine.nbytes


def _attach(win, count, dtype, node_size, node_rank):
    """This rank's array in ``win`` and the list of every node rank's (None at this rank)."""
    arrays = []
    for k in range(node_size):
        mem, _ = win.Shared_query(k)
        arrays.append(np.frombuffer(mem, dtype=dtype, count=count))
    mine = arrays[node_rank]
    arrays[node_rank] = None
    return mine, arrays


class SharedBuffers:
    """Shared-memory buffers of one communicator, and the all-reduce over them."""

    def __init__(self, comm):
        self.comm = comm
        self.node = None   # this node's ranks, made on the first allocation
        self.cross = None  # the ranks of this local rank on every node (None on one node)
        self.usable = None
        self.segments = []

    def _split(self) -> bool:
        """Make the node (and cross-node) communicators; whether shared memory can be used:
        at least two ranks on every node, the same number on each (collective)."""
        comm = self.comm
        self.node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
        local = self.node.Get_size()
        sizes = np.array([local, -local], np.int64)
        comm.Allreduce(MPI.IN_PLACE, [sizes, MPI.INT64_T], MPI.MIN)
        if not local == sizes[0] == -sizes[1] > 1:
            return False
        if local < comm.Get_size():
            self.cross = comm.Split(self.node.Get_rank(), comm.Get_rank())
        return True

    def zeros(self, count: int, dtype) -> np.ndarray | None:
        """A zeroed 1-D array of ``count`` elements in shared memory, or None when the ranks
        do not all share this node (or shared memory is off or too small). Collective."""
        dtype = np.dtype(dtype)
        if self.usable is None:
            self.usable = self._split()
        self._reclaim()
        nbytes = count * dtype.itemsize
        verdict = np.array([self.usable and _enabled() and count > 0 and _room_for(nbytes)],
                           np.int32)
        self.comm.Allreduce(MPI.IN_PLACE, [verdict, MPI.INT32_T], MPI.MIN)
        if not verdict[0]:
            return None
        try:
            win = MPI.Win.Allocate_shared(nbytes, dtype.itemsize, comm=self.node)
        except MPI.Exception:  # an MPI without shared-memory windows: fails on every rank
            self.usable = False
            return None
        win.Lock_all(MPI.MODE_NOCHECK)  # a passive epoch for the whole lifetime: Sync() works
        me = self.node.Get_rank()
        mine, peers = _attach(win, count, dtype, self.node.Get_size(), me)
        mine.fill(0)
        self.segments.append(_Segment(win, mine, peers, me))
        _open[id(win)] = win
        self._fence(win)
        return mine

    def _reclaim(self) -> None:
        """Free the buffers that no rank uses any more (collective: every rank has the same
        segments, and a buffer is freed only when it is unused on all of them)."""
        if not self.segments:
            return
        unused = np.array([seg.mine() is None for seg in self.segments], np.int32)
        self.comm.Allreduce(MPI.IN_PLACE, [unused, MPI.INT32_T], MPI.MIN)
        kept = []
        for seg, gone in zip(self.segments, unused):
            if gone:
                seg.peers = None
                del _open[id(seg.win)]
                seg.win.Unlock_all()
                seg.win.Free()
            else:
                kept.append(seg)
        self.segments = kept

    def _fence(self, win):
        """Make every rank's writes to ``win`` visible to all: memory sync, barrier, sync."""
        win.Sync()
        self.node.Barrier()
        win.Sync()

    def locate(self, buf):
        """``(segment, first element, element count)`` when ``buf`` is a contiguous slice of a
        shared buffer, else None."""
        if not self.segments or not buf.flags.c_contiguous:
            return None
        addr = buf.__array_interface__["data"][0]
        for seg in self.segments:
            if seg.start <= addr < seg.stop and buf.dtype == seg.dtype:
                return seg, (addr - seg.start) // buf.itemsize, buf.size
        return None

    def allreduce(self, seg, first: int, count: int, average: bool = False) -> None:
        """Sum elements ``[first, first + count)`` over all ranks, in every buffer (and divide
        by the number of ranks when ``average``)."""
        mine = seg.mine()  # alive: the caller's array views it
        n = len(seg.peers)
        per = -(-count // n)
        step = max(1, _ALIGN // mine.itemsize)
        per = -(-per // step) * step
        lo = first + min(count, seg.me * per)
        hi = first + min(count, (seg.me + 1) * per)
        others = [p for p in seg.peers if p is not None]
        divisor = self.comm.Get_size() if average else None
        chunks = [(a, min(a + _CHUNK, hi)) for a in range(lo, hi, _CHUNK)]
        self._fence(seg.win)  # every rank has written its gradients
        if self.cross is None:  # one node: finish each chunk while it is in cache
            for a, b in chunks:
                _finish(_node_sum(mine, others, a, b), others, a, b, divisor)
        else:  # every rank takes part in the cross-node all-reduce, even with an empty share
            for a, b in chunks:
                _node_sum(mine, others, a, b)
            self.cross.Allreduce(MPI.IN_PLACE, mine[lo:hi], MPI.SUM)  # type from the buffer
            for a, b in chunks:
                _finish(mine[a:b], others, a, b, divisor)
        self._fence(seg.win)  # every rank has written its share into all buffers

    def free(self) -> None:
        """Stop using the buffers (at ``destroy_process_group``). Their memory stays mapped,
        since arrays such as DDP's gradients may still view it, until MPI finalizes."""
        self.segments = []


def _node_sum(mine, others, a, b):
    """Add the other node ranks' elements ``[a, b)`` into this rank's; returns that slice."""
    part = mine[a:b]
    for peer in others:
        part += peer[a:b]
    return part


def _finish(part, others, a, b, divisor):
    """Divide the summed slice ``[a, b)`` (when averaging) and copy it to the other buffers."""
    if divisor is not None:
        divide(part, divisor, part, np)
    for peer in others:
        peer[a:b] = part


_open = {}  # id -> window whose passive epoch is open (windows are not hashable)


@atexit.register
def _close_epochs():
    """End the passive epochs before mpi4py finalizes MPI (atexit runs this first: it was
    registered after mpi4py's own handler)."""
    for win in _open.values():
        try:
            win.Unlock_all()
        except MPI.Exception:
            pass
