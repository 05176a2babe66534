"""Who launched this process, and how many processes should the job have?

Pure functions over an environment mapping (``os.environ`` by default), so they can be tested
without a launcher. Nothing here imports MPI.

The variables read, by launcher (the first family found wins; an MPI launcher's own variables
come before Slurm's, because ``mpiexec`` inside an allocation starts its proxies with ``srun``,
which gives them Slurm step variables that count nodes, not ranks):

=================  ==============================================  ===========================
launcher           world size / rank                               local rank / local size
=================  ==============================================  ===========================
Open MPI (PRRTE)   OMPI_COMM_WORLD_SIZE / OMPI_COMM_WORLD_RANK      OMPI_COMM_WORLD_LOCAL_*
MVAPICH            MV2_COMM_WORLD_SIZE / MV2_COMM_WORLD_RANK         MV2_COMM_WORLD_LOCAL_*
PMI (MPICH Hydra,  PMI_SIZE / PMI_RANK                              MPI_LOCALRANKID /
Intel MPI, srun                                                     MPI_LOCALNRANKS
--mpi=pmi2)
PMIx               (size from Slurm if in a step) / PMIX_RANK
Slurm step         SLURM_STEP_NUM_TASKS (or SLURM_NTASKS) /        SLURM_LOCALID
                   SLURM_PROCID, only inside a step (SLURM_STEP_ID
                   set and not the batch/extern/interactive step)
=================  ==============================================  ===========================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

__all__ = ["LaunchInfo", "detect_launch", "singleton_trap_message", "mpi_library_family"]

# Slurm's special step ids (batch script, extern, interactive, pending) are all >= this value;
# in those steps there is one process per node, not one per task.
_SLURM_SPECIAL_STEP_IDS = 0xFFFFFFF0


@dataclass(frozen=True)
class LaunchInfo:
    """What the environment says about this process's place in a multi-process job."""

    launcher: Optional[str] = None  # "openmpi", "mvapich", "pmi", "pmix", "slurm" or None
    world_size: Optional[int] = None  # expected number of processes, None when unknown
    rank: Optional[int] = None
    local_rank: Optional[int] = None
    local_world_size: Optional[int] = None
    evidence: tuple = field(default_factory=tuple)  # ("NAME=value", ...) that were used
    in_slurm_step: bool = False
    slurm_tasks: Optional[int] = None  # tasks in this Slurm step, when inside one

    @property
    def launched(self) -> bool:
        """True when some launcher (mpiexec, mpirun, srun) started this process."""
        return self.launcher is not None

    def describe(self) -> str:
        """The launcher variables that were used, as ``"NAME=value, ..."`` (for messages)."""
        return ", ".join(self.evidence) if self.evidence else "no launcher variables"


def _int(env: Mapping[str, str], name: str) -> Optional[int]:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _slurm_step(env: Mapping[str, str]):
    """(inside a task step, number of tasks in it) from the Slurm variables."""
    step = env.get("SLURM_STEP_ID")
    if step is None:
        return False, None
    try:
        step_id = int(step)
    except ValueError:  # e.g. "batch", "extern"
        return False, None
    if step_id >= _SLURM_SPECIAL_STEP_IDS:
        return False, None
    tasks = _int(env, "SLURM_STEP_NUM_TASKS")
    if tasks is None:
        tasks = _int(env, "SLURM_NTASKS")
    return True, tasks


