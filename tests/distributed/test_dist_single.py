"""The world of one (no launcher), launcher detection, the singleton trap, rank-aware output."""

import datetime
import io
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from distgrad.distributed import env as denv
from mpi_helpers import assert_ok_lines, run_python

JOBS = Path(__file__).resolve().parent / "jobs"
NOT_INIT = ("Default process group has not been initialized, please make sure to call "
            "init_process_group.")


def test_world_of_one_imports_no_mpi():
    """A plain `python script.py`: every collective works and mpi4py is never imported."""
    assert_ok_lines(run_python(JOBS / "world_of_one.py", timeout=60), 1)


def test_not_initialized_errors():
    if dist.is_initialized():
        dist.destroy_process_group()
    for fn in (dist.get_rank, dist.get_world_size, dist.get_local_rank, dist.barrier,
               lambda: dist.all_reduce(np.ones(2)), dist.destroy_process_group):
        with pytest.raises(RuntimeError) as e:
            fn()
        assert str(e.value) == NOT_INIT
    assert not dist.is_initialized()


def test_single_collectives_and_validation(world_of_one):
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "single")
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group()
    t = distgrad.tensor([1.0, 2.0, 3.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="AVG needs a floating-point tensor, got int32"):
        dist.all_reduce(np.ones(2, np.int32), op=dist.ReduceOp.AVG)
    out = np.zeros((1, 3), np.float16)
    dist.all_gather_into_tensor(out, np.ones(3, np.float16))
    assert (out == 1).all()
    rs = np.zeros(2)
    dist.reduce_scatter(rs, [np.array([1.0, 2.0])], op=dist.ReduceOp.AVG)
    assert rs.tolist() == [1.0, 2.0]
    gl = [np.zeros(2)]
    dist.gather(np.ones(2), gl, dst=0)
    sc = np.zeros(2)
    dist.scatter(sc, [np.full(2, 5.0)], src=0)
    assert gl[0].tolist() == [1.0, 1.0] and sc.tolist() == [5.0, 5.0]
    with pytest.raises(ValueError, match="src=1 is not a rank of this group"):
        dist.broadcast(np.ones(2), src=1)
    with pytest.raises(ValueError, match=r"tensor_list\[0\] has shape \(3,\)"):
        dist.all_gather([np.zeros(3)], np.zeros(2))
    objs = [None, None]
    dist.broadcast_object_list(objs, src=0)
    work = dist.all_reduce(np.ones(2), async_op=True)
    assert work.is_completed() and work.wait()
    assert sys.excepthook is sys.__excepthook__


def test_single_point_to_point_and_all_to_all(world_of_one):
    """A world of one: isend/irecv to oneself through a mailbox (per tag, in order), blocking
    send/recv to oneself refused, all_to_all a copy, object collectives local."""
    got = distgrad.zeros(3)
    a = dist.isend(distgrad.tensor([1.0, 2.0, 3.0]), dst=0, tag=1)
    b = dist.isend(np.array([4.0, 5.0, 6.0]), dst=0, tag=2)
    assert a.wait() and b.is_completed()
    dist.irecv(got, src=0, tag=2).wait()
    assert got.tolist() == [4.0, 5.0, 6.0]
    dist.irecv(got, tag=1).wait()
    assert got.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="no message with tag 1 is waiting"):
        dist.irecv(got, src=0, tag=1)
    with pytest.raises(ValueError, match="Invalid destination rank: destination rank should not"):
        dist.send(got, dst=0)
    with pytest.raises(ValueError, match="dst=1 is not a rank of this group"):
        dist.isend(got, dst=1)
    with pytest.raises(ValueError, match="Invalid ``op``"):
        dist.P2POp(dist.send, got, 0)
    out = np.zeros((2, 2))
    dist.all_to_all_single(out, np.arange(4.0).reshape(2, 2))
    assert out.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    outs = [np.zeros(3, np.int32)]
    dist.all_to_all(outs, [np.array([7, 8, 9], np.int32)])
    assert outs[0].tolist() == [7, 8, 9]
    with pytest.raises(TypeError, match=r"output_tensor_list\[0\] has dtype float64"):
        dist.all_to_all([np.zeros(3)], [np.zeros(3, np.int32)])
    gl = [None]
    dist.gather_object({"a": 1}, gl, dst=0)
    sl = [None]
    dist.scatter_object_list(sl, ["x"], src=0)
    assert gl == [{"a": 1}] and sl == ["x"]


def test_init_rejects_bad_backends(monkeypatch):
    if dist.is_initialized():
        dist.destroy_process_group()
    if not distgrad.cuda.is_available():
        with pytest.raises(RuntimeError, match="nccl"):
            dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("gloo")
    monkeypatch.setenv("PMI_SIZE", "4")
    monkeypatch.setenv("PMI_RANK", "1")
    with pytest.raises(RuntimeError, match="backend='single' is a world of one"):
        dist.init_process_group("single")
    assert not dist.is_initialized()


