"""Multi-process tests: real `mpiexec -n 2/3` jobs, each bounded by a timeout.

The job scripts live in ``jobs/``; each asserts inside the ranks. Run one by hand with e.g.
``PYTHONPATH=. mpiexec -n 3 python -m mpi4py tests/distributed/jobs/collectives.py``.
"""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_helpers import assert_ok_lines, clean_env, require_mpi, run_mpi, run_python

pytestmark = pytest.mark.mpi

JOBS = Path(__file__).resolve().parent / "jobs"


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_every_op_and_dtype(n):
    res = run_mpi(n, JOBS / "collectives.py", timeout=120)
    assert_ok_lines(res, n)
    # print0: once; logger: INFO on rank 0 only, WARNING on every rank, with the rank prefix
    assert res.stdout.count("PRINT0 once") == 1, res.stdout
    assert res.stderr.count("INFO jobtest: INFO only rank 0") == 1, res.stderr
    assert "[rank 0] INFO jobtest: INFO only rank 0" in res.stderr
    for r in range(n):
        assert f"[rank {r}] WARNING jobtest: WARN from {r}" in res.stderr, res.stderr


@pytest.mark.parametrize("n", [2, 3])
def test_shared_memory_allreduce(n):
    """DDP's flat buffer is in node shared memory; SUM/AVG all-reduces of slices of a shared
    buffer (several dtypes, odd lengths) are exact, MAX falls back to MPI, gradients stay
    readable after destroy_process_group."""
    res = run_mpi(n, JOBS / "shm_allreduce.py", timeout=60)
    assert_ok_lines(res, n)


@pytest.mark.parametrize("n", [2, 3])
def test_shared_memory_allreduce_is_shared_dynamically(n):
    """One node: whichever rank is free claims the next unit of work; every element is reduced
    once, summed in rank order; DDP publishes finished buckets during backward (ranks that are
    done reduce them while a late rank computes) and voids them when backward is abandoned."""
    res = run_mpi(n, JOBS / "shm_dynamic.py", timeout=90)
    assert_ok_lines(res, n)


def _hydra_nodes(hosts):
    """mpiexec arguments that make MPICH's Hydra place ranks on fake "nodes" of this machine
    (``hosts`` like ``"a:2,b:2"``: MPI then sees one shared-memory domain per name)."""
    out = subprocess.run([require_mpi(), "--version"], capture_output=True, text=True, timeout=30)
    if "HYDRA" not in out.stdout:
        pytest.skip("needs MPICH's Hydra launcher (-launcher fork -hosts) to fake several nodes")
    return ("-launcher", "fork", "-hosts", hosts)


@pytest.mark.parametrize("hosts,n", [("a:2,b:2", 4), ("a:2,b:1", 3)])
def test_shared_memory_allreduce_across_nodes(hosts, n):
    """Two nodes of two ranks: shared memory within each node, MPI between them (hierarchical);
    nodes of different sizes: plain MPI."""
    res = run_mpi(n, JOBS / "shm_allreduce.py", timeout=120, mpiexec_args=_hydra_nodes(hosts))
    assert_ok_lines(res, n)


def test_ddp_on_two_nodes_with_hierarchical_allreduce():
    """The DDP checks (== one process on the whole batch, bit-identical replicas, ...) on two
    fake nodes of two ranks each."""
    res = run_mpi(4, Path(__file__).resolve().parent / "scripts" / "ddp_core.py", timeout=300,
                  mpiexec_args=_hydra_nodes("a:2,b:2"))
    assert_ok_lines(res, 4)


@pytest.mark.parametrize("n", [2, 3])
def test_point_to_point_and_all_to_all(n):
    """isend/irecv rings in every dtype family, send/recv from any source with tags, strided
    receive buffers, batch_isend_irecv, self-messages, sub-groups (src vs group_src), object
    messages, gather_object/scatter_object_list, all_to_all_single with even and uneven splits,
    all_to_all with differently shaped tensors, and the argument errors."""
    res = run_mpi(n, JOBS / "p2p.py", timeout=120)
    assert_ok_lines(res, n)


