"""``DataLoader``: iterates a dataset in batches, and the collate functions that build them."""
from __future__ import annotations

import collections.abc
import functools
import itertools
import weakref

import numpy as np

from .. import _backend
from .. import random as _random
from ..ops import stack, tensor
from ..tensor import Tensor
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .workers import WorkerPool, get_worker_info

_STRING_KINDS = "SUO"  # NumPy dtype kinds that do not make tensors (bytes, str, object)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(batch):
    """Merge a list of samples into a batch (PyTorch's ``default_collate``).

    Tensors and NumPy arrays are stacked along a new first dimension; Python floats become a
    float64 tensor, ints an int64 tensor, bools a bool tensor, NumPy scalars a tensor of their
    dtype; strings stay a list; dicts, namedtuples, tuples and lists are collated field by field
    (tuples and lists give a list, as in PyTorch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _STRING_KINDS:
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                            f"dicts or lists; found array of dtype {elem.dtype}")
        return Tensor._wrap(np.stack(batch))
    if isinstance(elem, (np.bool_, np.number)):
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, int):  # bool included: gives a bool tensor
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                    f"lists; found {type(elem)}")


def default_convert(data):
    """Convert one sample without batching (``batch_size=None``): NumPy arrays and scalars become
    tensors, containers are converted element by element (tuples give lists)."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in _STRING_KINDS:
        return Tensor._wrap(data)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterate over ``dataset`` in batches (PyTorch's ``torch.utils.data.DataLoader``).

    Indices come from ``batch_sampler``, or from ``sampler`` (default: ``RandomSampler`` with
    ``generator`` when ``shuffle`` is true, ``SequentialSampler`` otherwise) grouped into batches
    of ``batch_size`` (``drop_last`` drops a short last batch; ``batch_size=None`` yields single
    samples). ``collate_fn`` (default: ``default_collate``) merges samples into a batch. Without a
    ``generator``, shuffling draws from the default generator, so ``distgrad.manual_seed`` makes the
    order reproducible.

    A ``TensorDataset`` (or a ``Subset`` of one) with the default ``collate_fn`` is batched with one
    fancy index per tensor, which gives the same batches as collating per-sample tensors, faster.

    ``num_workers > 0`` builds batches in that many worker threads (see ``data.workers``: not
    processes, which are unsafe after ``MPI_Init``), ``prefetch_factor`` batches per worker ahead
    of the loop, in order (as they finish with ``in_order=False``); batch ``i`` of a map-style
    dataset is built by worker ``i % num_workers``, which has its own default generator seeded
    ``base_seed + id``; ``get_worker_info()`` tells the dataset which worker runs it, and
    ``worker_init_fn(id)`` runs first in each worker. ``persistent_workers`` keeps the workers
    between epochs; ``timeout`` (seconds) bounds the wait for a batch. An exception in a worker is
    re-raised in the loop with the worker's traceback. ``multiprocessing_context`` is accepted
    for compatibility and unused; so is ``pin_memory``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, in_order=True):
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        if isinstance(dataset, IterableDataset):
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: shuffle, sampler and "
                                 "batch_sampler must not be given")
        elif batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = 2 if num_workers and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.timeout = timeout
        self.in_order = in_order
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory = pin_memory
        self.generator = generator
        if collate_fn is None:
            auto_batching = batch_size is not None or batch_sampler is not None
            collate_fn = default_collate if auto_batching else default_convert
        self.collate_fn = collate_fn
        self._pool = None  # the persistent workers

    def __iter__(self):
        if self.num_workers == 0:
            if isinstance(self.dataset, IterableDataset):
                return self._stream()
            return map(self._fetcher(), self._index_sampler())
        return self._from_workers()

    def _index_sampler(self):
        """What a map-style dataset's batches are built from: index lists, or single indices
        (``batch_size=None``)."""
        return self.sampler if self.batch_sampler is None else self.batch_sampler

    def _start_workers(self):
        """A pool of worker threads seeded from the loader's generator (kept by the loader with
        ``persistent_workers``)."""
        base_seed = int(_random.rng(self.generator).integers(2 ** 62))
        pool = WorkerPool(self.dataset, self.num_workers, base_seed, self.worker_init_fn)
        if self.persistent_workers:
            self._pool = pool
            weakref.finalize(self, pool.close)
        return pool

    def _stream(self):
        """The batches of an ``IterableDataset`` (in a worker: of the worker's iterator)."""
        items, collate = iter(self.dataset), self.collate_fn
        if self.batch_size is None:
            yield from map(collate, items)
            return
        while batch := list(itertools.islice(items, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield collate(batch)

    def _fetcher(self):
        """The function that builds the batch of one item of the (batch) sampler of a map-style
        dataset."""
        dataset, collate = self.dataset, self.collate_fn
        if self.batch_sampler is None:
            return lambda index: collate(dataset[index])
        # Fast path: one fancy index per tensor of a TensorDataset (or of a Subset of one).
        base, subset_indices = dataset, None
        if type(base) is Subset and type(base.dataset) is TensorDataset:
            base, subset_indices = base.dataset, np.asarray(base.indices, dtype=np.int64)
        if type(base) is TensorDataset and collate is default_collate:
            def take(indices):
                idx = np.asarray(indices, dtype=np.int64)
                if subset_indices is not None:
                    idx = subset_indices[idx]
                return [t[_backend.get_array_module(t._data).asarray(idx)] for t in base.tensors]
            return take
        return lambda indices: collate([dataset[i] for i in indices])

    def _from_workers(self):
        """The batches, built by the worker threads."""
        iterable = isinstance(self.dataset, IterableDataset)
        if not iterable:
            # the first item is drawn before the workers' seed: the order of the samples does
            # not depend on num_workers
            items = enumerate(self._index_sampler())
            first = next(items, None)
            if first is None:
                return
            items = itertools.chain((first,), items)
        pool = self._pool or self._start_workers()
        run = functools.partial(pool.results, prefetch=self.prefetch_factor, timeout=self.timeout,
                                in_order=self.in_order)
        try:
            if not iterable:
                yield from run(((i % self.num_workers, item) for i, item in items),
                               self._fetcher())
                return
            # each worker iterates the dataset on its own; batches come round-robin from the
            # workers whose iterators are not exhausted (as in PyTorch)
            streams, active = {}, [True] * self.num_workers

            def next_batch(_):
                worker = get_worker_info().id
                if worker not in streams:
                    streams[worker] = self._stream()
                return next(streams[worker], _Exhausted(worker))

            def assignments():
                cycle = itertools.cycle(range(self.num_workers))
                while any(active):
                    worker = next(cycle)
                    if active[worker]:
                        yield worker, None

            for batch in run(assignments(), next_batch):
                if type(batch) is _Exhausted:
                    active[batch.worker] = False
                else:
                    yield batch
        finally:
            if pool is not self._pool:
                pool.close()

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)


class _Exhausted:
    """What a worker returns once its iterator of an ``IterableDataset`` is exhausted."""

    def __init__(self, worker):
        self.worker = worker


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers):
    """PyTorch's checks of the worker options."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable worker threads.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if prefetch_factor is not None:
        if num_workers == 0:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing: "
                             "let num_workers > 0 to enable worker threads, otherwise set "
                             "prefetch_factor to None.")
        if prefetch_factor < 1:
            raise ValueError(f"prefetch_factor option should be positive, got {prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
