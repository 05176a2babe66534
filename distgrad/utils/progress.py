"""Progress output: a tqdm bar on a terminal, plain log lines elsewhere (log files, Slurm output).

``progress(loader, desc="epoch 1")`` wraps an iterable like ``tqdm``. When its output stream is
not a terminal, a bar would fill a log file with carriage returns, so it prints a plain line such
as ``epoch 1: 30/100 [00:12, 2.48 it/s] loss=0.3512`` every ``log_every`` of the total (10%) and
at least every ``log_interval`` seconds, and a last line when the loop ends.
"""
from __future__ import annotations

import math
import numbers
import sys
import time

from tqdm import tqdm


def _default_disable() -> bool:
    """Whether progress output is hidden when ``disable`` is None: on every rank but rank 0 of
    an initialised process group."""
    from ..distributed import get_rank, is_initialized
    return is_initialized() and get_rank() != 0


def _is_terminal(file) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def progress(iterable=None, total=None, desc=None, disable=None, *, file=None, log_every=0.1,
             log_interval=60.0, **tqdm_kwargs):
    """Wrap ``iterable`` with progress output on ``file`` (default: ``sys.stderr``).

    A ``tqdm`` bar (``tqdm_kwargs`` go to it) when ``file`` is a terminal; otherwise a
    ``LogProgress`` that prints plain lines. ``disable=True`` hides the output; ``disable=None``
    asks ``_default_disable()``. Both kinds support ``update``, ``set_postfix``,
    ``set_description``, ``write``, ``close`` and ``with``.
    """
    if disable is None:
        disable = _default_disable()
    file = sys.stderr if file is None else file
    if disable or _is_terminal(file):
        return tqdm(iterable, total=total, desc=desc, disable=disable, file=file, **tqdm_kwargs)
    return LogProgress(iterable, total=total, desc=desc, file=file, log_every=log_every,
                       log_interval=log_interval, unit=tqdm_kwargs.get("unit", "it"))


def _format_value(value) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{value:.4g}"
    return str(value)


class LogProgress:
    """Progress reported as plain lines (``desc: n/total [elapsed, rate] postfix``)."""

    def __init__(self, iterable=None, total=None, desc=None, file=None, log_every=0.1,
                 log_interval=60.0, unit="it"):
        if total is None and iterable is not None:
            try:
                total = len(iterable)
            except TypeError:
                pass
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.file = sys.stderr if file is None else file
        self.log_interval = log_interval
        self.n = 0
        self.postfix = ""
        self._step = max(1, math.ceil(total * log_every)) if total else None
        self._next = self._step
        self._start = self._last_time = time.monotonic()
        self._logged_n = 0
        self._closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __len__(self):
        return self.total if self.total is not None else len(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n=1) -> None:
        """Count ``n`` more steps; print a line at each ``log_every`` mark or after ``log_interval``."""
        self.n += n
        now = time.monotonic()
        at_mark = self._next is not None and self.n >= self._next
        if at_mark or now - self._last_time >= self.log_interval:
            self._log(now)

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs) -> None:
        """Values shown after the counts, like ``tqdm.set_postfix`` (``loss=0.1234, lr=0.01``)."""
        values = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={_format_value(v)}" for k, v in values.items())

    def set_postfix_str(self, s="", refresh=True) -> None:
        """Set the text shown after the counts, like ``tqdm.set_postfix_str``."""
        self.postfix = str(s)

    def set_description(self, desc=None, refresh=True) -> None:
        """Set the prefix of the lines, like ``tqdm.set_description``."""
        self.desc = desc

    def write(self, s: str) -> None:
        """Print ``s`` as a line to the progress stream, like ``tqdm.write``."""
        print(s, file=self.file, flush=True)

    def close(self) -> None:
        """Print the final line (unless the last one already shows it)."""
        if not self._closed:
            self._closed = True
            if self.n != self._logged_n:
                self._log(time.monotonic())

    def _log(self, now) -> None:
        self._last_time, self._logged_n = now, self.n
        if self._step is not None:
            self._next = (self.n // self._step + 1) * self._step
        self.write(self.format_line(now - self._start))

    def format_line(self, elapsed: float) -> str:
        """The progress line: description, count, elapsed time, rate and postfix."""
        count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        rate = self.n / elapsed if elapsed > 0 else 0.0
        if rate >= 1 or rate == 0:
            speed = f"{rate:.2f} {self.unit}/s"
        else:
            speed = f"{1 / rate:.2f} s/{self.unit}"
        line = f"{self.desc}: " if self.desc else ""
        line += f"{count} [{tqdm.format_interval(elapsed)}, {speed}]"
        return f"{line} {self.postfix}" if self.postfix else line
