"""Batches of variable-length sequences (PyTorch's ``torch.nn.utils.rnn``): ``PackedSequence``
and the functions that pad, pack and unpack them.

A packed sequence stores the steps of a batch sorted by decreasing length in time-major order:
the first step of every sequence, then the second step of those that have one, and so on;
``batch_sizes[t]`` counts the sequences that reach step ``t``. Every conversion is one gather of
rows (the padding comes from one extra row), so gradients flow through packing and padding.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ... import dtypes, ops
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _converter(dtype):
    """A ``PackedSequence`` method converting ``data`` to ``dtype``."""
    def convert(self) -> "PackedSequence":
        return self.to(dtype)
    convert.__doc__ = f"The sequence with ``data`` as {dtype}."
    return convert


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The packed steps ``data`` (``(sum(batch_sizes), *)``), the int64 CPU tensor
    ``batch_sizes``, and the permutations between the caller's batch order and the sorted one
    (None when the batch was already sorted). Made by ``pack_padded_sequence`` and
    ``pack_sequence``; the recurrent layers take and return it."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                "created manually. They should be instantiated by functions like pack_sequence "
                "and pack_padded_sequences in nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data):
        """``self`` with ``data`` (and the index tensors moved to its device); ``self`` when
        ``data`` is the same tensor."""
        if data is self.data:
            return self
        indices = (None if t is None else t.to(data.device)
                   for t in (self.sorted_indices, self.unsorted_indices))
        return type(self)(data, self.batch_sizes, *indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """Convert ``data`` as ``Tensor.to`` does (``self`` when nothing changes)."""
        return self._with_data(self.data.to(*args, **kwargs))

    def cpu(self) -> "PackedSequence":
        """The sequence with ``data`` on the CPU."""
        return self._with_data(self.data.cpu())

    def cuda(self, device=None) -> "PackedSequence":
        """The sequence with ``data`` on a CUDA device."""
        return self._with_data(self.data.cuda(device))

    double = _converter(dtypes.float64)
    float = _converter(dtypes.float32)
    half = _converter(dtypes.float16)
    long = _converter(dtypes.int64)
    int = _converter(dtypes.int32)
    short = _converter(dtypes.int16)
    char = _converter(dtypes.int8)
    byte = _converter(dtypes.uint8)

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a CUDA device."""
        return self.data.is_cuda


def invert_permutation(permutation):
    """The inverse of the 1-D index tensor ``permutation`` (None for None)."""
    if permutation is None:
        return None
    positions = ops.arange(permutation.numel(), device=permutation.device)
    return ops.empty_like(permutation).scatter_(0, permutation, positions)


def _pad_rows(rows, mask, padding_value, transpose=False):
    """A ``mask.shape + rows.shape[1:]`` tensor (the two leading dimensions swapped with
    ``transpose``) holding ``rows`` at the True entries of the 2-D ``mask`` in row-major order
    and ``padding_value`` elsewhere."""
    count = rows.shape[0]
    index = np.full(mask.shape, count)
    index[mask] = np.arange(count)
    pad = ops.full((1, *rows.shape[1:]), padding_value, dtype=rows.dtype, device=rows.device)
    return ops.cat([rows, pad])[ops.as_tensor(index.T if transpose else index,
                                              device=rows.device)]


def _lengths_array(lengths) -> np.ndarray:
    return np.asarray(lengths.tolist() if isinstance(lengths, Tensor) else lengths, np.int64)


def _pack_sorted(input, lengths, batch_first):
    """The packed steps and batch sizes of ``input`` whose sequences are sorted by length."""
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability.")
    if lengths[0] > steps:
        raise RuntimeError(f"Expected every length to be at most the padded length {steps}, but "
                           f"got a length of {lengths[0]}")
    valid = np.arange(lengths[0])[:, None] < lengths[None, :]
    t, b = np.nonzero(valid)
    rows = b * steps + t if batch_first else t * batch + b
    data = input.flatten(0, 1)[ops.as_tensor(rows, device=input.device)]
    return data, ops.as_tensor(valid.sum(1), dtype=dtypes.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack the padded batch ``input`` (``(T, B, *)``, or ``(B, T, *)`` with ``batch_first``)
    of sequences of the given ``lengths``. Unless ``enforce_sorted=False``, the lengths must
    decrease; otherwise the batch is sorted and the permutation kept in the result."""
    lengths = _lengths_array(lengths)
    sorted_indices = None
    if not enforce_sorted:
        _, sorted_indices = ops.sort(ops.as_tensor(lengths), descending=True)
        lengths = lengths[sorted_indices.numpy()]
        sorted_indices = sorted_indices.to(input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _pack_sorted(input, lengths, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: returns the padded batch (``(T, B, *)``, or ``(B, T, *)``
    with ``batch_first``; ``T`` is ``total_length`` when given) in the caller's original order,
    and the int64 tensor of lengths."""
    batch_sizes = _lengths_array(sequence.batch_sizes)
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{steps}")
        batch_sizes = np.concatenate([batch_sizes, np.zeros(total_length - steps, np.int64)])
    valid = np.arange(batch_sizes[0])[None, :] < batch_sizes[:, None]
    padded = _pad_rows(sequence.data, valid, padding_value, transpose=batch_first)
    lengths = ops.as_tensor(valid.sum(0), dtype=dtypes.int64)
    if sequence.unsorted_indices is None:
        return padded, lengths
    return (padded.index_select(0 if batch_first else 1, sequence.unsorted_indices),
            lengths[sequence.unsorted_indices.cpu()])


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack the ``(L_i, *)`` tensors of ``sequences`` into one ``(T, B, *)`` tensor (``(B, T,
    *)`` with ``batch_first``), filling the shorter ones with ``padding_value`` on
    ``padding_side`` (``"right"`` or ``"left"``)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError("Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    lengths = np.array([s.shape[0] for s in sequences])
    steps = np.arange(lengths.max())[None, :]
    valid = (steps < lengths[:, None] if padding_side == "right"
             else steps >= lengths.max() - lengths[:, None])
    return _pad_rows(ops.cat(sequences), valid, padding_value, transpose=not batch_first)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch into the list of its sequences, cut to their ``lengths``. Unlike
    PyTorch, ``padded_sequences`` is left as it is (PyTorch transposes it in place)."""
    batch = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [seq[:int(length)].clone() for seq, length in zip(batch, lengths, strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of ``(L_i, *)`` tensors (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of the sequences in a ``PackedSequence``, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
