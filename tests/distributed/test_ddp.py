"""DistributedDataParallel in real `mpiexec -n 2/3` jobs (each bounded by a timeout) and in a
world of one. The rank scripts live in ``scripts/`` and assert on every rank; run one by hand
with e.g. ``PYTHONPATH=. mpiexec -n 3 python -m mpi4py tests/distributed/scripts/ddp_core.py``.
"""
from pathlib import Path

import pytest

from mpi_helpers import assert_ok_lines, run_mpi, run_python

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_matches_single_process_and_edge_cases(n):
    """Model mismatch error on every rank; DDP == one process on the whole batch (1e-10) with
    bit-identical replicas, overlap on/off, set_to_none on/off, bucket views on/off; 120 tensors
    in many buckets; two dtypes; no_sync; unused parameters (error / find_unused_parameters);
    state_dict keys; buffer broadcast with two forwards before one backward."""
    res = run_mpi(n, SCRIPTS / "ddp_core.py", timeout=120)
    assert_ok_lines(res, n)


@pytest.mark.mpi
def test_ddp_over_plain_mpi_allreduce():
    """The same checks with the shared-memory all-reduce off (the path across nodes)."""
    res = run_mpi(2, SCRIPTS / "ddp_core.py", timeout=120, env={"DISTGRAD_SHM_ALLREDUCE": "0"})
    assert_ok_lines(res, 2)


@pytest.mark.mpi
def test_ddp_debug_replica_check_names_the_diverged_parameter():
    res = run_mpi(2, SCRIPTS / "ddp_debug.py", timeout=60,
                  env={"DISTGRAD_DEBUG": "1", "DISTGRAD_DEBUG_EVERY": "2"})
    assert_ok_lines(res, 2)


@pytest.mark.mpi
def test_ddp_on_device_arrays_with_host_staging():
    """DDP/DistributedOptimizer on distgrad.testing.fake_cupy arrays over MPI (2 ranks)."""
    res = run_mpi(2, SCRIPTS / "ddp_fake_gpu.py", timeout=120)
    assert_ok_lines(res, 2)


@pytest.mark.mpi
@pytest.mark.parametrize("n, shm", [(2, "1"), (3, "1"), (3, "0")])
def test_ddp_communication_hooks(n, shm):
    """register_comm_hook: allreduce_hook == no hook == one process; fp16_compress_hook rounds
    through float16; a custom hook sees every bucket once, in order, and its result becomes the
    gradient (bucket views on and off); no_sync skips it; registration and result errors."""
    res = run_mpi(n, SCRIPTS / "ddp_comm_hooks.py", timeout=120,
                  env={"DISTGRAD_SHM_ALLREDUCE": shm})
    assert_ok_lines(res, n)


@pytest.mark.mpi
@pytest.mark.parametrize("n, shm", [(2, "1"), (3, "0")])
def test_ddp_powersgd_hook(n, shm):
    """powerSGD_hook: exact at full rank (training equals DDP without a hook); at rank 1 the
    gradients are rank-1 projections of the average, vectors exact, the error feedback holds
    each rank's residual and feeds it back; rank-1 training (also batched_powerSGD_hook)
    converges with identical replicas."""
    res = run_mpi(n, SCRIPTS / "ddp_powersgd.py", timeout=120,
                  env={"DISTGRAD_SHM_ALLREDUCE": shm})
    assert_ok_lines(res, n)


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_with_activation_checkpointing(n):
    """Checkpointed blocks (with dropout) under DDP train exactly like plain ones; the
    parameters' gradients reach DDP's hooks through the checkpoint's boundary."""
    res = run_mpi(n, SCRIPTS / "ddp_activation_checkpoint.py", timeout=120)
    assert_ok_lines(res, n)


def test_ddp_world_of_one_needs_no_mpi():
    res = run_python(SCRIPTS / "ddp_single.py", timeout=60)
    assert_ok_lines(res, 1)


def test_ddp_exports():
    import distgrad.distributed.ddp as ddp_mod
    from distgrad.nn.parallel import DDP, DistributedDataParallel

    assert DistributedDataParallel is ddp_mod.DistributedDataParallel is DDP
    import distgrad.nn as nn

    assert issubclass(DistributedDataParallel, nn.Module)