def test_watchdog_reports_point_to_point_deadlock():
    """Ranks 0 and 1 each wait to receive from the other: the watchdog ends the job in
    seconds, naming the point-to-point waits and where every rank is."""
    res = run_mpi(3, JOBS / "p2p.py", "deadlock", timeout=60, env={"DISTGRAD_TIMEOUT": "2"})
    assert res.returncode != 0, res.output
    assert res.elapsed < 30, f"took {res.elapsed:.1f} s"
    err = res.stderr
    # rank 0 or rank 1 reports (whichever fires first), naming the other one's wait
    assert re.search(r"\[rank ([01])\] distgrad watchdog: recv \(from rank (?!\1)[01]\) "
                     r"\(point-to-point on the default group\)", err), err
    assert re.search(r"rank [01]: has started 0 collective\(s\) on this group; it is waiting "
                     r"in recv \(from rank [01]\) \(point-to-point on this group\)", err), err
    assert "rank 2: has started 1 collective(s) on this group; it is waiting in barrier " \
           "(collective #1 on this group)" in err, err
    assert "unreachable" not in res.output


def test_shared_memory_allreduce_can_be_turned_off():
    res = run_mpi(2, JOBS / "shm_allreduce.py", timeout=60, env={"DISTGRAD_SHM_ALLREDUCE": "0"})
    assert_ok_lines(res, 2)


def test_collectives_with_debug_checks():
    """DISTGRAD_DEBUG=1 adds a descriptor allgather before each collective: no false alarms."""
    res = run_mpi(3, JOBS / "collectives.py", timeout=120, env={"DISTGRAD_DEBUG": "1"})
    assert_ok_lines(res, 3)


def test_debug_mode_mismatch_raises_on_every_rank():
    res = run_mpi(3, JOBS / "debug_mismatch.py", timeout=60, env={"DISTGRAD_DEBUG": "1"})
    assert_ok_lines(res, 3, marker="OK rank")
    for r in range(3):
        assert f"OK rank {r}: 4 mismatches caught" in res.stdout
    assert "ranks called mismatched collectives" in res.stdout
    assert "rank 2: all_reduce(shape=(5,), dtype=float32, op=SUM) at " in res.stdout
    assert "debug_mismatch.py:" in res.stdout


def test_uncaught_exception_aborts_job_without_mpi4py_runner():
    """Rank 1 raises while rank 0 waits in a barrier; launched as plain `python script.py`."""
    res = run_mpi(2, JOBS / "crash.py", timeout=60, mpi4py_runner=False)
    assert res.returncode != 0, res.output
    assert res.elapsed < 20, f"took {res.elapsed:.1f} s"
    assert "[rank 1] RuntimeError: boom on purpose" in res.stderr, res.output
    assert "[rank 1] Traceback" in res.stderr
    assert "passed the barrier" not in res.stdout


def test_watchdog_names_the_missing_rank_and_collective():
    res = run_mpi(3, JOBS / "watchdog.py", timeout=60, env={"DISTGRAD_TIMEOUT": "2"})
    assert res.returncode != 0, res.output
    assert res.elapsed < 30, f"took {res.elapsed:.1f} s"
    err = res.stderr
    assert "distgrad watchdog: all_reduce (collective #2 on the default group)" in err, err
    assert "ranks that have not arrived: [1]" in err, err
    assert "rank 1: has started 1 collective(s) on this group and is not in any collective" in err
    assert "watchdog.py:17 in <module>: time.sleep(60)" in err, err  # where rank 1 is
    assert "watchdog.py:19 in <module>: dist.all_reduce(x, async_op=True).wait()" in err
    assert "ranks that arrived: [0, 2]" in err, err
    assert "passed the stalled all_reduce" not in res.stdout
    # one report (from the lowest waiting rank), not one per waiting rank
    assert err.count("distgrad watchdog: all_reduce") == 1, err


def test_watchdog_ends_job_after_sys_exit_on_one_rank():
    """Without `-m mpi4py`, sys.exit(3) on rank 1 is not an exception: the watchdog ends it."""
    res = run_mpi(2, JOBS / "watchdog.py", "exit", timeout=60, mpi4py_runner=False,
                  env={"DISTGRAD_TIMEOUT": "1.5"})
    assert res.returncode != 0, res.output
    assert "ranks that have not arrived: [1]" in res.stderr, res.output
    assert "ranks that did not answer" in res.stderr


