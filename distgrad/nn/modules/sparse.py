"""``Embedding`` (a lookup table of vectors indexed by integer ids) and ``EmbeddingBag`` (the
sum, mean or maximum of each bag of looked-up vectors)."""
from __future__ import annotations

from ... import ops
from ...autograd import grad_mode
from ...ops.nn.embedding import padding_index
from .. import init
from ..parameter import Parameter
from .. import functional as F
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


class _Table(Module):
    """What ``Embedding`` and ``EmbeddingBag`` share: the ``(num_embeddings, embedding_dim)``
    weight, drawn from N(0, 1) (or ``_weight``) with the row ``padding_idx`` (if given) zero,
    and the lookup options."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx, padding_message, max_norm,
                 norm_type, scale_grad_by_freq, sparse, _weight, requires_grad, device, dtype):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_index(padding_idx, num_embeddings, AssertionError,
                                         padding_message)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(ops.empty((num_embeddings, embedding_dim), device=device,
                                              dtype=dtype), requires_grad=requires_grad)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight, requires_grad=requires_grad)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._version_counter[0] += 1

    def _options_repr(self) -> str:
        """The ``max_norm``, ``norm_type`` and ``scale_grad_by_freq`` part of ``extra_repr``."""
        s = ""
        if self.max_norm is not None:
            s += ", max_norm={max_norm}"
        if self.norm_type != 2:
            s += ", norm_type={norm_type}"
        if self.scale_grad_by_freq is not False:
            s += ", scale_grad_by_freq={scale_grad_by_freq}"
        return s


def _pretrained_shape(embeddings):
    """The shape of the 2-D tensor of a ``from_pretrained``, checked as PyTorch does."""
    if embeddings.dim() != 2:
        raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
    return embeddings.shape


class Embedding(_Table):
    """A ``(num_embeddings, embedding_dim)`` table; ``forward(ids)`` returns the rows.

    The weight is drawn from N(0, 1); the row ``padding_idx`` (if given) is zero and gets no
    gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__(num_embeddings, embedding_dim, padding_idx,
                         "Padding_idx must be within num_embeddings", max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, not _freeze, device, dtype)

    def forward(self, input):
        extra = {}
        if self.max_norm is not None:
            extra["max_norm"] = self.max_norm
            extra["norm_type"] = self.norm_type
        if self.scale_grad_by_freq:
            extra["scale_grad_by_freq"] = True
        if self.sparse:
            extra["sparse"] = True
        return F.embedding(input, self.weight, self.padding_idx, **extra)

    def extra_repr(self) -> str:
        s = "{num_embeddings}, {embedding_dim}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        s += self._options_repr()
        if self.sparse is not False:
            s += ", sparse=True"
        return s.format(**self.__dict__)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False):
        """An ``Embedding`` whose weight is (shares storage with) the 2-D tensor ``embeddings``."""
        rows, cols = _pretrained_shape(embeddings)
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(_Table):
    """A ``(num_embeddings, embedding_dim)`` table; ``forward(input, offsets=None,
    per_sample_weights=None)`` returns the sum, mean or maximum (``mode``) of the rows of each
    bag of ids: a row of a 2-D ``input``, or the slices of a 1-D ``input`` that start at
    ``offsets`` (see ``functional.embedding_bag``).

    The weight is drawn from N(0, 1); the row ``padding_idx`` (if given) is zero, left out of
    the bags and gets no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx=None, device=None, dtype=None):
        super().__init__(num_embeddings, embedding_dim, padding_idx,
                         "padding_idx must be within num_embeddings", max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, True, device, dtype)
        self.mode = mode
        self.include_last_offset = include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = "{num_embeddings}, {embedding_dim}" + self._options_repr() + ", mode={mode}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        return s.format(**{k: repr(v) for k, v in self.__dict__.items()})

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx=None):
        """An ``EmbeddingBag`` whose weight is (shares storage with) the 2-D tensor
        ``embeddings``; ``freeze`` turns its gradient off."""
        rows, cols = _pretrained_shape(embeddings)
        bag = cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, max_norm=max_norm,
                  norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, mode=mode,
                  sparse=sparse, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