def test_timeout_argument(monkeypatch):
    from distgrad.distributed.process_group import _timeout_seconds

    monkeypatch.delenv("DISTGRAD_TIMEOUT", raising=False)
    assert _timeout_seconds(None) == 1800
    assert _timeout_seconds(datetime.timedelta(seconds=5)) == 5
    monkeypatch.setenv("DISTGRAD_TIMEOUT", "2.5")
    assert _timeout_seconds(None) == 2.5
    assert _timeout_seconds(7) == 7  # the argument wins over the variable
    monkeypatch.setenv("DISTGRAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="DISTGRAD_TIMEOUT"):
        _timeout_seconds(None)


# ---------------------------------------------------------------- launcher detection


@pytest.mark.parametrize("environ, launcher, size, rank", [
    ({}, None, None, None),
    ({"PMI_SIZE": "4", "PMI_RANK": "2", "MPI_LOCALRANKID": "0"}, "pmi", 4, 2),
    ({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "1"}, "openmpi", 3, 1),
    ({"MV2_COMM_WORLD_SIZE": "2", "MV2_COMM_WORLD_RANK": "0"}, "mvapich", 2, 0),
    ({"PMIX_RANK": "1", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2"}, "pmix", 2, 1),
    ({"PMIX_RANK": "1"}, "pmix", None, 1),
    ({"SLURM_STEP_ID": "3", "SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "5",
      "SLURM_NTASKS": "16"}, "slurm", 8, 5),
    ({"SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "SLURM_PROCID": "1"}, "slurm", 2, 1),
    # a batch script (no task step): one process, not a launcher
    ({"SLURM_NTASKS": "2", "SLURM_PROCID": "0", "SLURM_JOB_ID": "7"}, None, None, None),
    ({"SLURM_STEP_ID": "4294967291", "SLURM_NTASKS": "2"}, None, None, None),
    ({"SLURM_STEP_ID": "batch", "SLURM_NTASKS": "2"}, None, None, None),
    # Hydra's mpiexec inside an allocation: its proxies run as a Slurm step of 1 task per
    # node, but PMI_SIZE counts the ranks
    ({"PMI_SIZE": "4", "PMI_RANK": "3", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1",
      "SLURM_PROCID": "0"}, "pmi", 4, 3),
])
def test_detect_launch(environ, launcher, size, rank):
    info = denv.detect_launch(environ)
    assert (info.launcher, info.world_size, info.rank) == (launcher, size, rank)
    assert info.launched == (launcher is not None)


def test_singleton_trap_messages():
    slurm = denv.detect_launch({"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2",
                                "SLURM_PROCID": "0"})
    msg = denv.singleton_trap_message(slurm, 1, "MPICH Version:      5.0.2\nMPICH Release")
    assert "2 processes" in msg and "world of size 1" in msg
    assert "srun --mpi=pmi2" in msg and "MPICH" in msg
    msg = denv.singleton_trap_message(slurm, 1, "Open MPI v5.0.11, package: Open MPI\x00")
    assert "srun --mpi=pmix" in msg and "Open MPI" in msg
    hydra = denv.detect_launch({"PMI_SIZE": "2", "PMI_RANK": "0"})
    msg = denv.singleton_trap_message(hydra, 1, "Open MPI v5.0.11")
    assert "do not match" in msg and "mpiexec" in msg


def test_singleton_trap_raises():
    """`python script.py` with Slurm saying 2 tasks (as under `srun --mpi=none`): mpi4py gives a
    world of one, and init_process_group must refuse it with the fix in the message."""
    pytest.importorskip("mpi4py")
    res = run_python(JOBS / "singleton_trap.py", timeout=60, env={
        "SLURM_NTASKS": "2", "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_ID": "0",
        "SLURM_PROCID": "0", "SLURM_JOB_ID": "1"})
    assert res.returncode == 0, res.output
    if "cannot load MPI library" in res.output:
        pytest.skip("no MPI library")
    assert "RAISED:" in res.stdout, res.output
    assert "singleton trap" in res.stdout and "srun --mpi=pmi2" in res.stdout
    assert "MPICH" in res.stdout or "Open MPI" in res.stdout


# ---------------------------------------------------------------- output


def test_print0_and_logger_in_world_of_one(world_of_one, capsys):
    dist.print0("hello", 1)
    assert capsys.readouterr().out == "hello 1\n"
    buf = io.StringIO()
    log = dist.get_logger("distgrad.test.single", stream=buf)
    assert dist.get_logger("distgrad.test.single") is log  # one handler, not two
    log.info("info")
    log.debug("hidden")
    assert buf.getvalue() == "INFO distgrad.test.single: info\n"  # no prefix in a world of one
    assert not log.propagate and logging.getLogger("distgrad.test.single") is log


def test_logger_before_init_uses_launcher_rank(monkeypatch):
    if dist.is_initialized():
        dist.destroy_process_group()
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "1")
    buf = io.StringIO()
    log = dist.get_logger("distgrad.test.prefix", stream=buf)
    log.info("dropped on rank 1")
    log.warning("kept")
    assert buf.getvalue() == "[rank 1] WARNING distgrad.test.prefix: kept\n"
    dist.print0("not on rank 1")


# ---------------------------------------------------------------- GPU staging (simulated)


def test_gpu_arrays_are_staged_through_host(world_of_one, monkeypatch):
    from distgrad.distributed import staging
    from distgrad.testing import fake_cupy

    calls = []
    monkeypatch.setattr(staging, "_synchronize", lambda arr: calls.append("sync"))
    monkeypatch.delenv("DISTGRAD_CUDA_AWARE_MPI", raising=False)
    # stage as the MPI backend does (a world of one hands device arrays over as they are)
    monkeypatch.setattr(staging, "_device_transport", False)
    with fake_cupy.installed() as cp:
        d = cp.arange(4, dtype=np.float16)
        host = staging._to_host(d)
        assert type(host) is np.ndarray and calls == ["sync"]
        host += 1
        staging._from_host(d, host)
        assert d.tolist() == [1, 2, 3, 4]
        dist.all_reduce(d, op=dist.ReduceOp.AVG)  # float16 -> float32 -> back, through host
        assert d.dtype == np.float16 and d.tolist() == [1, 2, 3, 4]
        outs = [cp.zeros(4, np.float16)]
        dist.all_gather(outs, d)
        assert outs[0].tolist() == [1, 2, 3, 4]
        monkeypatch.setenv("DISTGRAD_CUDA_AWARE_MPI", "1")
        assert staging._to_host(d) is d  # contiguous device buffer handed to MPI as is