def test_run_mpi_timeout_kills_the_whole_job():
    """The helper itself: a job past its timeout is killed (mpiexec, proxies, ranks) and
    reported with its output; nothing is left running."""
    import os
    import uuid

    from mpi_helpers import MPITimeout

    marker = f"distgrad-marker-{uuid.uuid4().hex}"
    with pytest.raises(MPITimeout) as e:
        run_mpi(2, """
            import sys, time
            print("started", sys.argv[1], flush=True)
            time.sleep(60)
        """, marker, timeout=4)
    assert "timed out after 4 s" in str(e.value) and "started" in e.value.stdout
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    left.append(pid)
        except OSError:
            pass
    assert not left, f"processes left running: {left}"


BREAKPOINT_JOB = r'''
import distgrad
import distgrad.distributed as dist
dist.init_process_group()
r = dist.get_rank()
secret = 40 + r
for i in range(2):
    dist.breakpoint(rank=0, skip=1)
dist.all_reduce(distgrad.ones(1))
print(f"OK rank {r}", flush=True)
'''


@pytest.mark.parametrize("rank", [0, 1])
def test_breakpoint_stops_one_rank_while_the_others_wait(rank):
    """The stopped rank gets pdb at the second call (skip=1), with the commands given to
    mpiexec's standard input (relayed by rank 0 to rank 1); the other rank waits 3 s at the
    barrier without the 1 s stall watchdog firing, then both go on."""
    commands = "up\np secret + 2 + i\n!import time; time.sleep(3)\nc\n"
    res = run_mpi(2, BREAKPOINT_JOB.replace("rank=0", f"rank={rank}"), input=commands,
                  timeout=60, env={"DISTGRAD_TIMEOUT": "1"})
    assert_ok_lines(res, 2)
    assert res.stdout.count(f"breakpoint on rank {rank}: the other ranks wait") == 1, res.output
    assert f"(Pdb) {43 + rank}" in res.stdout, res.output  # the stopped rank's locals
    assert "watchdog" not in res.stderr and "closed" not in res.stderr, res.stderr


def test_breakpoint_with_closed_input_ends_the_job():
    res = run_mpi(2, BREAKPOINT_JOB.replace("rank=0", "rank=1"), input="", timeout=60)
    assert res.returncode != 0
    assert "standard input is closed, so no commands reach rank 1's debugger" in res.stderr
    assert "BdbQuit" in res.stderr, res.output


def test_breakpoint_through_distgrad_run_in_a_terminal(tmp_path):
    """distgrad-run in the foreground of a terminal (a pseudo-terminal made by ``script``)
    passes it to mpiexec, whose rank 0 relays the commands to rank 1."""
    require_mpi()
    script_cmd = shutil.which("script")
    if script_cmd is None:
        pytest.skip("no 'script' (util-linux) to make a pseudo-terminal")
    job = tmp_path / "job.py"
    job.write_text(BREAKPOINT_JOB.replace("rank=0", "rank=1"))
    cmd = f"{shlex.quote(sys.executable)} -m launch -n 2 {shlex.quote(str(job))}"
    proc = subprocess.Popen([script_cmd, "-qfec", cmd, "/dev/null"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=clean_env(), start_new_session=True)
    proc.stdin.write("up\np secret + 2 + i\nc\n")
    proc.stdin.flush()
    try:
        out = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    # the prompt is shown as soon as the stream idles: then the answer starts a line of its own
    assert re.search(r"\[rank 1\] \(Pdb\) (\[rank 1\] )?44", out), out
    assert "[rank 0] OK rank 0" in out, out


def test_breakpoint_in_a_world_of_one():
    res = run_python(BREAKPOINT_JOB, input="up\np secret\nc\n", timeout=60)
    assert res.returncode == 0 and "OK rank 0" in res.stdout, res.output
    assert "(Pdb) 40" in res.stdout and "other ranks" not in res.stdout, res.output
