"""Command line of ``distgrad-run`` (also ``python -m launch``)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import sys
from pathlib import Path

from . import debug as debug_mod
from . import mpi
from . import slurm as slurm_mod
from .errors import NO_MPI_HINT, LaunchError
from .runner import run_relayed

PROG = "distgrad-run"

DESCRIPTION = """\
Run a distgrad script on N ranks.

  distgrad-run -n 4 train.py --epochs 3        4 local ranks (mpiexec; srun inside a Slurm job)
  distgrad-run -n 8 --hosts a,b train.py       8 ranks over two machines (mpiexec)
  distgrad-run --slurm --nodes 2 --ntasks-per-node 4 --gpus-per-node 4 --time 1:00:00 train.py
                                               submit a Slurm job (add --wait to follow it)
  distgrad-run --debug train.py                one process in the foreground, DISTGRAD_DEBUG=1

Options go before the script; everything after the script is passed to it.
Each rank runs `python -m mpi4py script.py args`, so an uncaught exception on any rank aborts
the whole job. Output lines are prefixed with "[rank r] ". The exit code is the job's.
"""

EPILOG = """\
environment: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS default to
max(1, cores // ranks per node) (inside Slurm: --cpus-per-task) unless already set;
PYTHONUNBUFFERED=1 unless set. DISTGRAD_SRUN_MPI overrides the detected srun --mpi type,
DISTGRAD_MPIEXEC the mpiexec to use, DISTGRAD_PYTHON the python of a Slurm job.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of distgrad-run."""
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--nprocs", "--np", dest="nprocs", type=int, metavar="N",
                   help="number of ranks (default: 1; inside a Slurm allocation: all its tasks)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the command (or, with --slurm, the job script) instead of running it")
    p.add_argument("--python", default=sys.executable, metavar="PATH",
                   help="python that runs the ranks (default: this one, %(default)s)")

    g = p.add_argument_group("local and multi-host runs (mpiexec) and runs inside Slurm (srun)")
    hosts = g.add_mutually_exclusive_group()
    hosts.add_argument("--hostfile", metavar="FILE", help="hostfile, passed to mpiexec")
    hosts.add_argument("--hosts", metavar="H1,H2", help="comma-separated hosts, passed to mpiexec")
    g.add_argument("--rank0-only", action="store_true",
                   help="show only rank 0's output (untagged); if the job fails, the last "
                        "stderr lines of the other ranks are printed at the end")
    g.add_argument("--launcher", choices=("auto", "mpiexec", "srun"), default="auto",
                   help="auto (default): srun inside a Slurm allocation (SLURM_JOB_ID set), "
                        "else mpiexec")
    g.add_argument("--mpiexec", metavar="PATH",
                   help="mpiexec to use (default: $DISTGRAD_MPIEXEC, the one next to the python, "
                        "then PATH)")
    g.add_argument("--launcher-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for mpiexec/srun (repeatable, e.g. --launcher-arg=-bind-to "
                        "--launcher-arg=core)")

    d = p.add_argument_group("debugging")
    d.add_argument("--debug", action="store_true",
                   help="run one process in the foreground (pdb works) with DISTGRAD_DEBUG=1")

    s = p.add_argument_group("Slurm batch jobs (render slurm/train.sbatch, submit with sbatch)")
    s.add_argument("--slurm", action="store_true", help="submit a batch job; prints its job id")
    s.add_argument("--nodes", type=int, metavar="K")
    s.add_argument("--ntasks-per-node", type=int, metavar="M", help="ranks per node")
    s.add_argument("--gpus-per-node", type=int, metavar="G")
    s.add_argument("--cpus-per-task", type=int, metavar="C")
    s.add_argument("--time", metavar="T", help="time limit, e.g. 30 or 2:00:00")
    s.add_argument("--partition", metavar="P")
    s.add_argument("--account", metavar="A")
    s.add_argument("--job-name", metavar="NAME", help="default: distgrad-<script name>")
    s.add_argument("--output", metavar="FILE",
                   help="job output file (Slurm patterns like %%j allowed; default: Slurm's "
                        "slurm-<jobid>.out in the submit directory)")
    s.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                   help="extra #SBATCH option (repeatable, e.g. --sbatch-arg=--mem=8G)")
    s.add_argument("--wait", action="store_true",
                   help="follow the job: stream its output until it ends, exit with its exit code")

    p.add_argument("script", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


SLURM_ONLY = ("nodes", "ntasks_per_node", "gpus_per_node", "cpus_per_task", "time", "partition",
              "account", "job_name", "output", "sbatch_arg", "wait")


def validate(p: argparse.ArgumentParser, a: argparse.Namespace):
    """Reject bad input with a message naming the problem (argparse exits with 2)."""
    if a.nprocs is not None and a.nprocs < 1:
        p.error(f"-n must be at least 1 (got {a.nprocs})")
    for name in ("nodes", "ntasks_per_node", "gpus_per_node", "cpus_per_task"):
        v = getattr(a, name)
        if v is not None and v < (0 if name == "gpus_per_node" else 1):
            p.error(f"--{name.replace('_', '-')} must be positive (got {v})")
    if not a.slurm:
        used = [n for n in SLURM_ONLY if getattr(a, n) not in (None, False, [])]
        if used:
            p.error(f"--{used[0].replace('_', '-')} needs --slurm")
    if a.debug:
        if a.slurm:
            p.error("--debug and --slurm cannot be combined")
        if a.nprocs not in (None, 1):
            p.error("--debug runs a single process; multi-rank debugging (-n > 1) is not "
                    "supported yet: use --debug without -n")
    if a.slurm and (a.rank0_only or a.hostfile or a.hosts):
        p.error("--rank0-only/--hostfile/--hosts do not apply to --slurm jobs")
    if not Path(a.script).is_file():
        p.error(f"script not found: {a.script}")


def shell_join(argv: list) -> str:
    """Quote an argv for display; strings with control characters use bash's $'...'."""
    def q(s: str) -> str:
        if any(ord(c) < 32 for c in s):
            return "$'" + "".join(f"\\x{ord(c):02x}" if ord(c) < 32 else
                                  ("\\" + c if c in "'\\" else c) for c in s) + "'"
        return shlex.quote(s)
    return " ".join(q(s) for s in argv)


def print_command(argv: list, updates: dict):
    """Print a command and its added environment, as a shell line (for --dry-run)."""
    envs = [f"{k}={v}" for k, v in sorted(updates.items())]
    print(shell_join(["env", *envs, *argv] if envs else argv))


def run_slurm(a: argparse.Namespace) -> int:
    """Render the job script; print it (--dry-run) or submit it (and follow it with --wait)."""
    spec = slurm_mod.JobSpec(
        script=str(Path(a.script).resolve()), args=a.args, python=a.python, nodes=a.nodes,
        ntasks_per_node=a.ntasks_per_node, ntasks=a.nprocs, gpus_per_node=a.gpus_per_node,
        cpus_per_task=a.cpus_per_task, time=a.time, partition=a.partition, account=a.account,
        job_name=a.job_name, output=a.output, extra=a.sbatch_arg)
    text = slurm_mod.render_job_script(spec, slurm_mod.find_template().read_text())
    if a.dry_run:
        sys.stdout.write(text)
        return 0
    if not slurm_mod.have_sbatch():
        raise LaunchError("--slurm needs sbatch, which is not on PATH (is this a Slurm login "
                          "node? use --dry-run to see the job script)")
    if a.output and "%" not in str(Path(a.output).parent):
        Path(a.output).parent.mkdir(parents=True, exist_ok=True)  # Slurm does not create it
    job_id = slurm_mod.submit(text)
    print(f"Submitted batch job {job_id}", flush=True)
    if not a.wait:
        return 0
    try:
        return slurm_mod.wait_for_job(job_id)
    except KeyboardInterrupt:
        print(f"\n{PROG}: stopped following job {job_id}; it keeps running (scancel {job_id} "
              "stops it)", file=sys.stderr)
        return 130


def choose_launcher(a: argparse.Namespace, env: dict) -> str:
    """'srun' inside a Slurm allocation (auto), else 'mpiexec'; or what --launcher says."""
    if a.launcher != "auto":
        return a.launcher
    if env.get("SLURM_STEP_ID"):
        raise LaunchError("distgrad-run is itself running as a task of an srun step "
                          "(SLURM_STEP_ID is set), so every task would start its own ranks; "
                          "call distgrad-run once, outside srun (it runs srun itself), or run "
                          "`srun python -m mpi4py script.py` (or pass --launcher explicitly)")
    return "srun" if env.get("SLURM_JOB_ID") and shutil.which("srun") else "mpiexec"


def build_launch(a: argparse.Namespace, env: dict) -> tuple[list, dict, str]:
    """The (argv, env_updates, tag_format) of a local, multi-host or in-allocation run."""
    program = mpi.python_command(a.python, a.script, a.args)
    tag = True
    if choose_launcher(a, env) == "srun":
        if a.hostfile or a.hosts:
            raise LaunchError("--hostfile/--hosts are for mpiexec; inside a Slurm allocation "
                              "srun places the ranks (or use --launcher mpiexec)")
        if not shutil.which("srun"):
            raise LaunchError("--launcher srun: srun is not on PATH")
        mpi_type = env.get("DISTGRAD_SRUN_MPI") or mpi.srun_mpi_type(
            mpi.detect_library_flavour(a.python))
        return mpi.build_srun_command(program, mpi_type, env=env, nprocs=a.nprocs, tag=tag,
                                      extra=a.launcher_arg)
    if a.python == sys.executable and importlib.util.find_spec("mpi4py") is None:
        raise LaunchError(f"mpi4py is not installed; {NO_MPI_HINT}")
    mpiexec = a.mpiexec or env.get("DISTGRAD_MPIEXEC") or mpi.find_mpiexec(a.python, env.get("PATH"))
    if not mpiexec:
        raise LaunchError(f"no mpiexec found (next to {a.python} or on PATH); {NO_MPI_HINT}")
    info = mpi.detect_mpiexec(mpiexec)
    return mpi.build_mpiexec_command(info, a.nprocs or 1, program, env=env, hostfile=a.hostfile,
                                     hosts=a.hosts, tag=tag, extra=a.launcher_arg)


def main(argv=None) -> int:
    """Parse the command line and run, submit or debug the script; returns the exit code."""
    p = build_parser()
    a = p.parse_args(argv)
    if a.args[:1] == ["--"]:
        a.args = a.args[1:]
    validate(p, a)
    try:
        if a.debug:
            cmd, env = debug_mod.build_debug_command(a.script, a.args, a.python)
            if a.dry_run:
                print_command(cmd, {"DISTGRAD_DEBUG": "1"})
                return 0
            debug_mod.exec_debug(cmd, env)  # does not return
        if a.slurm:
            return run_slurm(a)
        env = dict(os.environ)
        cmd, updates, tag_format = build_launch(a, env)
        if a.dry_run:
            print_command(cmd, updates)
            return 0
        if a.rank0_only and tag_format == mpi.TAG_NONE:
            print(f"{PROG}: warning: this mpiexec cannot tag output by rank; --rank0-only "
                  "shows every rank", file=sys.stderr)
        return run_relayed(cmd, {**env, **updates}, tag_format, rank0_only=a.rank0_only)
    except LaunchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