# (launcher, size, rank, local rank, local size) variables of the MPI launchers, checked in order
_MPI_LAUNCHER_VARS = (
    ("openmpi", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"),
    ("mvapich", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
     "MV2_COMM_WORLD_LOCAL_SIZE"),
    ("pmi", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
)


def detect_launch(environ: Optional[Mapping[str, str]] = None) -> LaunchInfo:
    """Read the launcher variables of ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    in_step, step_tasks = _slurm_step(env)

    def ev(*names):
        return tuple(f"{n}={env[n]}" for n in names if n in env)

    common = dict(in_slurm_step=in_step, slurm_tasks=step_tasks)

    for launcher, size_var, rank_var, local_rank_var, local_size_var in _MPI_LAUNCHER_VARS:
        size = _int(env, size_var)
        if size is not None:
            return LaunchInfo(launcher, size, _int(env, rank_var), _int(env, local_rank_var),
                              _int(env, local_size_var), ev(size_var, rank_var), **common)

    if _int(env, "PMIX_RANK") is not None:
        size = step_tasks if in_step else None
        return LaunchInfo(
            "pmix", size, _int(env, "PMIX_RANK"),
            _int(env, "SLURM_LOCALID") if in_step else None, None,
            ev("PMIX_RANK") + (ev("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS") if in_step else ()),
            **common)

    if in_step:
        return LaunchInfo(
            "slurm", step_tasks, _int(env, "SLURM_PROCID"), _int(env, "SLURM_LOCALID"), None,
            ev("SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_PROCID"),
            **common)

    return LaunchInfo(**common)


def mpi_library_family(library_version: str) -> str:
    """'Open MPI', 'Intel MPI', 'MVAPICH', 'MPICH' or 'unknown MPI' from Get_library_version()."""
    text = library_version.replace("\x00", "")
    low = text.lower()
    if "open mpi" in low:
        return "Open MPI"
    if "intel" in low:
        return "Intel MPI"
    if "mvapich" in low:
        return "MVAPICH"
    if "mpich" in low:
        return "MPICH"
    return "unknown MPI"


def _first_line(text: str) -> str:
    text = text.replace("\x00", "").strip()
    return text.splitlines()[0].strip() if text else "unknown"


def singleton_trap_message(info: LaunchInfo, mpi_world_size: int, library_version: str) -> str:
    """The error text for 'the launcher says N > 1 processes, MPI says 1'."""
    family = mpi_library_family(library_version)
    lib = _first_line(library_version)
    lines = [
        f"distgrad: the launcher started this job with {info.world_size} processes "
        f"({info.describe()}), but MPI reports a world of size {mpi_world_size}: every process "
        f"is running alone, as rank 0 of 1 (the 'singleton trap'). The MPI library "
        f"mpi4py loaded ({family}: {lib}) did not connect to the launcher's "
        f"process-management interface, so training would silently run {info.world_size} "
        f"independent copies.",
    ]
    if info.launcher in ("slurm", "pmix") or info.in_slurm_step:
        if family == "Open MPI":
            fix = ("Fix: launch with `srun --mpi=pmix ...` (Open MPI needs PMIx), or run "
                   "Open MPI's `mpiexec` inside the allocation.")
        elif family == "unknown MPI":
            fix = ("Fix: launch with the PMI type your MPI library supports: "
                   "`srun --mpi=pmi2 ...` for MPICH, Intel MPI and MVAPICH, "
                   "`srun --mpi=pmix ...` for Open MPI.")
        else:
            fix = (f"Fix: launch with `srun --mpi=pmi2 ...` ({family} needs PMI-2; "
                   "`--mpi=pmix` is for Open MPI), set MpiDefault=pmi2 in slurm.conf, or run "
                   f"{family}'s `mpiexec` inside the allocation.")
        lines.append(fix + " `srun --mpi=list` shows the PMI types this cluster offers.")
    else:
        launcher_family = {"openmpi": "Open MPI", "mvapich": "MVAPICH",
                           "pmi": "an MPICH-family (Hydra/PMI)"}.get(info.launcher, info.launcher)
        lines.append(
            f"The process was started by {launcher_family} launcher, but mpi4py loaded "
            f"{family}: the launcher and the MPI library do not match. Fix: use the `mpiexec` "
            f"that belongs to the MPI library mpi4py loads (for the `mpich` PyPI wheel: the "
            f"`mpiexec` next to the Python executable), or point mpi4py at the other library "
            f"(MPI4PY_LIBMPI / MPI4PY_MPIABI).")
    return "\n".join(lines)
