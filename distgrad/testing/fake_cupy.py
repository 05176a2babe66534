"""A CuPy stand-in that runs on the CPU, so the device-generic code path is tested in CI.

It behaves like CuPy in the ways that catch host/device mixing bugs:

* its ``ndarray`` wraps a NumPy array but is not one (``np.asarray(x)`` raises CuPy's
  ``TypeError: Implicit conversion to a NumPy array is not allowed ...``);
* ufuncs, operators and module functions with a plain ``numpy.ndarray`` operand raise
  ``TypeError`` (NumPy and Python scalars are fine), as CuPy's kernels do;
* reductions and scalar indexing return 0-d arrays, not NumPy scalars;
* NumPy functions called on its arrays dispatch to it (``__array_ufunc__`` and
  ``__array_function__``), and return its arrays;
* every array lives on a fake device (``x.device.id``); new arrays go to the current device
  (``cuda.Device(i)`` context, ``Device(i).use()``), and an operation on an array of another
  device raises CuPy's "peer access is unavailable" ``ValueError``;
* floating-point warnings are never raised (GPU kernels do not warn).

Besides the NumPy namespace (wrapped through ``__getattr__``) it has ``get_array_module``,
``asnumpy``, ``cuda`` (``Device``, ``runtime.getDeviceCount``, ``Stream.null``,
``get_current_stream``, ``alloc_pinned_memory``, ``nccl`` for a world of one),
``random`` (``seed`` and CuPy's signatures, with ``dtype=``), ``lib.stride_tricks``,
``linalg`` and ``_cupyx`` (``scatter_add``, ``scipy.special.erf``).

Use it through :func:`distgrad._backend.use_cuda_module`; ``stats`` counts host<->device
transfers and pinned allocations so tests can check for round trips.
"""
from __future__ import annotations

import contextlib
import ctypes
import math
import threading
import types

import numpy as _np

N_DEVICES = 2
_ERROR = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
          "construct a NumPy array explicitly.")
# names that NumPy has and CuPy does not (a call through the fake fails, as it would on a GPU)
_MISSING = {"array2string", "array_repr", "array_str", "errstate", "set_printoptions",
            "get_printoptions", "printoptions", "vectorize", "frompyfunc", "save", "savez",
            "load", "loadtxt", "savetxt", "genfromtxt", "fromfile", "memmap", "nditer",
            "ndindex", "ndenumerate", "recarray", "rec", "ma", "char", "ctypeslib", "busday_count"}
# functions that accept host (NumPy) arrays and copy them to the device
_CONVERTING = {"array", "asarray", "asanyarray", "get_array_module", "asnumpy"}

stats = {"to_host": 0, "to_device": 0, "pinned_allocs": 0}
# dtypes of CuPy's atomic scatter kernels (ufunc.at, cupyx.scatter_add)
_SCATTER_DTYPES = {
    "add": {_np.dtype(t) for t in ("int32", "float16", "float32", "float64", "uint32", "uint64")},
    "maximum": {_np.dtype(t) for t in ("int32", "float32", "float64", "uint32", "uint64")},
    "minimum": {_np.dtype(t) for t in ("int32", "float32", "float64", "uint32", "uint64")},
}


class _Local(threading.local):
    def __init__(self):
        self.device = 0


_local = _Local()


def _current() -> int:
    return _local.device


def reset():
    """Back to the initial state: device 0 current, counters zeroed."""
    _local.device = 0
    for k in stats:
        stats[k] = 0
    cuda.nccl._reset()


# --------------------------------------------------------------------------- ndarray

def _unsupported(x):
    return TypeError(f"Unsupported type {type(x)}")


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        f = a.flags
        self.c_contiguous, self.f_contiguous, self.owndata = (
            f.c_contiguous, f.f_contiguous, f.owndata)

    def __getitem__(self, name):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name]

    def __repr__(self):
        return (f"  C_CONTIGUOUS : {self.c_contiguous}\n  F_CONTIGUOUS : {self.f_contiguous}\n"
                f"  OWNDATA : {self.owndata}")


