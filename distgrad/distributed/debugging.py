"""``breakpoint``: debug one rank in pdb while the other ranks wait for it."""
from __future__ import annotations

import pdb
import sys
import time

from . import process_group as _pgm
from .collectives import _run_blocking

_skipped = {}  # (file, line) of a breakpoint call -> how many calls it has skipped


def breakpoint(rank: int = 0, skip: int = 0, timeout_s: float = 3600) -> None:
    """Stop in pdb on global rank ``rank`` only, while the other ranks wait at a barrier
    (PyTorch's ``torch.distributed.breakpoint``); every rank must call it. The first ``skip``
    calls from the same line do nothing. The wait is exempt from the stall watchdog for
    ``timeout_s`` seconds. Rank 0 reads the debugger's commands from its standard input (where
    ``mpiexec`` forwards the terminal's), other ranks from the terminal (``/dev/tty``) when
    there is one. In a world of one it is ``pdb.set_trace()``."""
    caller = sys._getframe(1)
    if skip > 0:
        key = (caller.f_code.co_filename, caller.f_lineno)
        _skipped[key] = _skipped.get(key, 0) + 1
        if _skipped[key] <= skip:
            return
    pg = _pgm._resolve(None)
    if _pgm.get_rank() == rank:
        debugger = pdb.Pdb(**_terminal(rank))
        others = pg._backend is not None and pg._backend.size > 1
        debugger.message(f"[rank {rank}] distgrad.distributed.breakpoint: "
                         + ("the other ranks wait for this one. " if others else "")
                         + "'up' shows the code that called breakpoint(); 'c' (or 'n') goes on"
                         + (" on every rank." if others else "."))
        debugger.set_trace(sys._getframe())  # stops at the next line: the wait
    _wait_for_every_rank(pg, timeout_s)


def _wait_for_every_rank(pg, timeout_s):
    """A barrier that sleeps between tests instead of spinning (the wait may be long)."""
    backend = pg._backend
    if backend is None or backend.size == 1:
        return

    def wait():
        request = backend.barrier(True)
        while not request.Test():
            time.sleep(0.01)
    _run_blocking(pg, "breakpoint", wait, timeout=timeout_s)


def _terminal(rank):
    """pdb's input and output: the standard streams, except on a rank other than 0 whose
    standard input is not a terminal (MPI launchers forward the terminal to rank 0 only):
    the controlling terminal there, when it can be opened."""
    if rank == 0 or sys.stdin.isatty():
        return {}
    try:
        tty = open("/dev/tty", "r+")  # noqa: SIM115 - it stays open for the session
    except OSError:
        return {}
    return {"stdin": tty, "stdout": tty}
