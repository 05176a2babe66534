"""Run a launcher command (mpiexec/srun) in the foreground, relay its output, return its code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from .output import Relay


def exit_status(returncode: int) -> int:
    """A child's return code as a shell exit status (killed by signal s -> 128 + s)."""
    return 128 - returncode if returncode < 0 else returncode


def _die_with_parent():  # pragma: no cover - runs in the child before exec
    """Linux: have the child get SIGTERM if the launcher dies (e.g. killed by a timeout)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _job_stdin():
    """The job's standard input: the terminal when distgrad-run runs in its foreground, so that
    ``mpiexec`` forwards it to rank 0 (commands for ``distributed.breakpoint``); else nothing
    (a launcher reading the terminal from the background would be stopped)."""
    try:
        if sys.stdin.isatty() and os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp():
            return None
    except (AttributeError, OSError, ValueError):  # no stdin, or it is closed
        pass
    return subprocess.DEVNULL


def run_relayed(argv: list, env: dict, tag_format: str, rank0_only: bool = False,
                stdout=None, stderr=None) -> int:
    """Start ``argv`` with ``env``, relay its stdout/stderr through :class:`Relay` (rank tags),
    forward SIGINT/SIGTERM/SIGHUP to it, and return its exit status. With ``rank0_only`` and a
    failing job, the last stderr lines of the hidden ranks are printed at the end."""
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    try:
        stdin = _job_stdin()
        proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    except OSError as e:
        err.write(f"distgrad-run: error: cannot start {argv[0]}: {e}\n".encode())
        err.flush()
        return 2
    interactive = stdin is None  # the terminal's input reaches the job: show its prompts
    relays = [Relay(tag_format, dest, rank0_only, show_prompts=interactive) for dest in (out, err)]
    threads = [threading.Thread(target=r.pump, args=(p.fileno(),), daemon=True)
               for r, p in zip(relays, (proc.stdout, proc.stderr))]
    for t in threads:
        t.start()

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    old = {}
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            old[s] = signal.signal(s, forward)
    try:
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:  # the terminal sent SIGINT to mpiexec too; keep waiting
                forward(signal.SIGINT, None)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    for t in threads:
        t.join(timeout=10)  # a rank's orphaned child could keep a pipe open: do not hang on it
    code = exit_status(proc.returncode)
    if rank0_only and code != 0:
        tail = relays[1].hidden_tail()
        if tail:
            err.write(b"distgrad-run: the job failed; last stderr lines of the other ranks:\n" + tail)
            err.flush()
    return code
