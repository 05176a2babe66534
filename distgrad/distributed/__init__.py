"""distgrad.distributed: data-parallel communication, PyTorch's ``torch.distributed`` API on MPI.

Launch N processes with an MPI launcher and call :func:`init_process_group` in each::

    mpiexec -n 2 python -m mpi4py train.py        # or: srun --mpi=pmi2 python train.py

Without a launcher (``python train.py``) the default group is a world of one that needs no MPI
library and installs no hooks. Collectives work in place on ``tensor.data`` (Tensors or raw
numpy/cupy arrays). Environment variables:

* ``DISTGRAD_TIMEOUT`` (seconds): stall watchdog timeout when ``init_process_group`` gets no
  ``timeout=`` (default 1800; 0 turns it off).
* ``DISTGRAD_DEBUG=1``: check before every collective that all ranks call the same collective
  with the same shape, dtype, op and root (one small allgather each).
* ``DISTGRAD_CUDA_AWARE_MPI=1``: hand GPU buffers to MPI directly instead of staging them
  through host memory.
"""

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    gather_object,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    scatter_object_list,
)
from . import algorithms  # noqa: F401  (ddp_comm_hooks)
from .checkpoint import save_checkpoint
from .debugging import breakpoint
from .evaluation import DistributedEvalSampler, all_reduce_metrics, evaluate
from .faults import CollectiveMismatchError
from .logging import get_logger, print0
from .optimizer import DistributedOptimizer, broadcast_optimizer_state, broadcast_parameters
from .p2p import (
    P2POp,
    batch_isend_irecv,
    irecv,
    isend,
    recv,
    recv_object_list,
    send,
    send_object_list,
)
from .process_group import (
    DEFAULT_TIMEOUT,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_local_rank,
    get_local_world_size,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    new_group,
)

__all__ = [
    "breakpoint", "init_process_group", "destroy_process_group", "is_initialized", "is_available",
    "is_mpi_available", "get_rank", "get_world_size", "get_local_rank", "get_local_world_size",
    "get_backend", "new_group", "get_process_group_ranks", "get_global_rank", "get_group_rank",
    "group", "ProcessGroup", "DEFAULT_TIMEOUT",
    "ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
    "reduce_scatter", "reduce_scatter_tensor", "reduce", "gather", "scatter", "barrier",
    "broadcast_object_list", "all_gather_object", "all_to_all", "all_to_all_single",
    "gather_object", "scatter_object_list",
    "send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv", "send_object_list",
    "recv_object_list",
    "CollectiveMismatchError", "print0", "get_logger", "save_checkpoint",
    "DistributedDataParallel", "GradBucket", "DistributedOptimizer", "broadcast_parameters",
    "broadcast_optimizer_state", "DistributedEvalSampler", "all_reduce_metrics", "evaluate",
]


def __getattr__(name):
    """``DistributedDataParallel`` and ``GradBucket`` are imported on first use (they import
    ``distgrad.nn``)."""
    if name in ("DistributedDataParallel", "GradBucket"):
        from . import ddp
        return getattr(ddp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
