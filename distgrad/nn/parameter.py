"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its parameters."""
from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter", "UninitializedParameter", "Buffer", "is_lazy"]


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


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (the weights of lazy modules such as
    ``LazyLinear``): ``materialize(shape)`` gives it storage and makes it a ``Parameter``, the
    same object, so references to it stay valid. Until then its shape cannot be read."""

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        from ..ops.creation import empty
        p = super().__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)
        p._lazy_device, p._lazy_dtype = device, dtype
        return p

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    @property
    def shape(self):
        """Not known before ``materialize``."""
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This "
                           "error usually happens in `load_state_dict` when trying to load an "
                           "uninitialized parameter into an initialized one. Call `forward` to "
                           "initialize the parameters before accessing their attributes.")

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the parameter uninitialised storage of ``shape``; it becomes a ``Parameter``."""
        from ..ops.creation import empty
        data = empty(shape, device=device or self._lazy_device, dtype=dtype or self._lazy_dtype)
        self._data = data._data
        self._version_counter[0] += 1
        del self._lazy_device, self._lazy_dtype
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"

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
    """Whether ``param`` is an ``UninitializedParameter`` (its shape is not known yet)."""
    return isinstance(param, UninitializedParameter)
