"""``Tensor``: an n-dimensional array (NumPy, or CuPy on a GPU) that can record autograd history.

Operators and most methods are installed from ``distgrad.ops`` (see ``ops/__init__.py``); this
module holds the state of a tensor and the autograd-facing API (``grad``, ``backward``, hooks).
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict

import numpy as np

from . import _backend
from .autograd import engine as _engine
from .autograd import grad_mode as _grad_mode
from .autograd.graph import _add_hook
from .dtypes import as_dtype, dtype_name, get_default_dtype


class Tensor:
    """A multi-dimensional array with optional gradient tracking (PyTorch's ``torch.Tensor``).

    ``_data`` is the raw NumPy/CuPy array; ``_version_counter`` is a one-element list shared with
    every view of the same storage and incremented by each in-place operation (``_version``
    reads it as an int, as in PyTorch).
    """

    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators

    # Defaults for rarely set state (instances set only what differs).
    grad_fn = None
    _output_nr = 0
    _grad = None
    _requires_grad = False
    _hooks = None
    _post_acc_hooks = None
    _acc_node = None
    _grad_dest = None      # preallocated storage for .grad (a tensor), see grad_destination
    _grad_claimed = False
    _base = None
    _view_key = None
    _view_mode = None      # "no_grad" or "inference" for a view made in that mode, see record_view
    _view_op = None        # the view op that PyTorch names in the error about such a view
    _is_inference = False

    def __init__(self, data, *, dtype=None, requires_grad=False):
        from .ops.creation import _to_array
        self._data = _to_array(data, dtype)
        self._version_counter = [0]
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(data) -> "Tensor":
        """Make a tensor around ``data`` without copying and without history."""
        t = _new(Tensor)
        # the type test first: a failing isinstance() is slow (it also looks up __class__)
        if type(data) is not np.ndarray and isinstance(data, np.generic):
            data = np.asarray(data)
        t._data = data
        t._version_counter = [0]
        if _grad_mode.inference_threads and _grad_mode._state.inference:
            t._is_inference = True
        return t

    # -- basic attributes ----------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing storage with this one, outside autograd (changes are not tracked)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self) -> tuple:
        """The size of each dimension, as a tuple."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    ndimension = dim

    @property
    def dtype(self):
        """The data type of the elements."""
        return self._data.dtype

    @property
    def device(self):
        """The device that holds the data."""
        return _backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        """True when the tensor is on a CUDA device."""
        return self.device.type == "cuda"

    def _xp(self):
        return _backend.get_array_module(self._data)

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        """True for floating-point dtypes."""
        return self._data.dtype.kind == "f"

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """Without ``dtype``, the type string (``'distgrad.FloatTensor'``,
        ``'distgrad.cuda.LongTensor'`` ...); with a dtype, a dtype name or a type string (also
        ``'torch.DoubleTensor'``), this tensor converted to it (itself if nothing changes)."""
        from .ops._util import TORCH_DTYPE_NAMES, torch_type_name
        if dtype is None:
            prefix = "distgrad.cuda." if self.is_cuda else "distgrad."
            return f"{prefix}{torch_type_name(self._data.dtype)}Tensor"
        device = None
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            module, _, name = dtype.rpartition(".")
            by_name = {v: k for k, v in TORCH_DTYPE_NAMES.items()}
            if module not in ("torch", "distgrad", "torch.cuda", "distgrad.cuda") or \
                    name[:-len("Tensor")] not in by_name:
                raise ValueError(f"invalid type: {dtype!r}")
            if module.endswith("cuda") != self.is_cuda:
                device = "cuda" if module.endswith("cuda") else "cpu"
            dtype = by_name[name[:-len("Tensor")]]
        try:
            dtype = as_dtype(dtype)
        except TypeError:
            raise ValueError(f"invalid type: {dtype!r}") from None
        return self.to(dtype=dtype, device=device)

    def is_contiguous(self) -> bool:
        """True when the elements are laid out contiguously in row-major order."""
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        """Address of the first element (equal for tensors that share storage)."""
        if self.device.type == "cpu":
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def stride(self, dim=None):
        """The strides in elements, or the stride of dimension ``dim``."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[dim]

    @property
    def _version(self) -> int:
        """How many in-place operations have changed this tensor's storage (PyTorch's
        ``Tensor._version``)."""
        return self._version_counter[0]

    def is_inference(self) -> bool:
        """True for an inference tensor (made under ``inference_mode``)."""
        return self._is_inference

    # -- conversion ----------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return _backend.to_device(self._data, _backend.CPU).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array behind this CPU tensor (shares memory)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        if type(self._data) is not np.ndarray:
            if force:
                return _backend.to_device(self._data, _backend.CPU)
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if type(self._data) is not np.ndarray:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first.")
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol):
        raise TypeError("distgrad tensors are not pickled; use distgrad.save() (no pickle) or "
                        "tensor.numpy()")

    def _new_leaf(self, data) -> "Tensor":
        """A leaf of this tensor's class around ``data`` with this tensor's ``requires_grad`` and
        none of its other tensor state (graph, hooks, ``.grad``, gradient storage): a version
        counter of its own, an inference tensor only inside ``inference_mode``."""
        new = _new(type(self))
        new._data = data
        new._version_counter = [0]
        if self._requires_grad:
            new._requires_grad = True
        if _grad_mode.inference_threads and _grad_mode._state.inference:
            new._is_inference = True
        return new

    def _extra_attributes(self) -> dict:
        """The attributes that are not tensor state: set by the user or by a subclass
        (``Buffer.persistent``)."""
        return {k: v for k, v in self.__dict__.items() if k not in _TENSOR_STATE}

    def __copy__(self):
        """``copy.copy``: as in PyTorch, a new leaf that shares this tensor's storage and extra
        attributes and keeps ``requires_grad`` (no ``.grad``, no graph)."""
        new = self._new_leaf(self._data)
        new.__dict__.update(self._extra_attributes())
        return new

    def __deepcopy__(self, memo):
        """``copy.deepcopy`` of a leaf, as PyTorch's ``Tensor.__deepcopy__``: a new leaf with copies
        of the data, ``.grad`` and extra attributes, and the same ``requires_grad``. Subclasses
        (``Parameter``, ``Buffer``) share it, so a ``Parameter`` keeps its extra attributes and
        ``.grad`` too (PyTorch's ``Parameter.__deepcopy__`` drops them: pytorch#117275)."""
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                "because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        new = memo[id(self)] = self._new_leaf(self._data.copy())
        if self._grad is not None:
            new._grad = copy.deepcopy(self._grad, memo)
        new.__dict__.update(copy.deepcopy(self._extra_attributes(), memo))
        return new

    # -- autograd state ------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether autograd records operations on this tensor (settable on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(bool(value))

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only); returns self."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return self
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors without a ``grad_fn`` (not the result of a recorded operation)."""
        return self.grad_fn is None

    @property
    def grad(self):
        """The gradient accumulated by backward (None until then)."""
        if self.grad_fn is not None and not self.retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: expected {list(self.shape)}, "
                    f"got {list(value.shape)}")
            if value.dtype != self.dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: expected {dtype_name(self.dtype)}, "
                    f"got {dtype_name(value.dtype)}")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad has data located on a different device: "
                                   f"expected {self.device}, got {value.device}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        """True when ``retain_grad()`` was called on this non-leaf tensor."""
        fn = self.grad_fn
        return bool(fn is not None and fn._retained and self._output_nr in fn._retained
                    and fn._retained[self._output_nr]() is self)

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after backward (no-op on leaves)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None:
            return
        self.grad_fn._retain_output(self._output_nr, self)

    def detach(self) -> "Tensor":
        """A tensor sharing storage (and the version counter) with this one, without history."""
        t = _new(Tensor)
        t._data = self._data
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> "Tensor":
        """Detach in place: drop the history; the tensor becomes a leaf."""
        self.grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor w.r.t. the graph leaves into their ``.grad``."""
        if create_graph:
            warnings.warn(
                "Using backward() with create_graph=True will create a reference cycle between the "
                "parameter and its gradient which can cause a memory leak. We recommend using "
                "autograd.grad when creating the graph to avoid this.", UserWarning, stacklevel=2)
        _engine.backward(self, None if gradient is None else (gradient,), retain_graph,
                         create_graph, inputs)

    def register_hook(self, hook):
        """Register ``hook(grad) -> Tensor | None``, run each time the gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = OrderedDict()
        return _add_hook(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Register ``hook(tensor)``, run after the gradient has been accumulated into ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = OrderedDict()
        return _add_hook(self._post_acc_hooks, hook)

    # -- representation ------------------------------------------------------------------------
    def __repr__(self):
        return _format(self)

    def __str__(self):
        return _format(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else str(self)


def is_tensor(obj) -> bool:
    """True if ``obj`` is a tensor."""
    return isinstance(obj, Tensor)


def _tensor_argument(fn_name, input) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn_name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


def numel(input) -> int:
    """The number of elements of a tensor."""
    return _tensor_argument("numel", input).numel()


def is_floating_point(input) -> bool:
    """True if the tensor's dtype is a floating-point one."""
    return _tensor_argument("is_floating_point", input).is_floating_point()


