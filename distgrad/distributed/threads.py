"""BLAS threads per rank.

N ranks on one machine, each with a BLAS pool as large as the machine, oversubscribe the cores
(N x cores threads), which makes matmuls slower than with one thread each. Under MPI, each rank
gets its share: ``max(1, min(cores this process may use, cpu_count // local world size))``
threads, unless the user chose a number (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
``MKL_NUM_THREADS`` set). Uses ``threadpoolctl``, imported only here and only then.
"""

from __future__ import annotations

import os
import warnings

__all__ = ["limit_blas_threads", "restore_blas_threads", "blas_thread_share", "USER_VARIABLES"]

USER_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_limiter = None  # the threadpool_limits object, kept alive while the limit holds


def blas_thread_share(local_world_size: int) -> int:
    """BLAS threads for one of ``local_world_size`` ranks on this node (at least 1)."""
    cpus = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))  # a rank bound to some cores gets only those
    except (AttributeError, OSError):
        usable = cpus
    return max(1, min(usable, cpus // max(1, local_world_size)))


def limit_blas_threads(local_world_size: int):
    """Limit the BLAS pools to this rank's share; returns the number, or None if not limited."""
    global _limiter
    set_by_user = [v for v in USER_VARIABLES if os.environ.get(v)]
    if set_by_user:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn("distgrad: threadpoolctl is not installed, so BLAS threads are not limited "
                      "per rank (pip install threadpoolctl, or set OMP_NUM_THREADS)",
                      RuntimeWarning, stacklevel=3)
        return None
    n = blas_thread_share(local_world_size)
    restore_blas_threads()
    _limiter = threadpool_limits(limits=n, user_api="blas")
    return n


def restore_blas_threads() -> None:
    """Undo ``limit_blas_threads``: the BLAS libraries get their original thread counts."""
    global _limiter
    if _limiter is not None:
        try:
            _limiter.restore_original_limits()
        finally:
            _limiter = None
