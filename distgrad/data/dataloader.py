"""``DataLoader``: iterates a dataset in batches, and the collate functions that build them."""
from __future__ import annotations

import collections.abc
import itertools

import numpy as np

from .. import _backend
from ..ops import stack, tensor
from ..tensor import Tensor
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

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

    Only ``num_workers=0`` is supported: batches are built in the training process. Worker
    processes would be forked from a process that has initialised MPI (and possibly CUDA), which
    is unsafe: MPI libraries do not support ``fork`` after ``MPI_Init``. ``pin_memory`` is accepted
    for compatibility and has no effect.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, *,
                 generator=None):
        if num_workers != 0:
            raise ValueError(
                f"DataLoader(num_workers={num_workers}) is not supported: distgrad builds batches "
                f"in the training process (num_workers=0), because worker processes forked after "
                f"MPI is initialised are unsafe. Use num_workers=0.")
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
        self.num_workers = 0
        self.pin_memory = pin_memory
        self.generator = generator
        if collate_fn is None:
            auto_batching = batch_size is not None or batch_sampler is not None
            collate_fn = default_collate if auto_batching else default_convert
        self.collate_fn = collate_fn

    def __iter__(self):
        dataset, collate = self.dataset, self.collate_fn
        if isinstance(dataset, IterableDataset):
            items = iter(dataset)
            if self.batch_size is None:
                yield from map(collate, items)
                return
            while batch := list(itertools.islice(items, self.batch_size)):
                if self.drop_last and len(batch) < self.batch_size:
                    return
                yield collate(batch)
        elif self.batch_sampler is None:
            for index in self.sampler:
                yield collate(dataset[index])
        else:
            # Fast path: one fancy index per tensor of a TensorDataset (or of a Subset of one).
            base, subset_indices = dataset, None
            if type(base) is Subset and type(base.dataset) is TensorDataset:
                base, subset_indices = base.dataset, np.asarray(base.indices, dtype=np.int64)
            if type(base) is TensorDataset and collate is default_collate:
                for indices in self.batch_sampler:
                    idx = np.asarray(indices, dtype=np.int64)
                    if subset_indices is not None:
                        idx = subset_indices[idx]
                    yield [t[_backend.get_array_module(t._data).asarray(idx)] for t in base.tensors]
                return
            for indices in self.batch_sampler:
                yield collate([dataset[i] for i in indices])

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
