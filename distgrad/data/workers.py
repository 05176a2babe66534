"""``DataLoader`` workers: threads that build batches ahead of the training loop.

distgrad's workers are threads, not PyTorch's processes. Worker processes would be forked from
a process that has initialised MPI (unsafe: MPI libraries do not support ``fork`` after
``MPI_Init``, and with InfiniBand it crashes), and spawned ones re-run a script that lacks an
``if __name__ == "__main__":`` guard, MPI initialisation included. Threads need neither, and the
usual work of a dataset (file reads, decoding, NumPy) releases the GIL, so it overlaps with
training. Each worker has its own default generator seeded ``base_seed + id`` (as in PyTorch), so
the random functions of the dataset give the same batches whatever the threads' timing.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import queue
import threading

from .. import random as _random


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What a dataset sees of the worker that runs it (``get_worker_info()``)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_local = threading.local()


def get_worker_info():
    """In a ``DataLoader`` worker: its ``WorkerInfo`` (``id``, ``num_workers``, ``seed``,
    ``dataset``), for instance to give each worker its share of an ``IterableDataset``; None
    outside the workers."""
    return getattr(_local, "info", None)


class _Failure:
    """An exception raised in a worker; the consuming loop re-raises it with the worker's
    traceback (the same exception object, not a copy: its type and attributes are kept)."""

    def __init__(self, error, worker_id):
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note(f"Caught in DataLoader worker {worker_id} (a thread); the traceback "
                           f"above ends where the worker raised it.")
        self.error = error

    def reraise(self):
        raise self.error


class _Results:
    """The results of one pass over a loader, numbered in submission order."""

    def __init__(self):
        self._done = {}
        self._ready = threading.Condition()

    def put(self, number, value):
        with self._ready:
            self._done[number] = value
            self._ready.notify_all()

    def take(self, numbers, timeout):
        """Remove and return ``(number, value)`` for the first of ``numbers`` that is done
        (waiting for it; at most ``timeout`` seconds when ``timeout`` is positive)."""
        def first_done():  # a list, true when one is done (number 0 included)
            return [n for n in numbers if n in self._done][:1]

        with self._ready:
            found = self._ready.wait_for(first_done, timeout if timeout > 0 else None)
            if not found:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
            return found[0], self._done.pop(found[0])


class WorkerPool:
    """``num_workers`` daemon threads, each with a queue of tasks ``fn(arg)`` that it runs in
    order. A worker first sets its ``WorkerInfo`` and generator and calls ``worker_init_fn(id)``.
    """

    def __init__(self, dataset, num_workers, base_seed, worker_init_fn=None):
        self.num_workers = num_workers
        self._inboxes = [queue.SimpleQueue() for _ in range(num_workers)]
        for worker_id, inbox in enumerate(self._inboxes):
            info = WorkerInfo(worker_id, num_workers, base_seed + worker_id, dataset)
            threading.Thread(target=_serve, args=(inbox, info, worker_init_fn), daemon=True,
                             name=f"DataLoader worker {worker_id}").start()

    def results(self, assignments, fn, prefetch, timeout, in_order=True):
        """Yield ``fn(arg)`` for each ``(worker_id, arg)`` of the iterator ``assignments``, run
        by that worker, with up to ``prefetch`` tasks per worker submitted ahead; in submission
        order, or as they finish when not ``in_order``. The next assignment is drawn after the
        consumer has handled the previous result (it may steer the assignments). A worker's
        exception is re-raised here."""
        done = _Results()
        pending = collections.deque()
        numbers = itertools.count()

        def submit():
            for worker_id, arg in itertools.islice(assignments, 1):
                number = next(numbers)
                self._inboxes[worker_id].put((done, number, fn, arg))
                pending.append(number)

        for _ in range(prefetch * self.num_workers):
            submit()
        while pending:
            number, value = done.take((pending[0],) if in_order else tuple(pending), timeout)
            pending.remove(number)
            if type(value) is _Failure:
                value.reraise()
            yield value
            submit()

    def close(self):
        """Let the workers finish their current task and stop (results still due are dropped)."""
        for inbox in self._inboxes:
            inbox.put(None)


def _serve(inbox, info, worker_init_fn):
    """A worker thread's loop: run tasks ``(results, number, fn, arg)`` until ``None``."""
    _local.info = info
    _random.set_thread_generator(_random.Generator().manual_seed(info.seed))
    failure = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(info.id)
        except Exception as error:  # reported with the first batch this worker owes
            failure = _Failure(error, info.id)
    while (task := inbox.get()) is not None:
        results, number, fn, arg = task
        if failure is None:
            try:
                value = fn(arg)
            except Exception as error:
                value = _Failure(error, info.id)
        else:
            value = failure
        results.put(number, value)
