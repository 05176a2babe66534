"""DistributedOptimizer, broadcast_parameters and broadcast_optimizer_state in real mpiexec jobs
(see ``scripts/dopt_core.py`` for the checks; the world of one is in ``test_ddp.py``)."""
from pathlib import Path

import pytest

from mpi_helpers import assert_ok_lines, run_mpi

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.mark.mpi
@pytest.mark.parametrize("n,shm", [(2, "1"), (3, "1"), (2, "0")])
def test_distributed_optimizer(n, shm):
    """broadcast_parameters (and its mismatch error); DistributedOptimizer == DDP == one process;
    backward_passes_per_step error; partial gradients; broadcast_optimizer_state with lazily
    created state; delegation, lr scheduler, synchronize/skip_synchronize. Over node shared
    memory (the all-reduce averages as it sums) and over MPI's Allreduce."""
    res = run_mpi(n, SCRIPTS / "dopt_core.py", timeout=120, env={"DISTGRAD_SHM_ALLREDUCE": shm})
    assert_ok_lines(res, n)


def test_wrapper_arguments_and_errors(world_of_one):
    import distgrad as dg
    import distgrad.nn
    import distgrad.optim  # noqa: F401
    from distgrad.distributed import ReduceOp
    from distgrad.distributed.optimizer import DistributedOptimizer

    w = dg.nn.Parameter(dg.ones(3))
    b = dg.nn.Parameter(dg.zeros(1))
    sgd = dg.optim.SGD([w, b], lr=0.1)
    with pytest.raises(ValueError, match="backward_passes_per_step"):
        DistributedOptimizer(sgd, backward_passes_per_step=0)
    with pytest.raises(ValueError, match="op must be"):
        DistributedOptimizer(sgd, op=ReduceOp.MAX)
    with pytest.raises(TypeError, match="wraps a distgrad optimizer"):
        DistributedOptimizer(object())
    with pytest.raises(ValueError, match="is not in it"):
        DistributedOptimizer(sgd, named_parameters=[("w", w)])
    with pytest.raises(ValueError, match="duplicate names"):
        DistributedOptimizer(sgd, named_parameters=[("w", w), ("w", b)])
    opt = DistributedOptimizer(sgd, named_parameters=[("w", w), ("b", b)])
    with pytest.raises(TypeError, match="already a DistributedOptimizer"):
        DistributedOptimizer(opt)
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradients of 'w' were computed 2 times"):
        (w * 2).sum().backward()
    opt.step()  # world of one: the wrapped optimizer's update, no communication
    assert b.grad is None
    assert abs(float(w[0].item()) - (1 - 0.1 * 4)) < 1e-7  # two passes accumulated 2+2
    assert "DistributedOptimizer(SGD" in repr(opt)
