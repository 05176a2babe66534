"""Run real multi-process MPI jobs from pytest, bounded by a timeout.

Usage in a test::

    from mpi_helpers import assert_ok_lines, run_mpi   # tests/ is on sys.path under pytest

    def test_something(tmp_path):
        res = run_mpi(2, '''
            import distgrad.distributed as dist
            dist.init_process_group()
            ...
            print(f"OK rank {dist.get_rank()}")
        ''')
        assert_ok_lines(res, 2)

* ``run_mpi(n, script, *args, timeout=60, env=None, mpi4py_runner=True)`` writes ``script``
  (source text, dedented; or a path to an existing file) to a temporary file and runs
  ``<mpiexec> -n N <sys.executable> -m mpi4py <script> args...``. ``mpi4py_runner=False``
  leaves out ``-m mpi4py`` (for testing distgrad's own abort-on-exception hook).
* The child environment is this process's, minus the variables of any outer launcher (PMI,
  PMIx, Open MPI, Slurm step) and minus ``DISTGRAD_TIMEOUT``/``DISTGRAD_DEBUG``/
  ``DISTGRAD_CUDA_AWARE_MPI`` (pass them in ``env``), with the repository root prepended to
  ``PYTHONPATH`` and ``PYTHONUNBUFFERED=1``. ``env`` entries override it; a value of None
  removes the variable.
* Job scripts can be files (e.g. ``tests/distributed/jobs/*.py``, runnable by hand) or source
  text; assert inside the ranks and print one ``OK rank r`` line per rank at the end
  (:func:`assert_ok_lines`). Test many things per launch: each launch costs ~0.5-1 s.
* The job runs in its own session; on timeout the whole process group (mpiexec, its proxies
  and the ranks) is killed and :class:`MPITimeout` (an AssertionError carrying the output so
  far) is raised. Nothing is left running.
* ``pytest.skip`` is called when mpi4py/an MPI library or ``mpiexec`` is missing.
* The result is a ``subprocess.CompletedProcess`` (text ``stdout``/``stderr``) with an extra
  ``elapsed`` attribute (seconds) and ``output`` (stdout + stderr).

``run_python(script, *args, ...)`` is the same for one plain ``python`` process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables through which a launcher tells a process its place in a job. An outer launcher's
# values (pytest itself run under srun/mpiexec) must not leak into the jobs the tests start.
# (Configuration variables such as OMPI_MCA_*, OMPI_ALLOW_RUN_AS_ROOT or I_MPI_* are kept.)
LAUNCHER_VARIABLE_PREFIXES = ("PMI_", "PMIX_", "OMPI_COMM_WORLD_", "MV2_COMM_WORLD_",
                              "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_")
DISTGRAD_VARIABLES = ("DISTGRAD_TIMEOUT", "DISTGRAD_DEBUG", "DISTGRAD_CUDA_AWARE_MPI",
                      "DISTGRAD_SHM_ALLREDUCE")

__all__ = ["find_mpiexec", "require_mpi", "run_mpi", "run_python", "clean_env",
           "assert_ok_lines", "MPITimeout", "REPO_ROOT"]


class MPITimeout(AssertionError):
    """A job ran past its timeout (it was killed); ``.stdout``/``.stderr`` hold its output."""

    def __init__(self, msg, stdout="", stderr=""):
        super().__init__(msg)
        self.stdout, self.stderr = stdout, stderr


def find_mpiexec():
    """``mpiexec`` next to ``sys.executable`` (the mpich wheel puts it there), else on PATH."""
    for name in ("mpiexec", "mpirun"):
        cand = Path(sys.executable).parent / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return shutil.which("mpiexec") or shutil.which("mpirun")


_mpi_check = {}


def require_mpi() -> str:
    """The mpiexec path; skips the test when mpi4py, an MPI library or mpiexec is missing."""
    if "result" not in _mpi_check:
        reason = None
        probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"],
                               capture_output=True, text=True, env=clean_env(), timeout=60)
        if probe.returncode != 0:
            reason = f"mpi4py/MPI library not usable: {probe.stderr.strip()[-300:]}"
        mpiexec = find_mpiexec()
        if reason is None and mpiexec is None:
            reason = "no mpiexec next to sys.executable or on PATH"
        _mpi_check["result"] = (mpiexec, reason)
    mpiexec, reason = _mpi_check["result"]
    if reason is not None:
        pytest.skip(reason)
    return mpiexec


def clean_env(env=None, keep_distgrad=False) -> dict:
    """This process's environment without launcher variables, ready for a child job."""
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(LAUNCHER_VARIABLE_PREFIXES)
           and (keep_distgrad or k not in DISTGRAD_VARIABLES)}
    paths = [str(REPO_ROOT)] + [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p]
    out["PYTHONPATH"] = os.pathsep.join(paths)
    out["PYTHONUNBUFFERED"] = "1"
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Open MPI's mpiexec refuses root otherwise
        out.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        out.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    for k, v in (env or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


def _script_path(script, workdir) -> str:
    if isinstance(script, Path) or (isinstance(script, str) and "\n" not in script
                                    and script.endswith(".py") and os.path.exists(script)):
        return str(Path(script).resolve())  # the job runs in another directory
    path = Path(workdir) / "job.py"
    path.write_text(textwrap.dedent(script).lstrip("\n"))
    return str(path)


def _run(cmd, timeout, env, cwd, input=None):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd, start_new_session=True,
                            stdin=None if input is None else subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc)
        out, err = proc.communicate()
        raise MPITimeout(f"timed out after {timeout} s (killed): {' '.join(cmd)}\n"
                         f"--- stdout ---\n{out}\n--- stderr ---\n{err}", out, err) from None
    finally:
        if proc.poll() is None:
            _kill_session(proc)
    res = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    res.elapsed = time.monotonic() - start
    res.output = out + err
    return res


