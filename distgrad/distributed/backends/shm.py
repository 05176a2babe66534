"""All-reduce through shared memory, for ranks that share a node.

MPI's own shared-memory all-reduce copies every buffer into its transport and back out. When
the buffers themselves live in an MPI shared-memory window (``MPI.Win.Allocate_shared``), the
ranks can instead sum the elements straight from every rank's buffer on the node and write the
result into all of them: one read of each buffer and one write, 2-3x faster than ``Allreduce``
for a few MB on two ranks (benchmarks/ddp_sync.py). DDP allocates its flat gradient buffers
here; any SUM all-reduce of an array inside such a buffer takes this path.

On one node the work is shared out dynamically: the range is cut into units, and each rank
claims the next unit with an atomic fetch-and-add (``MPI.Win.Fetch_and_op``) until none is
left. A unit is reduced once every rank has *published* it as final: each rank's window holds
a progress word, set when the rank enters the all-reduce (its whole buffer) and, during
backward, by DDP as each leading run of buckets is complete (``publish``). So a rank that
finishes backward early does not wait idle: it reduces the buckets the others have finished
while they compute the rest, and a slow rank gets less of the reduction to do. Progress words
carry a *label* that every rank advances at the same points (each completed all-reduce, each
``retract``), so a word left by an earlier or abandoned pass is never taken for this one.

Across several nodes (each with the same number of ranks, at least two) the reduction is
hierarchical and statically split: each rank sums its share over its node, all-reduces that
share with the ranks of the same local rank on the other nodes (MPI, a 1/L-sized message per
rank for L ranks per node, the L messages of a node in parallel), and copies the result to its
node's buffers.

Every element is summed by exactly one rank per node, in node-rank order, and written to every
buffer of the node (and MPI's all-reduce gives the same result on every rank), so all replicas
get bit-identical results whichever rank did the work. Allocation is collective and the
decision to use shared memory is made jointly (every rank agrees, or none uses it). A buffer
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

_ALIGN = 64  # bytes: each rank's share (and its control words) starts on its own cache line
_HEADROOM = 1.25  # /dev/shm must have this much more room than asked for
_CHUNK = 1 << 15  # elements summed, divided and copied out together (they stay in cache)
_UNITS_PER_RANK = 8  # units of work per rank in a dynamically shared all-reduce (about)
# Control words after each rank's data: the claim counter (rank 0's is the one used) and the
# rank's progress word, ``label << _LABEL_SHIFT | elements published``.
_CLAIMS, _PROGRESS, _CONTROL_WORDS = 0, 1, _ALIGN // 8
_LABEL_SHIFT = 40
_LABELS = 1 << 22  # labels wrap around: only the current one and the one before can meet


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
    alive), views of the other node ranks' arrays (None at this rank's place), every rank's
    control words, and the state of the dynamic all-reduce (the current label and how far the
    claim counter has gone)."""

    __slots__ = ("win", "start", "stop", "dtype", "me", "mine", "peers", "control",
                 "control_disp", "label", "claims")

    def __init__(self, win, mine, peers, control, control_disp, me):
        self.win, self.dtype, self.me = win, mine.dtype, me
        self.mine = weakref.ref(mine)
        self.peers = peers
        self.control, self.control_disp = control, control_disp
        self.start = mine.__array_interface__["data"][0]
        self.stop = self.start + mine.nbytes
        self.label = 0
        self.claims = 0

    def buffers(self, mine):
        """Every node rank's array, in node-rank order."""
        arrays = list(self.peers)
        arrays[self.me] = mine
        return arrays

    def set_progress(self, upto: int) -> None:
        """Publish that this rank's elements ``[0, upto)`` are final for the current label."""
        self.win.Sync()  # the data written so far is visible before the word that says so
        self.control[self.me][_PROGRESS] = self.label << _LABEL_SHIFT | upto

    def published(self) -> int:
        """How many leading elements every node rank has published for the current label."""
        low = None
        for words in self.control:
            word = int(words[_PROGRESS])
            if word >> _LABEL_SHIFT != self.label:
                return 0
            upto = word & ((1 << _LABEL_SHIFT) - 1)
            low = upto if low is None else min(low, upto)
        self.win.Sync()  # the data published is read after the words that say so
        return low

    def next_label(self) -> None:
        self.label = (self.label + 1) % _LABELS


def _attach(win, count, dtype, control_offset, node_size, node_rank):
    """This rank's array in ``win``, the list of every node rank's (None at this rank) and
    the list of every node rank's control words."""
    arrays, control = [], []
    for k in range(node_size):
        mem, _ = win.Shared_query(k)
        arrays.append(np.frombuffer(mem, dtype=dtype, count=count))
        control.append(np.frombuffer(mem, dtype=np.int64, count=_CONTROL_WORDS,
                                     offset=control_offset))
    mine = arrays[node_rank]
    arrays[node_rank] = None
    return mine, arrays, control


