"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its parameters."""
from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter", "Buffer", "is_lazy"]


def _sharing_storage(cls, data, kind):
    """A new ``cls`` sharing ``data``'s storage and version counter (an empty float tensor when
    ``data`` is None); ``kind`` names it in the error for data that is not a tensor."""
    if data is None:
        from ..ops.creation import empty
        data = empty(0)
    elif not isinstance(data, Tensor):
        raise TypeError(f"{kind} expects a Tensor as data, got {type(data).__name__}")
    t = object.__new__(cls)
    t._data = data._data
    t._version_counter = data._version_counter
    return t


class Parameter(Tensor):
    """A tensor that is a module parameter (PyTorch's ``torch.nn.Parameter``).

    ``Parameter(data)`` shares ``data``'s storage (and version counter) and is always a leaf,
    even when ``data`` has history. Assigning a ``Parameter`` as a ``Module`` attribute registers
    it in the module's ``_parameters``. Operations on a parameter return plain tensors.
    """

    def __new__(cls, data=None, requires_grad=True):
        p = _sharing_storage(cls, data, "Parameter")
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):  # state is set up by __new__
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """A tensor that, assigned as a ``Module`` attribute, is registered as a buffer
    (``torch.nn.Buffer``). ``persistent=False`` leaves it out of ``state_dict``."""

    def __new__(cls, data=None, *, persistent=True):
        b = _sharing_storage(cls, data, "Buffer")
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent=True):
        pass


def is_lazy(param) -> bool:
    """Always False: distgrad has no lazy (uninitialised) parameters."""
    return False
