"""Helpers for tests/test_launch.py and tests/test_slurm.py: run commands with a hard timeout
(killing the whole process group, so no rank survives a hung test) and find MPI."""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # make `launch` importable however pytest was started
    sys.path.insert(0, str(REPO))

TIMEOUT = 60


@dataclass
class Result:
    """What a finished command left behind."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(argv, timeout: float = TIMEOUT, env: dict | None = None, cwd=REPO, input=None) -> Result:
    """Run argv in its own session; on timeout kill the session and fail the test."""
    proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, text=True,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        import pytest
        pytest.fail(f"timed out after {timeout}s: {argv}\nstdout:\n{out}\nstderr:\n{err}")
    return Result(proc.returncode, out, err)


def launcher(*args, **kw) -> Result:
    """Run ``python -m launch ARGS`` (distgrad-run) from the repository root."""
    return run([sys.executable, "-m", "launch", *args], **kw)


def mpiexec_path() -> str | None:
    """The mpiexec next to this python (the mpich wheel's), else on PATH."""
    from launch.mpi import find_mpiexec
    return find_mpiexec(sys.executable)


@functools.lru_cache(maxsize=None)
def mpi_missing_reason() -> str | None:
    """Why real MPI runs cannot work here (None if they can)."""
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install mpi4py mpich)"
    if mpiexec_path() is None:
        return "no mpiexec next to sys.executable or on PATH (pip install mpich)"
    from launch.mpi import LIBRARY_VERSION_CODE
    r = subprocess.run([sys.executable, "-c", LIBRARY_VERSION_CODE], capture_output=True,
                       text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        return "mpi4py cannot load an MPI library: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


ALLREDUCE_SCRIPT = """\
import sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
total = comm.allreduce(comm.Get_rank() + 1, op=MPI.SUM)
print(f"WORLD size={comm.Get_size()} rank={comm.Get_rank()} sum={total} args={sys.argv[1:]}")
print(f"stderr of rank {comm.Get_rank()}", file=sys.stderr)
"""

EXIT3_ON_RANK1_SCRIPT = """\
import sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
print(f"rank {comm.Get_rank()} started", flush=True)
if comm.Get_rank() == 1:
    sys.exit(3)
comm.Barrier()   # rank 0 would wait forever if the job were not aborted
"""


def write_script(directory: Path, name: str, text: str) -> Path:
    """Write a test script and return its path."""
    p = Path(directory) / name
    p.write_text(text)
    return p
