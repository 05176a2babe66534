"""Make ``import mpi_helpers`` (tests/) and ``import distgrad`` (repo root) work however pytest
is started (``pytest``, ``python -m pytest``, from any directory)."""

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
for _p in (str(_TESTS), str(_TESTS.parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