class _MemoryPointer:
    __slots__ = ("ptr", "device_id")

    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id

    @property
    def device(self):
        return cuda.Device(self.device_id)


def _new(a, dev):
    out = object.__new__(ndarray)
    out._a = a
    out._dev = dev
    return out


def _ptr(a) -> int:
    return a.__array_interface__["data"][0]


class ndarray:
    """A device array (a NumPy array inside, on fake device ``self.device.id``)."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_priority__ = 100  # CuPy's
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _np.empty(shape, dtype, order=order)
        self._dev = _current()

    # -- NumPy protocols ------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_ERROR)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        name = func.__name__
        if name in _MISSING:
            return NotImplemented
        return _call(func, args, kwargs, name)

    @property
    def __cuda_array_interface__(self):
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "descr": a.dtype.descr,
                "data": (_ptr(a), False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    # -- attributes -----------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: _new(self._a.T, self._dev))
    mT = property(lambda self: _new(_np.swapaxes(self._a, -1, -2), self._dev))
    real = property(lambda self: _new(self._a.real, self._dev))
    imag = property(lambda self: _new(self._a.imag, self._dev))

    @property
    def base(self):
        """The array this one is a view of, or None."""
        b = self._a.base
        return None if b is None else (_new(b, self._dev) if isinstance(b, _np.ndarray) else b)

    @property
    def device(self):
        """The (fake) device that holds the array."""
        return cuda.Device(self._dev)

    @property
    def data(self):
        """A memory pointer to the first element."""
        return _MemoryPointer(_ptr(self._a), self._dev)

    # -- host transfer --------------------------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """Copy to the host (a NumPy array, or into ``out``)."""
        stats["to_host"] += 1
        if out is not None:
            if not isinstance(out, _np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.shape != self._a.shape or out.dtype != self._a.dtype:
                raise ValueError("Shape or dtype mismatch")
            _np.copyto(out, self._a)
            return out
        return _np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy a host array into this array (same shape and dtype)."""
        if not isinstance(arr, _np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray: {type(arr)}")
        if arr.dtype != self._a.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self._a.dtype} array")
        if arr.shape != self._a.shape:
            raise ValueError("Shape mismatch")
        stats["to_device"] += 1
        _np.copyto(self._a, arr)

    def item(self):
        """The value of a one-element array as a Python scalar."""
        return self._a.item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._a.tolist()

    def __bool__(self):
        return bool(self._a)

    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return self._a.__index__()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    def __copy__(self):
        return _new(self._a.copy(), self._dev)

    def __deepcopy__(self, memo):
        return _new(self._a.copy(), self._dev)

    def __reduce__(self):
        return (_rebuild, (self._a.copy(), self._dev))

    # -- methods --------------------------------------------------------------------------------
    def copy(self, order="C"):
        """A copy on the same device."""
        return _new(self._a.copy(order=order), self._dev)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        """The array cast to ``dtype`` (a copy unless ``copy=False`` allows self)."""
        out = self._a.astype(dtype, order=order, copy=copy)
        return self if out is self._a else _new(out, self._dev)

    def fill(self, value):
        """Set every element to the scalar ``value``."""
        if isinstance(value, _np.ndarray) and value.ndim:
            raise _unsupported(value)
        self._a.fill(_unwrap_scalar(value))

    def __getattr__(self, name):
        if name.startswith("__") or name in _MISSING_METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr, self._dev)

        def method(*args, **kwargs):
            args, kwargs = _unwrap_all(args, kwargs, self._dev)
            with _np.errstate(all="ignore"):
                out = attr(*args, **kwargs)
            return _wrap(out, self._dev)
        method.__name__ = name
        return method

    # -- indexing -------------------------------------------------------------------------------
    def __getitem__(self, key):
        out = self._a[_key(key, self._dev)]
        return _wrap(out, self._dev)

    def __setitem__(self, key, value):
        k = _key(key, self._dev)
        if isinstance(value, ndarray):
            _check_device(value._dev)
            value = value._a
        elif isinstance(value, _np.ndarray):
            if not _is_advanced(k) and value.ndim:
                raise _unsupported(value)
            stats["to_device"] += 1
        with _np.errstate(all="ignore"):
            self._a[k] = value