class SharedBuffers:
    """Shared-memory buffers of one communicator, and the all-reduce over them."""

    def __init__(self, comm):
        self.comm = comm
        self.node = None   # this node's ranks, made on the first allocation
        self.cross = None  # the ranks of this local rank on every node (None on one node)
        self.usable = None
        self.segments = []
        self._one = np.ones(1, np.int64)      # the increment of a claim
        self._claimed = np.zeros(1, np.int64)  # the counter's value before it

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
        control_offset = -(-count * dtype.itemsize // _ALIGN) * _ALIGN
        nbytes = control_offset + _ALIGN
        verdict = np.array([self.usable and _enabled() and count > 0 and _room_for(nbytes)],
                           np.int32)
        self.comm.Allreduce(MPI.IN_PLACE, [verdict, MPI.INT32_T], MPI.MIN)
        if not verdict[0]:
            return None
        try:
            win = MPI.Win.Allocate_shared(nbytes, 1, comm=self.node)
        except MPI.Exception:  # an MPI without shared-memory windows: fails on every rank
            self.usable = False
            return None
        win.Lock_all(MPI.MODE_NOCHECK)  # a passive epoch for the whole lifetime: Sync() works
        me = self.node.Get_rank()
        mine, peers, control = _attach(win, count, dtype, control_offset,
                                       self.node.Get_size(), me)
        mine.fill(0)
        control[me].fill(0)
        self.segments.append(_Segment(win, mine, peers, control, control_offset, me))
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
                seg.peers = seg.control = None
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

    def publish(self, buf, upto: int) -> None:
        """Let the other node ranks start reducing: this rank's elements ``[0, upto)`` of the
        shared buffer ``buf`` hold their final values for its next all-reduce (and will not
        change before it). Used by DDP during backward; a no-op across nodes."""
        if self.cross is None:
            self.locate(buf)[0].set_progress(upto)

    def retract(self, buf) -> None:
        """Withdraw what ``publish`` said for ``buf`` (a backward pass was abandoned). Every
        rank must retract alike, as it must call collectives alike. A no-op across nodes."""
        if self.cross is None:
            seg = self.locate(buf)[0]
            seg.next_label()
            seg.set_progress(0)

    def allreduce(self, seg, first: int, count: int, average: bool = False) -> None:
        """Sum elements ``[first, first + count)`` over all ranks, in every buffer (and divide
        by the number of ranks when ``average``)."""
        mine = seg.mine()  # alive: the caller's array views it
        divisor = self.comm.Get_size() if average else None
        if self.cross is None:
            self._reduce_dynamically(seg, mine, first, count, divisor)
        else:
            self._reduce_across_nodes(seg, mine, first, count, divisor)
        self._fence(seg.win)  # every rank has written its share into all buffers
        seg.next_label()

    def _reduce_dynamically(self, seg, mine, first, count, divisor):
        """One node: claim units of the range and reduce each once every rank published it."""
        buffers = seg.buffers(mine)
        n = len(buffers)
        unit = -(-count // (n * _UNITS_PER_RANK))
        unit = -(-unit // _CHUNK) * _CHUNK
        units = -(-count // unit) if count else 0
        seg.set_progress(first + count)
        base = seg.claims
        published = 0
        while True:
            k = self._claim(seg) - base
            if k >= units:
                break
            a = first + k * unit
            b = min(a + unit, first + count)
            while published < b:
                published = seg.published()
                if published < b:
                    os.sched_yield()  # another rank still computes these; give way to it
            for lo in range(a, b, _CHUNK):
                _reduce_chunk(buffers, lo, min(lo + _CHUNK, b), divisor)
        seg.claims = base + units + n  # every rank's last claim found nothing left

    def _claim(self, seg) -> int:
        """Atomically take the next value of the node's claim counter (rank 0's)."""
        seg.win.Fetch_and_op([self._one, MPI.INT64_T], [self._claimed, MPI.INT64_T], 0,
                             seg.control_disp + _CLAIMS * 8, MPI.SUM)
        seg.win.Flush(0)
        return int(self._claimed[0])

    def _reduce_across_nodes(self, seg, mine, first, count, divisor):
        """Several nodes: sum this rank's share over the node, all-reduce it across nodes, copy
        it to the node's buffers."""
        buffers = seg.buffers(mine)
        n = len(buffers)
        per = -(-count // n)
        step = max(1, _ALIGN // mine.itemsize)
        per = -(-per // step) * step
        lo = first + min(count, seg.me * per)
        hi = first + min(count, (seg.me + 1) * per)
        chunks = [(a, min(a + _CHUNK, hi)) for a in range(lo, hi, _CHUNK)]
        self._fence(seg.win)  # every rank has written its gradients
        for a, b in chunks:
            _node_sum(buffers, a, b)
        # every rank takes part in the cross-node all-reduce, even with an empty share
        self.cross.Allreduce(MPI.IN_PLACE, buffers[0][lo:hi], MPI.SUM)  # type from the buffer
        for a, b in chunks:
            _finish(buffers, a, b, divisor)

    def free(self) -> None:
        """Stop using the buffers (at ``destroy_process_group``). Their memory stays mapped,
        since arrays such as DDP's gradients may still view it, until MPI finalizes."""
        self.segments = []


def _node_sum(buffers, a, b):
    """Add elements ``[a, b)`` of every node rank's buffer into node rank 0's, in rank order."""
    part = buffers[0][a:b]
    for buf in buffers[1:]:
        part += buf[a:b]


def _finish(buffers, a, b, divisor):
    """Divide the sum in node rank 0's elements ``[a, b)`` (when averaging) and copy it to the
    other buffers."""
    part = buffers[0][a:b]
    if divisor is not None:
        divide(part, divisor, part, np)
    for buf in buffers[1:]:
        buf[a:b] = part


def _reduce_chunk(buffers, a, b, divisor):
    """Reduce elements ``[a, b)`` while they are in cache: sum, divide, copy out."""
    _node_sum(buffers, a, b)
    _finish(buffers, a, b, divisor)


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
