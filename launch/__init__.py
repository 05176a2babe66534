"""distgrad-run: start a distgrad training script on N ranks.

* ``distgrad-run -n N script.py [args]``: N local ranks through ``mpiexec`` (or ``srun`` inside
  a Slurm allocation), output tagged by rank, the job's exit code as the launcher's.
* ``distgrad-run --slurm ...``: render ``slurm/train.sbatch`` into a job and submit it.
* ``distgrad-run --debug script.py``: one process in the foreground, ``DISTGRAD_DEBUG=1``.

Modules: ``cli`` (arguments, main), ``mpi`` (find/detect MPI, build commands), ``output``
(rank-tagging relay), ``runner`` (run + relay + signals), ``slurm`` (render, submit, follow),
``debug`` (single-process debug runs).
"""

__all__ = ["main"]


def main(argv=None):
    """Entry point of ``distgrad-run``; see :func:`launch.cli.main`."""
    from .cli import main as _main
    return _main(argv)