_MISSING_METHODS = {"tobytes", "tostring", "ctypes", "setflags", "itemset", "getfield",
                    "setfield", "byteswap", "newbyteorder", "resize", "tofile", "dumps", "dump"}


def _rebuild(a, dev):
    return _new(a, dev)


def _make_binop(ufunc, reflected=False, inplace=False):
    def op(self, other):
        if isinstance(other, ndarray):
            _check_device(other._dev, self._dev)
            o = other._a
        elif isinstance(other, _np.ndarray):
            raise _unsupported(other)
        elif isinstance(other, (int, float, complex, bool, _np.generic)):
            o = other
        else:
            return NotImplemented
        _check_device(self._dev)
        with _np.errstate(all="ignore"):
            if inplace:
                ufunc(self._a, o, out=self._a)
                return self
            out = ufunc(o, self._a) if reflected else ufunc(self._a, o)
        return _wrap(out, _current())
    return op


for _name, _uf in (("add", _np.add), ("sub", _np.subtract), ("mul", _np.multiply),
                   ("truediv", _np.true_divide), ("floordiv", _np.floor_divide),
                   ("mod", _np.remainder), ("pow", _np.power), ("matmul", _np.matmul),
                   ("and", _np.bitwise_and), ("or", _np.bitwise_or), ("xor", _np.bitwise_xor),
                   ("lshift", _np.left_shift), ("rshift", _np.right_shift)):
    setattr(ndarray, f"__{_name}__", _make_binop(_uf))
    setattr(ndarray, f"__r{_name}__", _make_binop(_uf, reflected=True))
    setattr(ndarray, f"__i{_name}__", _make_binop(_uf, inplace=True))
for _name, _uf in (("eq", _np.equal), ("ne", _np.not_equal), ("lt", _np.less),
                   ("le", _np.less_equal), ("gt", _np.greater), ("ge", _np.greater_equal)):
    setattr(ndarray, f"__{_name}__", _make_binop(_uf))
for _name, _uf in (("neg", _np.negative), ("pos", _np.positive), ("abs", _np.absolute),
                   ("invert", _np.invert)):
    setattr(ndarray, f"__{_name}__",
            (lambda uf: lambda self: _wrap(uf(self._a), self._dev))(_uf))
del _name, _uf


# --------------------------------------------------------------------------- wrapping helpers

def _check_device(*devs):
    cur = _current()
    for d in devs:
        if d != cur:
            raise ValueError(f"The device where the array resides ({d}) is different from the "
                             f"current device ({cur}). Peer access is unavailable between these "
                             f"devices.")


def _wrap(out, dev=None):
    """NumPy results as device arrays (scalars become 0-d arrays, as CuPy returns)."""
    if isinstance(out, _np.ndarray):
        return _new(out, _current() if dev is None else dev)
    if isinstance(out, _np.generic):
        return _new(_np.asarray(out), _current() if dev is None else dev)
    if isinstance(out, tuple) and not hasattr(out, "_fields"):
        return tuple(_wrap(o, dev) for o in out)
    if isinstance(out, list):
        return [_wrap(o, dev) for o in out]
    if hasattr(out, "_fields"):  # named tuples (np.linalg results, unique_all ...)
        return type(out)(*[_wrap(o, dev) for o in out])
    return out


def _unwrap_scalar(v):
    return v._a if isinstance(v, ndarray) else v


def _unwrap(x, convert=False, devs=None):
    if isinstance(x, ndarray):
        if devs is not None:
            devs.append(x._dev)
        return x._a
    if isinstance(x, _np.ndarray):
        if not convert:
            raise _unsupported(x)
        return x
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        items = [_unwrap(i, convert, devs) for i in x]
        return type(x)(items)
    return x


