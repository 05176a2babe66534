"""Slurm tests against a real cluster (`bash slurm/local-cluster.sh up` gives one on this
machine). Skipped, with the reason, when sbatch is missing or sinfo does not answer.

A wrong PMI type does not fail, it gives N worlds of size 1 and exit code 0: every test that
runs ranks asserts the world size printed by the ranks.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch_util import (ALLREDUCE_SCRIPT, EXIT3_ON_RANK1_SCRIPT, REPO, launcher,  # noqa: E402
                         mpi_missing_reason, run, write_script)

# The end-to-end `distgrad-run --slurm --wait` job: (script relative to the repo, its arguments).
# None runs a small mpi4py allreduce script instead. Swapping in the digits example is one line:


def _slurm_missing_reason():
    if shutil.which("sbatch") is None:
        return "sbatch is not on PATH (bring a cluster up: bash slurm/local-cluster.sh up)"
    try:  # scontrol ping answers at once; sinfo retries for ~10 s when slurmctld is down
        r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=15,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            return "slurmctld does not answer: " + (r.stdout.strip().splitlines() or ["?"])[0]
        r = subprocess.run(["sinfo", "-h", "-o", "%P %a %D %t"], capture_output=True, text=True,
                           timeout=15, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"sinfo does not answer: {e}"
    if r.returncode != 0 or not r.stdout.strip():
        return f"sinfo does not answer: {(r.stderr or r.stdout).strip()}"
    return mpi_missing_reason()


SKIP_REASON = _slurm_missing_reason()
pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(SKIP_REASON is not None, reason=str(SKIP_REASON))]


def job_env(**extra):
    """The environment for jobs: this interpreter runs the ranks."""
    return {**os.environ, "DISTGRAD_PYTHON": sys.executable, **extra}


def wait_job(job_id: str, timeout: float = 60) -> dict:
    """Poll squeue until the job has left the queue; return its scontrol fields."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = run(["squeue", "-h", "-j", job_id], timeout=30)
        if r.returncode != 0 or not r.stdout.strip():
            break
        time.sleep(0.2)
    else:
        run(["scancel", job_id], timeout=30)
        pytest.fail(f"job {job_id} still queued/running after {timeout}s (cancelled)")
    r = run(["scontrol", "show", "job", "-o", job_id], timeout=30)
    return dict(re.findall(r"(\w+)=(\S*)", r.stdout))


def world_sizes(text: str) -> list:
    return sorted(int(s) for s in re.findall(r"WORLD size=(\d+)", text))


def test_train_sbatch_gives_one_world_of_two(tmp_path):
    script = write_script(tmp_path, "hello.py", ALLREDUCE_SCRIPT)
    out = tmp_path / "out-%j.txt"
    r = run(["sbatch", "--parsable", "--ntasks=2", f"--output={out}",
             REPO / "slurm" / "train.sbatch", script, "--epochs", "1"], env=job_env())
    assert r.returncode == 0, r.output
    job_id = r.stdout.strip().split(";")[0]
    info = wait_job(job_id)
    text = Path(str(out).replace("%j", job_id)).read_text()
    assert info.get("JobState") == "COMPLETED" and info.get("ExitCode") == "0:0", (info, text)
    assert world_sizes(text) == [2, 2], text  # one world of two, not two worlds of one
    assert "0: WORLD size=2 rank=0 sum=3 args=['--epochs', '1']" in text
    assert "1: WORLD size=2 rank=1 sum=3" in text
    assert "srun --mpi=pmi2" in text or "srun --mpi=pmix" in text


CVD_SCRIPT = """\
import os
from mpi4py import MPI
c = MPI.COMM_WORLD
print(f"WORLD size={c.Get_size()} rank={c.Get_rank()} gpu={os.environ.get('CUDA_VISIBLE_DEVICES')}")
"""


def test_train_sbatch_binds_one_gpu_per_task(tmp_path):
    gres = run(["sinfo", "-h", "-o", "%G"], timeout=30).stdout.split()
    if any("gpu" in g for g in gres):
        pytest.skip("the cluster has GPUs: Slurm sets CUDA_VISIBLE_DEVICES itself")
    # No GPUs here: pretend the node has two (ids 3 and 5) through the exported environment.
    script = write_script(tmp_path, "cvd.py", CVD_SCRIPT)
    out = tmp_path / "out-%j.txt"
    r = run(["sbatch", "--parsable", "--ntasks=2", f"--output={out}",
             REPO / "slurm" / "train.sbatch", script],
            env=job_env(SLURM_GPUS_ON_NODE="2", CUDA_VISIBLE_DEVICES="3,5"))
    assert r.returncode == 0, r.output
    job_id = r.stdout.strip().split(";")[0]
    info = wait_job(job_id)
    text = Path(str(out).replace("%j", job_id)).read_text()
    assert info.get("ExitCode") == "0:0", (info, text)
    assert "WORLD size=2 rank=0 gpu=3" in text and "WORLD size=2 rank=1 gpu=5" in text, text


def test_distgrad_run_slurm_wait_trains_digits(tmp_path):
    pytest.importorskip("sklearn")
    r = launcher("--slurm", "--ntasks-per-node", "2", "--nodes", "1", "--wait",
                 "--output", tmp_path / "job-%j.out", REPO / "examples" / "digits.py",
                 "--model", "mlp", "--epochs", "3", "--out", tmp_path / "run", env=job_env(),
                 timeout=180)
    assert r.returncode == 0, r.output
    assert re.search(r"^Submitted batch job \d+$", r.stdout, re.M), r.stdout
    assert "COMPLETED, ExitCode 0:0" in r.stderr
    assert "2 rank(s)" in r.stdout and "final validation accuracy" in r.stdout, r.stdout
    assert (tmp_path / "run" / "checkpoint.npz").exists()


def test_distgrad_run_slurm_failing_job(tmp_path):
    script = write_script(tmp_path, "exit3.py", EXIT3_ON_RANK1_SCRIPT)
    r = launcher("--slurm", "-n", "2", "--wait", "--output", tmp_path / "job-%j.out", script,
                 env=job_env())
    assert r.returncode != 0, r.output
    assert "rank 1 started" in r.stdout


def test_distgrad_run_inside_allocation_uses_srun(tmp_path):
    script = write_script(tmp_path, "hello.py", ALLREDUCE_SCRIPT)
    r = run(["salloc", "-n", "2", sys.executable, "-m", "launch", script], env=job_env())
    assert r.returncode == 0, r.output
    assert world_sizes(r.stdout) == [2, 2], r.output
    assert "[rank 0] WORLD size=2 rank=0" in r.stdout and "[rank 1] WORLD size=2 rank=1" in r.stdout


SINGLETON_CODE = "import distgrad.distributed as d; d.init_process_group()"


def test_singleton_trap_is_refused():
    env = job_env(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    probe = run([sys.executable, "-c", "from distgrad.distributed import init_process_group"],
                env=env)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"distgrad.distributed.init_process_group is not importable yet ({last})")
    # --mpi=none: Slurm says 2 tasks, MPI gives each a world of one; distgrad must refuse it.
    r = run(["srun", "--mpi=none", "-n", "2", sys.executable, "-c", SINGLETON_CODE], env=env,
            timeout=60)
    assert r.returncode != 0, "init_process_group accepted two worlds of size 1:\n" + r.output
    assert "ModuleNotFoundError" not in r.output and "ImportError" not in r.output, r.output
    assert re.search(r"singleton|size 1|world of (size )?1", r.output, re.I), r.output
