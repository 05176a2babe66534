"""Rank-aware output: ``print0`` and ``get_logger``.

The rank is read when a line is written, so both work before ``init_process_group`` (then the
launcher's variables give the rank, e.g. ``PMI_RANK``) and in a world of one (no prefix).
"""

from __future__ import annotations

import logging as _logging
import sys

__all__ = ["print0", "get_logger", "rank_and_size"]


def rank_and_size():
    """(rank, world size): from the default group once initialized, else from the launcher."""
    from . import process_group as _pg

    pg = _pg._default
    if pg is not None:
        return pg.rank(), pg.size()
    from .env import detect_launch

    info = detect_launch()
    return (info.rank or 0), (info.world_size or 1)


def print0(*args, **kwargs) -> None:
    """``print`` on rank 0 only (every rank prints before init in a world of one)."""
    if rank_and_size()[0] == 0:
        print(*args, **kwargs)


class _RankFilter(_logging.Filter):
    """Adds ``record.rank`` and ``record.rank_prefix``; below WARNING, keeps rank 0's only."""

    def __init__(self, all_ranks_level):
        super().__init__()
        self.all_ranks_level = all_ranks_level

    def filter(self, record):
        rank, size = rank_and_size()
        record.rank = rank
        record.rank_prefix = f"[rank {rank}] " if size > 1 else ""
        return rank == 0 or record.levelno >= self.all_ranks_level


_FORMAT = "%(rank_prefix)s%(levelname)s %(name)s: %(message)s"


def get_logger(name: str = "distgrad", level=_logging.INFO, all_ranks_level=_logging.WARNING,
               stream=None) -> _logging.Logger:
    """A ``logging.Logger`` whose lines carry ``[rank r] `` (when the world has > 1 process).

    Records below ``all_ranks_level`` (default WARNING) are emitted on rank 0 only; WARNING
    and above on every rank. The first call for a name attaches one handler (to ``stream``,
    default ``sys.stderr``) and sets ``propagate = False``; later calls return the same logger.
    Records logged on the logger carry ``record.rank`` for custom formatters.
    """
    logger = _logging.getLogger(name)
    if not any(isinstance(f, _RankFilter) for f in logger.filters):
        logger.addFilter(_RankFilter(all_ranks_level))
        handler = _logging.StreamHandler(sys.stderr if stream is None else stream)
        handler.setFormatter(_logging.Formatter(_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level)
    return logger