def _unwrap_all(args, kwargs, self_dev=None, convert=False):
    devs = []
    args = tuple(_unwrap(a, convert, devs) for a in args)
    kwargs = {k: _unwrap(v, convert, devs) for k, v in kwargs.items()}
    if self_dev is None:
        _check_device(*devs)
    else:
        for d in devs:
            if d != self_dev:
                _check_device(d, self_dev)
    return args, kwargs


def _key(key, dev):
    """An index for the inner array: device arrays unwrapped (on the same device); NumPy
    arrays and lists are allowed (CuPy copies them to the device)."""
    if isinstance(key, tuple):
        return tuple(_key1(k, dev) for k in key)
    return _key1(key, dev)


def _key1(k, dev):
    if isinstance(k, ndarray):
        if k._dev != dev:
            _check_device(k._dev, dev)
        return k._a
    if isinstance(k, _np.ndarray):
        stats["to_device"] += 1
    return k


def _is_advanced(k):
    ks = k if isinstance(k, tuple) else (k,)
    return any(isinstance(i, (_np.ndarray, list)) for i in ks)


def _call(func, args, kwargs, name):
    out_w = kwargs.get("out")
    args, kwargs = _unwrap_all(args, kwargs, convert=name in _CONVERTING)
    with _np.errstate(all="ignore"):
        out = func(*args, **kwargs)
    if isinstance(out_w, ndarray) and out is out_w._a:
        return out_w
    return _wrap(out)


def _call_ufunc(ufunc, method, inputs, kwargs):
    devs = []
    ins = []
    for x in inputs:
        if isinstance(x, ndarray):
            devs.append(x._dev)
            ins.append(x._a)
        elif isinstance(x, _np.ndarray):
            if method == "at" and ins:  # CuPy copies host indices and values of ufunc.at
                stats["to_device"] += 1
                ins.append(x)
                continue
            raise _unsupported(x)
        elif isinstance(x, (int, float, complex, bool, _np.generic, slice, tuple, list,
                            type(None))):
            ins.append(_unwrap(x, convert=method == "at", devs=devs))
        else:
            return NotImplemented
    out = kwargs.get("out")
    out_w = None
    if out is not None:
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            if isinstance(o, _np.ndarray):
                raise _unsupported(o)
            if isinstance(o, ndarray):
                devs.append(o._dev)
        out_w = outs[0] if len(outs) == 1 else None
        kwargs = dict(kwargs, out=tuple(o._a if isinstance(o, ndarray) else o for o in outs))
    _check_device(*devs)
    if method == "at" and ins[0].dtype not in _SCATTER_DTYPES.get(ufunc.__name__, ()):
        raise TypeError(f"{ufunc.__name__}.at (scatter_{ufunc.__name__}) does not support "
                        f"{ins[0].dtype} on CuPy")
    with _np.errstate(all="ignore"):
        res = getattr(ufunc, method)(*ins, **kwargs)
    if method == "at":
        return None
    if out_w is not None and res is out_w._a:
        return out_w
    return _wrap(res)


