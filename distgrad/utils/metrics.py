"""A metrics log: one JSON object per line (``MetricsLog``), read back with ``read_metrics``.

Each ``log(step=..., loss=..., lr=...)`` appends a line such as
``{"step": 100, "epoch": 1, "loss": 0.3512, "lr": 0.01, "samples_per_s": 5210.4, "time": 1718000000.5}``
and flushes it, so the file can be followed (``tail -f``) and plotted while training runs
(``python -m distgrad.utils.plot metrics.jsonl out.png``).
"""
from __future__ import annotations

import json
import os
import time


def _plain(value):
    """A JSON-able value: one-element tensors and arrays, and NumPy scalars, become numbers."""
    return value.item() if hasattr(value, "item") else value


class MetricsLog:
    """Append metrics as JSON lines to ``path``; a context manager that closes the file.

    ``log(**metrics)`` writes one line; a ``time`` key (seconds since the epoch) is added unless
    given. Non-finite floats are written as ``NaN``/``Infinity``, which ``read_metrics`` (Python's
    ``json``) reads back.
    """

    def __init__(self, path, mode: str = "a"):
        self.path = os.fspath(path)
        self._file = open(self.path, mode, encoding="utf-8")

    def log(self, **metrics) -> dict:
        """Append one record and flush it; returns the record written."""
        record = {key: _plain(value) for key, value in metrics.items()}
        record.setdefault("time", time.time())
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        return record

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_metrics(path) -> list:
    """The records of a metrics log, as a list of dicts (a torn last line is skipped)."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # written while the job was killed
                break
            raise ValueError(f"{os.fspath(path)}: line {i + 1} is not JSON: {line[:80]!r}") from None
    return records
