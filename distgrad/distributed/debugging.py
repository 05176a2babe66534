"""``breakpoint``: debug one rank in pdb while the other ranks wait for it.

MPI launchers forward the terminal's input to rank 0 only (MPICH's also start every rank in a
session of its own, without a controlling terminal). Rank 0 therefore reads the debugger's
commands from its standard input and, when another rank is stopped, relays them to it over a
communicator of their own; the stopped rank's pdb prints to its standard output, which the
launcher shows as usual.
"""
from __future__ import annotations

import os
import pdb
import select
import sys
import time

import numpy as np

from . import process_group as _pgm
from .collectives import _run_blocking

_skipped = {}  # (file, line) of a breakpoint call -> how many calls it has skipped
_SIZE, _DATA, _DONE = 1, 2, 3  # message tags on the relay communicator
_CHUNK = 4096


def breakpoint(rank: int = 0, skip: int = 0, timeout_s: float = 3600) -> None:
    """Stop in pdb on global rank ``rank`` only, while the other ranks wait at a barrier
    (PyTorch's ``torch.distributed.breakpoint``); every rank must call it. The first ``skip``
    calls from the same line do nothing. The wait is exempt from the stall watchdog for
    ``timeout_s`` seconds. The commands come from the job's standard input (the terminal that
    ran ``mpiexec`` or ``distgrad-run``), through rank 0. In a world of one it is
    ``pdb.set_trace()``."""
    caller = sys._getframe(1)
    if skip > 0:
        key = (caller.f_code.co_filename, caller.f_lineno)
        _skipped[key] = _skipped.get(key, 0) + 1
        if _skipped[key] <= skip:
            return
    pg = _pgm._resolve(None)
    backend = pg._backend
    size = 1 if backend is None else backend.size
    me = _pgm.get_rank()
    relay = backend.split(list(range(size))) if size > 1 and rank != 0 else None
    try:
        if me == rank:
            stdin = None if relay is None else _RelayedInput(relay)
            debugger = pdb.Pdb(stdin=stdin, stdout=sys.stdout)  # stdout: pdb then reads stdin
            others = "the other ranks wait for this one. " if size > 1 else ""
            debugger.message(f"distgrad.distributed.breakpoint on rank {rank}: {others}'up' shows "
                             f"the code that called breakpoint(); 'c' goes on.")
            debugger.set_trace(sys._getframe())  # stops at the next line
            _session_ended(stdin)
        elif relay is not None and me == 0:
            _relay_input(relay, rank)
        if size > 1:
            _wait_for_every_rank(backend, pg, timeout_s)
    finally:
        if relay is not None:
            relay.free()


class _RelayedInput:
    """pdb's input on a rank other than 0: rank 0's standard input, relayed. After the session
    (the first stop) it answers 'c', so later stops (after 'n' or 's') go on by themselves."""

    def __init__(self, relay):
        self.relay = relay
        self.pending = b""
        self.ended = self.closed = False

    def readline(self):
        while not (self.ended or self.closed) and b"\n" not in self.pending:
            chunk = _recv_chunk(self.relay)
            self.closed = not chunk  # rank 0's input is closed: pdb quits on an empty line
            self.pending += chunk
        if self.ended:
            return "c\n"
        line, sep, self.pending = self.pending.partition(b"\n")
        return (line + sep).decode(errors="replace")


def _session_ended(stdin):
    """On the stopped rank, after pdb's first stop: tell rank 0 to stop relaying."""
    if isinstance(stdin, _RelayedInput):
        stdin.ended = True
        stdin.relay.isend(np.ones(1, np.int64), 0, _DONE).Wait()


def _relay_input(relay, to):
    """On rank 0: send what arrives on standard input to rank ``to`` until its session ends."""
    done = np.zeros(1, np.int64)
    finished = relay.irecv(done, to, _DONE)
    fd, closed, sent = sys.stdin.fileno(), False, 0
    while not finished.Test():
        if closed or not select.select([fd], [], [], 0.05)[0]:
            if closed:
                time.sleep(0.05)
            continue
        chunk = os.read(fd, _CHUNK)
        closed, sent = not chunk, sent + len(chunk)
        if not sent:
            sys.stderr.write(f"[rank 0] distgrad.distributed.breakpoint: standard input is closed, "
                             f"so no commands reach rank {to}'s debugger\n")
        _send_chunk(relay, chunk, to)


def _send_chunk(relay, chunk, to):
    relay.isend(np.array([len(chunk)], np.int64), to, _SIZE).Wait()
    if chunk:
        relay.isend(np.frombuffer(chunk, np.uint8), to, _DATA).Wait()


def _recv_chunk(relay):
    size = np.zeros(1, np.int64)
    relay.irecv(size, 0, _SIZE).Wait()
    data = np.empty(int(size[0]), np.uint8)
    if len(data):
        relay.irecv(data, 0, _DATA).Wait()
    return data.tobytes()


def _wait_for_every_rank(backend, pg, timeout_s):
    """A barrier that sleeps between tests instead of spinning (the wait may be long)."""
    def wait():
        request = backend.barrier(True)
        while not request.Test():
            time.sleep(0.01)
    _run_blocking(pg, "breakpoint", wait, timeout=timeout_s)