class _Ufunc:
    """A NumPy ufunc seen through the fake module (``cupy.add``, ``cupy.add.at`` ...)."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs = uf.nin, uf.nout, uf.nargs

    def __call__(self, *args, **kwargs):
        return _call_ufunc(self._uf, "__call__", args, kwargs)

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise _unsupported(a)
        args = (a, indices) if b is None else (a, indices, b)
        return _call_ufunc(self._uf, "at", args, {})

    def reduce(self, *args, **kwargs):
        return _call_ufunc(self._uf, "reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return _call_ufunc(self._uf, "accumulate", args, kwargs)

    def outer(self, *args, **kwargs):
        return _call_ufunc(self._uf, "outer", args, kwargs)

    def __repr__(self):
        return f"<ufunc 'cupy_{self.__name__}'>"


def _wrap_function(fn, name):
    def f(*args, **kwargs):
        return _call(fn, args, kwargs, name)
    f.__name__ = name
    f.__doc__ = getattr(fn, "__doc__", None)
    return f


class _Namespace(types.SimpleNamespace):
    """A NumPy submodule (``linalg``, ``lib.stride_tricks`` ...) seen through the fake."""

    def __init__(self, source, **extra):
        super().__init__(**extra)
        object.__setattr__(self, "_source", source)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _translate(getattr(self._source, name), name)
        setattr(self, name, value)
        return value


def _translate(value, name):
    if isinstance(value, _np.ufunc):
        return _Ufunc(value)
    if isinstance(value, type) or not callable(value):
        return value
    return _wrap_function(value, name)


# --------------------------------------------------------------------------- module functions

def get_array_module(*args):
    """This module for fake-GPU arrays among ``args``, NumPy otherwise."""
    for a in args:
        if isinstance(a, ndarray):
            return _this_module()
    return _np


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy copy of ``a`` (on the host)."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return _np.asarray(a, order=order)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    """A new fake-GPU array on the current device."""
    if isinstance(obj, ndarray):
        a = _np.array(obj._a, dtype=dtype, copy=True, order=order, ndmin=ndmin)
        return _new(a, _current())
    stats["to_device"] += isinstance(obj, _np.ndarray)
    return _new(_np.array(_unwrap(obj, convert=True), dtype=dtype, copy=True, order=order,
                          ndmin=ndmin), _current())


def asarray(a, dtype=None, order=None, *, blocking=False):
    """``a`` as a fake-GPU array on the current device (no copy when it already is one)."""
    if isinstance(a, ndarray):
        if a._dev != _current():  # CuPy copies to the current device
            return array(a, dtype=dtype)
        out = a._a.astype(dtype, copy=False) if dtype is not None else a._a
        return a if out is a._a else _new(out, a._dev)
    stats["to_device"] += isinstance(a, _np.ndarray)
    return _new(_np.array(_unwrap(a, convert=True), dtype=dtype, order=order), _current())


asanyarray = asarray


def ascontiguousarray(a, dtype=None):
    """A C-contiguous fake-GPU array with ``a``'s contents."""
    if not isinstance(a, ndarray):
        if isinstance(a, _np.ndarray):
            raise _unsupported(a)
        return array(a, dtype=dtype, order="C")
    _check_device(a._dev)
    out = _np.ascontiguousarray(a._a, dtype=dtype)
    return a if out is a._a else _new(out, a._dev)


def _this_module():
    import sys
    return sys.modules[__name__]


def __getattr__(name):
    if name.startswith("__") or name in _MISSING:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    try:
        value = getattr(_np, name)
    except AttributeError:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'") from None
    value = _translate(value, name)
    globals()[name] = value
    return value


# --------------------------------------------------------------------------- cuda

class _CUDARuntimeError(RuntimeError):
    pass


class _Device:
    """``cupy.cuda.Device``: a context manager that makes the device current."""

    def __init__(self, device=None):
        if device is None:
            device = _current()
        device = int(device)
        if not 0 <= device < N_DEVICES:
            raise _CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
        self.id = device
        self._saved = []

    def __enter__(self):
        self._saved.append(_local.device)
        _local.device = self.id
        return self

    def __exit__(self, *exc):
        _local.device = self._saved.pop()

    def use(self):
        _local.device = self.id

    def synchronize(self):
        pass

    @property
    def compute_capability(self):
        return "90"

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _Stream:
    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = ptr
        self.null = null

    def synchronize(self):
        pass

    def wait_event(self, event):
        pass

    def record(self, event=None):
        event = event or _Event()
        event.record(self)
        return event

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


_Stream.null = _Stream(null=True)


class _Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.done = True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass


