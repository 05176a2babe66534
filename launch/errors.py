"""The launcher's one error type: bad input or a missing tool, reported with exit code 2."""

EXIT_USAGE = 2

NO_MPI_HINT = 'install an MPI: pip install "distgrad[mpi]"  (or: pip install mpi4py mpich)'


class LaunchError(Exception):
    """A problem with the user's input or environment; ``main`` prints it and exits with 2."""

    exit_code = EXIT_USAGE