_new = object.__new__

# Per-instance tensor state, which copies rebuild rather than copy (see ``Tensor._new_leaf``).
_TENSOR_STATE = frozenset({"_data", "_version_counter", "_requires_grad", "_grad", "grad_fn",
                           "_output_nr", "_hooks", "_post_acc_hooks", "_acc_node", "_base",
                           "_view_key", "_view_mode", "_view_op", "_is_inference", "_grad_dest",
                           "_grad_claimed"})


def _from_node(data, node) -> Tensor:
    """A tensor produced by ``node`` (output 0) that requires grad."""
    t = _new(Tensor)
    if type(data) is not np.ndarray and isinstance(data, np.generic):  # as in Tensor._wrap
        data = np.asarray(data)
    t._data = data
    t._version_counter = [0]
    t._requires_grad = True
    t.grad_fn = node
    return t


def _format(t: Tensor) -> str:
    data = t._data
    if type(data) is not np.ndarray:
        data = _backend.to_device(data, _backend.CPU)
    prefix = "tensor("
    if data.dtype.kind == "f":
        finite = data[np.isfinite(data)] if data.size else data
        integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
        big = finite.size and (np.abs(finite).max() >= 1e8 or
                               (np.abs(finite[finite != 0]).min() < 1e-4 if (finite != 0).any() else False))
        style = "{:.4e}" if big else "{:.0f}." if integral else "{:.4f}"
        formatter = {"float_kind": lambda v: style.format(v) if np.isfinite(v) else str(v)}
        body = np.array2string(data, separator=", ", prefix=prefix, formatter=formatter,
                               threshold=1000, edgeitems=3)
    else:
        body = np.array2string(data, separator=", ", prefix=prefix, threshold=1000, edgeitems=3)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default_float = get_default_dtype()
    default = (data.dtype == default_float or data.dtype == np.int64 or data.dtype == np.bool_
               or data.dtype == np.promote_types(default_float, np.complex64))  # default complex
    if not default or data.size == 0:
        extras.append(f"dtype=distgrad.{dtype_name(data.dtype)}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