def _runtime():
    return types.SimpleNamespace(
        getDeviceCount=lambda: N_DEVICES,
        getDevice=_current,
        setDevice=lambda i: _Device(i).use(),
        deviceSynchronize=lambda: None,
        getDeviceProperties=lambda i: {"name": f"Fake GPU {int(i)}".encode(),
                                       "totalGlobalMem": 16 << 30, "major": 9, "minor": 0},
        runtimeGetVersion=lambda: 12040,
        driverGetVersion=lambda: 12040,
        CUDARuntimeError=_CUDARuntimeError,
    )


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_pool = _MemoryPool()


def _alloc_pinned_memory(nbytes):
    stats["pinned_allocs"] += 1
    return bytearray(int(nbytes))


class _FakeNccl:
    """``cupy.cuda.nccl`` for a world of one (and, with ``comm_world`` set to an mpi4py
    communicator, for several processes: the fake reduces host memory by pointer)."""

    NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = range(6)
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
    NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = range(5)
    _DT = {0: "int8", 1: "uint8", 2: "int32", 3: "uint32", 4: "int64", 5: "uint64",
           6: "float16", 7: "float32", 8: "float64"}
    available = True

    def __init__(self):
        self.comm_world = None  # an mpi4py communicator to fake several processes
        self.calls = []

    def _reset(self):
        self.calls = []

    def get_unique_id(self):
        return bytes(range(128))  # CuPy 14's type (a tuple of ints before)

    def get_version(self):
        return 22000

    def groupStart(self):
        pass

    def groupEnd(self):
        pass

    @property
    def NcclCommunicator(self):
        nccl = self

        class NcclCommunicator:
            def __init__(self, ndev, commId, rank):
                self.ndev, self.rank = int(ndev), int(rank)
                self.mpi = nccl.comm_world.Dup() if nccl.comm_world is not None else None
                if self.ndev != (1 if self.mpi is None else self.mpi.Get_size()):
                    raise RuntimeError("fake NCCL: world size mismatch")

            def _view(self, ptr, count, datatype):
                dt = _np.dtype(_FakeNccl._DT[datatype])
                buf = (ctypes.c_char * (count * dt.itemsize)).from_address(ptr)
                return _np.frombuffer(buf, dtype=dt, count=count)

            def _op(self, op):
                from mpi4py import MPI
                return {0: MPI.SUM, 1: MPI.PROD, 2: MPI.MAX, 3: MPI.MIN, 4: MPI.SUM}[op]

            def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
                nccl.calls.append("allReduce")
                send = self._view(sendbuf, count, datatype)
                recv = self._view(recvbuf, count, datatype)
                if self.mpi is None:
                    if sendbuf != recvbuf:
                        recv[...] = send
                    return
                wide = send.astype(_np.float32 if send.dtype == _np.float16 else send.dtype)
                self.mpi.Allreduce(_mpi_in_place(), wide, op=self._op(op))
                if op == _FakeNccl.NCCL_AVG:
                    wide /= self.ndev
                recv[...] = wide

            def bcast(self, buff, count, datatype, root, stream):
                nccl.calls.append("bcast")
                if self.mpi is not None:
                    self.mpi.Bcast(self._view(buff, count, datatype), root=root)

            def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
                nccl.calls.append("broadcast")
                recv = self._view(recvbuf, count, datatype)
                if self.rank == root and sendbuf != recvbuf:
                    recv[...] = self._view(sendbuf, count, datatype)
                if self.mpi is not None:
                    self.mpi.Bcast(recv, root=root)

            def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
                nccl.calls.append("reduce")
                send = self._view(sendbuf, count, datatype).copy()
                recv = self._view(recvbuf, count, datatype)
                if self.mpi is None:
                    recv[...] = send
                    return
                self.mpi.Reduce(send, recv if self.rank == root else None, op=self._op(op),
                                root=root)

            def allGather(self, sendbuf, recvbuf, count, datatype, stream):
                nccl.calls.append("allGather")
                send = self._view(sendbuf, count, datatype).copy()
                recv = self._view(recvbuf, count * self.ndev, datatype)
                if self.mpi is None:
                    recv[...] = send
                    return
                self.mpi.Allgather(send, recv)

            def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
                nccl.calls.append("reduceScatter")
                send = self._view(sendbuf, recvcount * self.ndev, datatype).copy()
                recv = self._view(recvbuf, recvcount, datatype)
                if self.mpi is None:
                    recv[...] = send
                    return
                self.mpi.Reduce_scatter_block(send, recv, op=self._op(op))

            def destroy(self):
                if self.mpi is not None:
                    self.mpi.Free()
                    self.mpi = None

            abort = destroy

            def size(self):
                return self.ndev

            def rank_id(self):
                return self.rank

        return NcclCommunicator


