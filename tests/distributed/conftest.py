"""Make ``import mpi_helpers`` (tests/) and ``import distgrad`` (repo root) work however pytest
is started (``pytest``, ``python -m pytest``, from any directory); the ``world_of_one``
fixture."""

import os
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for _p in (str(_TESTS), str(_TESTS.parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


@pytest.fixture
def world_of_one(monkeypatch):
    """A default process group of one rank, made without launcher or DISTGRAD_ variables."""
    import distgrad.distributed as dist
    from mpi_helpers import LAUNCHER_VARIABLE_PREFIXES

    for k in list(os.environ):
        if k.startswith(LAUNCHER_VARIABLE_PREFIXES) or k.startswith("DISTGRAD_"):
            monkeypatch.delenv(k)
    if dist.is_initialized():
        dist.destroy_process_group()
    dist.init_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
