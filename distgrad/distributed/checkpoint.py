"""Checkpoints in a distributed job: one rank writes, the others wait; every rank can load."""
from __future__ import annotations

from ..checkpoint import save
from .collectives import barrier
from .process_group import get_rank, get_world_size, is_initialized


def save_checkpoint(obj, path, src: int = 0, group=None) -> None:
    """Write ``obj`` to ``path`` from rank ``src`` only (atomically); the other ranks of
    ``group`` wait until the file is complete. Every rank of the group must call it.

    Load it on every rank with ``distgrad.load(path)``. Without an initialised process group (or
    with one rank) this is ``distgrad.save``.
    """
    if not is_initialized() or get_world_size(group) == 1:
        save(obj, path)
        return
    if get_rank(group) == src:
        save(obj, path)
    barrier(group)