def _mpi_in_place():
    from mpi4py import MPI
    return MPI.IN_PLACE


cuda = types.SimpleNamespace(
    Device=_Device,
    Stream=_Stream,
    Event=_Event,
    runtime=_runtime(),
    is_available=lambda: True,
    get_device_id=_current,
    get_current_stream=lambda: _Stream.null,
    alloc_pinned_memory=_alloc_pinned_memory,
    nccl=_FakeNccl(),
    MemoryPool=_MemoryPool,
    set_allocator=lambda *a, **k: None,
    set_pinned_memory_allocator=lambda *a, **k: None,
)
get_default_memory_pool = lambda: _pool  # noqa: E731
get_default_pinned_memory_pool = lambda: _pool  # noqa: E731
cuda.memory = types.SimpleNamespace(MemoryPool=_MemoryPool)


# --------------------------------------------------------------------------- random

class _Random:
    """``cupy.random`` with CuPy's signatures (``dtype=``); draws from its own generator, so
    seeding it (``seed``) does not touch NumPy's."""

    def __init__(self):
        self._rng = _np.random.default_rng(0)
        self.last_seed = None

    def seed(self, seed=None):
        self.last_seed = seed
        self._rng = _np.random.default_rng(seed)

    def _out(self, a, dtype):
        return _new(_np.asarray(a).astype(dtype, copy=False), _current())

    def random(self, size=None, dtype=float):
        return self._out(self._rng.random(size), dtype)

    random_sample = random

    def rand(self, *size, dtype=float):
        return self._out(self._rng.random(size), dtype)

    def randn(self, *size, dtype=float):
        return self._out(self._rng.standard_normal(size), dtype)

    def standard_normal(self, size=None, dtype=float):
        return self._out(self._rng.standard_normal(size), dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return self._out(self._rng.uniform(low, high, size), dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return self._out(self._rng.normal(loc, scale, size), dtype)

    def randint(self, low, high=None, size=None, dtype="l"):
        return self._out(self._rng.integers(low, high, size), dtype)

    def permutation(self, a):
        return self._out(self._rng.permutation(a), _np.int64)


random = _Random()


# --------------------------------------------------------------------------- cupyx

def _scatter_add(a, slices, value):
    _this_module().add.at(a, slices, value)


def _erf(x):
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover
        erf = _np.vectorize(math.erf, otypes=[x.dtype])
    return _call(erf, (x,), {}, "erf")


_cupyx = types.SimpleNamespace(
    scatter_add=_scatter_add,
    scipy=types.SimpleNamespace(special=types.SimpleNamespace(erf=_erf)),
)

lib = types.SimpleNamespace(stride_tricks=_Namespace(_np.lib.stride_tricks))
linalg = _Namespace(_np.linalg)
fft = _Namespace(_np.fft)
newaxis = None
__version__ = "13.0.0-fake"


@contextlib.contextmanager
def installed(n_devices: int = 2):
    """Use this module as distgrad's CuPy (see ``distgrad._backend.use_cuda_module``)."""
    from distgrad import _backend

    global N_DEVICES
    saved = N_DEVICES
    N_DEVICES = n_devices
    reset()
    try:
        with _backend.use_cuda_module(_this_module()):
            yield _this_module()
    finally:
        N_DEVICES = saved
        reset()