def _descendants(pid):
    """Pids of all processes below ``pid`` (Hydra's proxies may put ranks in other process
    groups, so killing the process group alone can leave ranks running)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_session(proc):
    """End the job: SIGTERM to its process group (mpiexec then stops its ranks), then SIGKILL
    to whatever is left of the processes it started (by the pids recorded before)."""
    pids = _descendants(proc.pid) if os.path.isdir("/proc") else []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        pass
    for target in [proc.pid] + pids:
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_mpi(n, script, *args, timeout=60, env=None, mpi4py_runner=True, mpiexec_args=(),
            cwd=None, input=None) -> subprocess.CompletedProcess:
    """Run ``script`` on ``n`` ranks; see the module docstring. ``input`` (text) is written to
    the job's standard input, which ``mpiexec`` forwards to rank 0."""
    mpiexec = require_mpi()
    with tempfile.TemporaryDirectory(prefix="distgrad-mpi-") as tmp:
        path = _script_path(script, tmp)
        cmd = [mpiexec, "-n", str(n), *mpiexec_args, sys.executable]
        if mpi4py_runner:
            cmd += ["-m", "mpi4py"]
        cmd += [path, *map(str, args)]
        return _run(cmd, timeout, clean_env(env), cwd or tmp, input)


def run_python(script, *args, timeout=60, env=None, cwd=None,
               input=None) -> subprocess.CompletedProcess:
    """Run ``script`` in one plain ``python`` process (no launcher)."""
    with tempfile.TemporaryDirectory(prefix="distgrad-py-") as tmp:
        path = _script_path(script, tmp)
        return _run([sys.executable, path, *map(str, args)], timeout, clean_env(env), cwd or tmp,
                    input)


def assert_ok_lines(res, n, marker="OK rank"):
    """Assert the job exited 0 and printed ``f"{marker} {r}"`` for every rank r < n."""
    msg = f"rc={res.returncode}\n--- stdout ---\n{res.stdout}\n--- stderr ---\n{res.stderr}"
    assert res.returncode == 0, msg
    for r in range(n):
        assert f"{marker} {r}" in res.stdout, msg
