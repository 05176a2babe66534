"""Failing fast in a multi-process job.

Three mechanisms, all installed by ``init_process_group`` only when the world has more than one
process (a world of one installs nothing, so ``pdb`` and plain tracebacks work):

1. **Abort on an uncaught exception** (:func:`install_excepthook`). Without it, a rank that dies
   with a traceback leaves the others blocked forever in their next collective when the job was
   launched as ``mpiexec python script.py`` (``python -m mpi4py script.py`` already aborts). The
   hook prints the traceback with a ``[rank r]`` prefix on every line, then calls
   ``MPI.COMM_WORLD.Abort``. Limit: ``sys.exit(nonzero)`` on one rank does not reach
   ``sys.excepthook``; without ``-m mpi4py`` the other ranks then wait until the stall watchdog
   fires. Launch with ``python -m mpi4py`` to cover it at once.

2. **Stall watchdog** (:class:`Watchdog`). Blocking collectives run as the plain blocking MPI
   call (full speed, full MPI progress). Before the call, the calling thread records
   ``(group, sequence number, name, start time)`` in a dict; after it, it removes the record.
   That is the whole cost on the fast path (well under a microsecond). A daemon thread wakes
   every ``min(1 s, timeout / 8)``; when a record is older than the timeout it

   * sends a small query to every other member of the collective's group on a private
     communicator (needs ``MPI_THREAD_MULTIPLE``, which mpi4py requests by default); each
     rank's watchdog thread answers with its state: which collective it is waiting in (if any),
     how many collectives it has started on that group, and its Python stack;
   * prints one report naming the ranks that have not arrived, what each of them is doing
     and where, then calls ``MPI_Abort``.

   When several ranks time out in the same collective, one report is written: a rank that
   receives a query about the collective it is stuck in postpones its own report (the querier
   is about to abort the job); when two ranks query each other at once, the lower rank reports. A rank whose watchdog cannot answer (the process
   has exited, or it is stuck in C code that holds the GIL) is reported as "did not answer".

3. **Debug checks** (:func:`debug_check`, ``DISTGRAD_DEBUG=1``). Before each collective the
   members allgather a fixed-size descriptor (kind, dtype, shape, op, root). When the
   descriptors differ, the members exchange human-readable descriptions with call sites, and
   every member raises :class:`CollectiveMismatchError` naming the ranks that differ and what
   differs. No rank enters the mismatched collective, so nothing hangs and the group is still
   usable after the error is caught.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
import zlib

import numpy as np

__all__ = [
    "CollectiveMismatchError", "Watchdog", "install_excepthook", "uninstall_excepthook",
    "debug_check", "user_call_site",
]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../distgrad
_THIS_DIR = os.path.dirname(os.path.abspath(__file__))  # .../distgrad/distributed


class CollectiveMismatchError(RuntimeError):
    """Ranks called different collectives, or the same one with different shapes/dtypes."""


# --------------------------------------------------------------------------- call sites


def _is_internal(filename: str) -> bool:
    return filename.startswith(_PKG_DIR + os.sep)


def user_call_site(frame=None) -> str:
    """``file:line in func`` of the innermost frame outside the distgrad package."""
    f = sys._getframe(1) if frame is None else frame
    while f is not None and _is_internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return "<unknown>"
    return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


_NOISE_FILES = (threading.__file__,)


def _noise(filename: str) -> bool:
    """Frames a report leaves out: distgrad.distributed itself, runpy (<frozen ...>), the
    ``python -m mpi4py`` runner and the threading module."""
    return (filename.startswith(_THIS_DIR + os.sep) or filename.startswith("<")
            or filename in _NOISE_FILES
            or (os.sep + "mpi4py" + os.sep) in filename)


def _stack_text(frame, limit: int = 4) -> str:
    """The last ``limit`` interesting frames of a stack, one ``file:line in func: code`` each."""
    if frame is None:
        return "<no stack>"
    entries = [e for e in traceback.extract_stack(frame) if not _noise(e.filename)][-limit:]
    lines = []
    for e in entries:
        code = f": {e.line.strip()}" if e.line else ""
        lines.append(f"{e.filename}:{e.lineno} in {e.name}{code}")
    return "\n".join(lines) if lines else "<no user frames>"


# --------------------------------------------------------------------------- excepthook

_hook_state = {"hook": None, "prev": None}


def install_excepthook(rank: int) -> None:
    """Make an uncaught exception on this rank print ``[rank r]`` + traceback and abort all."""
    if _hook_state["hook"] is not None:
        return
    prev = sys.excepthook
    pid = os.getpid()

    def distgrad_excepthook(etype, value, tb):
        if os.getpid() != pid:  # a forked child (e.g. a data worker) is not an MPI rank
            return (prev or sys.__excepthook__)(etype, value, tb)
        code = 1
        try:
            if issubclass(etype, KeyboardInterrupt):
                code = 130
            prefix = f"[rank {rank}] "
            if prev is sys.__excepthook__ or prev is None:
                text = "".join(traceback.format_exception(etype, value, tb))
                sys.stderr.write("".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n")))
            else:  # a user's or a tool's hook: let it print in its own way
                prev(etype, value, tb)
            sys.stderr.write(f"{prefix}distgrad: uncaught {etype.__name__} on rank {rank}; "
                             f"aborting all ranks (MPI_Abort)\n")
            _flush()
        finally:
            _abort(code)

    sys.excepthook = distgrad_excepthook
    _hook_state["hook"] = distgrad_excepthook
    _hook_state["prev"] = prev


def uninstall_excepthook() -> None:
    """Put back the ``sys.excepthook`` that ``install_excepthook`` replaced."""
    hook = _hook_state["hook"]
    if hook is None:
        return
    if sys.excepthook is hook:
        sys.excepthook = _hook_state["prev"]
    _hook_state["hook"] = _hook_state["prev"] = None


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _abort(code: int, linger: float = 0.3) -> None:
    # give the launcher's I/O forwarding a moment to pass on what this rank just wrote:
    # Hydra tears the job down at once on MPI_Abort and can drop the last lines otherwise
    time.sleep(linger)
    try:
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(code)
    finally:  # Abort does not return; if it somehow does, do not leave a half-dead rank
        os._exit(code)


# --------------------------------------------------------------------------- watchdog

_TAG_QUERY = 7301
_TAG_REPLY = 7302


class Watchdog:
    """Watches the collectives in flight; see the module docstring.

    ``ctl_comm`` is a private duplicate of COMM_WORLD used only by the watchdog threads;
    ``groups`` maps group id -> ProcessGroup (the live registry, read when answering).
    """

    def __init__(self, ctl_comm, timeout_s: float, groups, thread_multiple: bool):
        self.ctl = ctl_comm
        self.rank = ctl_comm.Get_rank()
        self.timeout = float(timeout_s)
        self.groups = groups
        self.thread_multiple = thread_multiple
        self.interval = min(1.0, max(0.05, self.timeout / 8.0))
        self.reply_window = 3.0 * self.interval + 0.5
        self.inflight = {}  # thread ident -> (pg, seq, name, t0, timeout or None)
        self._deferred = {}  # (gid, seq) -> monotonic time before which not to report
        self._firing = None  # (gid, seq) while this rank is collecting replies
        self._pending_sends = []
        self._qid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="distgrad-watchdog", daemon=True)

    # fast path, called by the collectives -------------------------------------------------
    def enter(self, pg, seq, name, t0=None, timeout=None):
        """Record this thread as in collective ``name`` (``seq`` on ``pg``) since ``t0`` (default
        now); returns the id for ``exit``. ``timeout`` (seconds) overrides the watchdog's."""
        tid = threading.get_ident()
        self.inflight[tid] = (pg, seq, name, time.monotonic() if t0 is None else t0, timeout)
        return tid

    def exit(self, tid):
        """Record that the collective entered as ``tid`` has finished."""
        self.inflight.pop(tid, None)

    # thread --------------------------------------------------------------------------------
    def start(self):
        """Start the watchdog thread."""
        self._thread.start()

    def stop(self):
        """Stop the watchdog thread and wait (up to 5 s) for it to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def _run(self):
        errors = 0
        while not self._stop.wait(self.interval):
            try:
                if self.thread_multiple:  # below MPI_THREAD_MULTIPLE only Abort is risked
                    self._serve()
                self._check()
            except Exception:  # keep watching, and say why (a few times, not forever)
                errors += 1
                if errors <= 3:
                    sys.stderr.write(f"[rank {self.rank}] distgrad watchdog error:\n"
                                     + traceback.format_exc())
                    _flush()

    def _check(self):
        now = time.monotonic()
        for tid, (pg, seq, name, t0, timeout) in list(self.inflight.items()):
            limit = self.timeout if timeout is None else timeout
            if now - t0 < limit:
                continue
            if self._deferred.get((pg.gid, seq), 0.0) > now:
                continue
            self._fire(tid, pg, seq, name, t0, limit)

    # answering queries -----------------------------------------------------------------------
    def _state(self, gid):
        frames = sys._current_frames()
        flights = []
        for tid, (pg, seq, name, t0, _) in list(self.inflight.items()):
            flights.append({"gid": pg.gid, "seq": seq, "name": name,
                            "elapsed": round(time.monotonic() - t0, 3),
                            "stack": _stack_text(frames.get(tid))})
        main = threading.main_thread().ident
        pg = self.groups.get(gid)
        return {"rank": self.rank, "flights": flights,
                "launched": None if pg is None else pg._seq,
                "stack": _stack_text(frames.get(main))}

    def _serve(self):
        from mpi4py import MPI

        self._pending_sends = [(r, b) for (r, b) in self._pending_sends if not r.Test()]
        status = MPI.Status()
        while self.ctl.Iprobe(MPI.ANY_SOURCE, _TAG_QUERY, status):
            src = status.Get_source()
            n = status.Get_count(MPI.BYTE)
            buf = bytearray(n)
            self.ctl.Recv([buf, MPI.BYTE], src, _TAG_QUERY)
            query = json.loads(buf.decode())
            key = (query["gid"], query["seq"])
            # someone else is reporting the collective this rank is stuck in: let them
            mine = any((pg.gid, seq) == key for (pg, seq, *_rest) in list(self.inflight.values()))
            if mine and (self._firing != key or src < self.rank):
                self._deferred[key] = time.monotonic() + self.reply_window + 5.0
            reply = dict(self._state(query["gid"]), qid=query["qid"])
            data = bytearray(json.dumps(reply).encode())
            # keep the buffer alive until the send completes
            self._pending_sends.append((self.ctl.Isend([data, MPI.BYTE], src, _TAG_REPLY), data))

    # reporting ---------------------------------------------------------------------------------
    def _fire(self, tid, pg, seq, name, t0, limit):
        from mpi4py import MPI

        key = (pg.gid, seq)
        others = [r for r in pg.world_ranks if r != self.rank]
        replies = {}
        if self.thread_multiple and others:
            self._qid += 1
            qid = self._qid
            data = bytearray(json.dumps({"gid": pg.gid, "seq": seq, "name": name,
                                         "qid": qid}).encode())
            sends = [self.ctl.Isend([data, MPI.BYTE], r, _TAG_QUERY) for r in others]
            self._firing = key
            end = time.monotonic() + self.reply_window
            status = MPI.Status()
            try:
                while time.monotonic() < end and len(replies) < len(others):
                    self._serve()
                    if self._deferred.get(key, 0.0) > time.monotonic():
                        return  # a lower rank is reporting this collective
                    while self.ctl.Iprobe(MPI.ANY_SOURCE, _TAG_REPLY, status):
                        src = status.Get_source()
                        buf = bytearray(status.Get_count(MPI.BYTE))
                        self.ctl.Recv([buf, MPI.BYTE], src, _TAG_REPLY)
                        reply = json.loads(buf.decode())
                        if reply.get("qid") == qid:
                            replies[src] = reply
                    time.sleep(0.01)
            finally:
                self._firing = None
                self._pending_sends += [(r, data) for r in sends]
        frames = sys._current_frames()
        report = _format_report(self.rank, pg, seq, name, time.monotonic() - t0, limit,
                                _stack_text(frames.get(tid)), others, replies,
                                self.thread_multiple)
        sys.stderr.write(report)
        _flush()
        _abort(1)


def _group_desc(pg) -> str:
    if pg.gid == 0:
        return "the default group"
    return f"group {pg.gid} (world ranks {list(pg.world_ranks)})"


def _slot(seq) -> str:
    """How a report names a wait: a collective by its number, or a point-to-point message."""
    return "point-to-point" if seq is None else f"collective #{seq}"


def _format_report(me, pg, seq, name, elapsed, limit, my_stack, others, replies,
                   thread_multiple) -> str:
    p = f"[rank {me}] "
    what = f"{_slot(seq)} on {_group_desc(pg)}"
    out = [f"distgrad watchdog: {name} ({what}) has not "
           f"completed after {elapsed:.1f} s (timeout {limit:g} s, set by "
           f"init_process_group(timeout=...) or DISTGRAD_TIMEOUT)."]
    out.append("this rank is waiting at:")
    out += ["  " + line for line in my_stack.split("\n")]
    missing, waiting, silent, details = [], [me], [], []
    for r in others:
        rep = replies.get(r)
        if rep is None:
            silent.append(r)
            continue
        here = [f for f in rep["flights"]  # point-to-point (seq None): no common slot
                if seq is not None and f["gid"] == pg.gid and f["seq"] == seq]
        if here and here[0]["name"] == name:
            waiting.append(r)
            continue
        launched = rep.get("launched")
        if here:  # same slot, different collective
            missing.append(r)
            details.append(f"rank {r}: is in {here[0]['name']} as collective #{seq} on this group "
                           f"instead of {name}: the ranks called mismatched collectives "
                           f"(DISTGRAD_DEBUG=1 checks this before every collective); at:")
            details += ["    " + s for s in here[0]["stack"].split("\n")]
            continue
        if seq is not None and launched is not None and launched >= seq:
            waiting.append(r)  # started it (asynchronously) and is not waiting on it yet
            continue
        missing.append(r)
        if rep["flights"]:
            f = rep["flights"][0]
            gdesc = "this group" if f["gid"] == pg.gid else f"group {f['gid']}"
            details.append(f"rank {r}: has started {launched} collective(s) on this group; it is "
                           f"waiting in {f['name']} ({_slot(f['seq'])} on {gdesc}) for "
                           f"{f['elapsed']:.1f} s, at:")
            details += ["    " + s for s in f["stack"].split("\n")]
        else:
            details.append(f"rank {r}: has started {launched} collective(s) on this group and is "
                           f"not in any collective; it is at:")
            details += ["    " + s for s in rep["stack"].split("\n")]
    if not thread_multiple:
        out.append("(the MPI library does not provide MPI_THREAD_MULTIPLE, so the other ranks "
                   "could not be asked what they are doing)")
    else:
        out.append(f"ranks that have not arrived: {sorted(missing + silent)}" if seq is not None
                   else "where the other ranks are:")
        out += details
        if silent:
            out.append(f"ranks that did not answer (exited, e.g. sys.exit() or the end of the "
                       f"script, or stuck in native code holding the GIL): {sorted(silent)}")
        if seq is not None:
            out.append(f"ranks that arrived: {sorted(waiting)}")
    out.append("aborting the job (MPI_Abort).")
    return "".join(p + line + "\n" for line in out)


# --------------------------------------------------------------------------- debug checks

_MAGIC = 0x5D15C0
_KINDS = {}
_OPS = {}


def _code(table, key) -> int:
    if key not in table:
        table[key] = zlib.crc32(str(key).encode()) & 0x7FFFFFFF
    return table[key]


def _describe(kind, arr, op, root, extra) -> str:
    parts = []
    if arr is not None:
        parts.append(f"shape={tuple(arr.shape)}, dtype={arr.dtype}")
    if op is not None:
        parts.append(f"op={op}")
    if root is not None:
        parts.append(f"root={root}")
    if extra is not None:
        parts.append(f"{extra[0]}={extra[1]}")
    return f"{kind}({', '.join(parts)})"


def debug_check(pg, kind: str, arr=None, op=None, root=None, extra=None) -> None:
    """Check that every member of ``pg`` is calling the same collective the same way.

    ``arr``: the array whose shape and dtype must agree across ranks (None for object/barrier
    collectives); ``op``: the reduction; ``root``: the global src/dst rank; ``extra``: a
    (name, int) pair that must agree too (e.g. the length of an object list).
    """
    if arr is not None:
        shape = tuple(int(s) for s in arr.shape)
        dt = _code(_KINDS, "dtype:" + np.dtype(arr.dtype).str)
        desc = [len(shape), int(np.prod(shape, dtype=np.int64)),
                zlib.crc32(repr(shape).encode()), dt]
    else:
        desc = [-1, -1, -1, -1]
    row = np.array([_MAGIC, _code(_KINDS, kind), _code(_OPS, str(op)),
                    -1 if root is None else int(root)] + desc
                   + [-1 if extra is None else int(extra[1])], dtype=np.int64)
    table = np.empty((pg.size(), row.size), dtype=np.int64)
    pg._backend.allgather(row, table, False)
    if (table == row).all():
        return
    # mismatch: everyone sees the same table, so everyone takes this path together
    mine = f"{_describe(kind, arr, op, root, extra)} at {user_call_site()}"
    texts = [b.decode(errors="replace") for b in pg._backend.allgather_bytes(mine.encode())]
    fields = {2: "op", 3: "root (src/dst)", 4: "shape", 5: "shape", 6: "shape", 7: "dtype",
              1: "collective kind", 8: extra[0] if extra else "arguments", 0: "debug mode"}
    ref = table[0]
    differ = [r for r in range(pg.size()) if not (table[r] == ref).all()]
    what = sorted({fields[i] for r in differ for i in np.nonzero(table[r] != ref)[0]})
    ranks = [pg.world_ranks[r] for r in range(pg.size())]
    lines = [f"distgrad debug check (DISTGRAD_DEBUG=1): ranks called mismatched collectives "
             f"(collective #{pg._seq} on {_group_desc(pg)}); {', '.join(what)} differ(s)."]
    for r, text in enumerate(texts):
        lines.append(f"  rank {ranks[r]}: {text}")
    lines.append(f"ranks that differ from rank {ranks[0]}: {[ranks[r] for r in differ]}")
    raise CollectiveMismatchError("\n".join(lines))
