"""Checkpoints that are data, not code: ``save(obj, path)`` and ``load(path, map_location=None)``.

``obj`` is any nesting of dicts (str or int keys; an ``OrderedDict`` stays one), lists and tuples
over tensors, NumPy arrays and scalars, ``int``, ``float`` (inf and nan included), ``bool``,
``None`` and ``str``: model and optimizer state dicts, epoch and step counters, RNG states.

The file is a NumPy ``.npz`` (zip) archive, stored uncompressed: each tensor or array is a member
``aN.npy`` (written with ``allow_pickle=False``) and the member ``distgrad.json`` describes the
structure::

    {"format": "distgrad-checkpoint", "version": 1, "object": NODE}

    NODE:  null | true | false | int | finite float | string | [NODE, ...]
         | {"$": "float", "value": "inf" | "-inf" | "nan"}
         | {"$": "tuple", "items": [NODE, ...]}
         | {"$": "dict" | "OrderedDict", "items": [[key, NODE], ...]}      key: string or int
         | {"$": "tensor", "key": "aN", "requires_grad": bool, "device": "cpu" | "cuda:0" ...}
         | {"$": "tensor", ..., "class": "Parameter"}                     an nn.Parameter
         | {"$": "ndarray" | "scalar", "key": "aN"}                         scalar: NumPy scalar

A tensor or array reached twice (tied weights) is stored once and loaded as one object. A
parameter loads back as a parameter, as in PyTorch (other tensor subclasses, ``nn.Buffer``
included, load as plain tensors, as PyTorch's ``Buffer`` does); files written before ``"class"``
existed load as they did, and older readers load such a parameter as a plain tensor. Nothing is
ever unpickled and no class is looked up by name: loading an untrusted file cannot run code, so
every load is as safe as PyTorch's ``weights_only=True``.

Saving writes a temporary file in the target's directory, flushes and fsyncs it, renames it over
the target (``os.replace``, atomic) and fsyncs the directory, so a crash mid-write leaves the
previous checkpoint intact. Member timestamps are fixed, so equal objects give equal bytes.
"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import math
import os
import secrets
import zipfile
import zlib

import numpy as np

from . import _backend
from .nn.parameter import Parameter
from .tensor import Tensor

FORMAT = "distgrad-checkpoint"
FORMAT_VERSION = 1
_META = "distgrad.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class CheckpointError(ValueError):
    """A file that is not a readable distgrad checkpoint (foreign, truncated or corrupted)."""


# -- saving -------------------------------------------------------------------------------------
class _Encoder:
    """Turns an object into a JSON-able tree plus a dict of named host arrays."""

    def __init__(self):
        self.arrays = {}
        self._names = {}       # id(tensor or array) -> member name, so shared objects are stored once
        self._active = set()   # ids of the containers being encoded (reference cycles)

    def _store(self, obj, array, where):
        name = self._names.get(id(obj))
        if name is None:
            if array.dtype.hasobject:
                raise TypeError(f"distgrad.save: cannot save an array of dtype object at {where} "
                                f"(checkpoints hold no pickled data)")
            name = self._names[id(obj)] = f"a{len(self.arrays)}"
            self.arrays[name] = array
        return name

    def encode(self, obj, where):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a float
            return {"$": "scalar", "key": self._store(obj, np.asarray(obj), where)}
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$": "float", "value": repr(float(obj))}
        if isinstance(obj, Tensor):
            host = _backend.to_device(obj._data, _backend.CPU)
            node = {"$": "tensor", "key": self._store(obj, host, where),
                    "requires_grad": bool(obj.requires_grad), "device": str(obj.device)}
            if isinstance(obj, Parameter):
                node["class"] = "Parameter"
            return node
        if isinstance(obj, np.ndarray):
            return {"$": "ndarray", "key": self._store(obj, obj, where)}
        if not isinstance(obj, (dict, list, tuple)):
            raise TypeError(f"distgrad.save: cannot save an object of type {type(obj).__name__} at "
                            f"{where} (supported: tensors, NumPy arrays and scalars, int, float, "
                            f"bool, None, str, and dicts, lists and tuples of these)")
        if id(obj) in self._active:
            raise ValueError(f"distgrad.save: reference cycle at {where}")
        self._active.add(id(obj))
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not isinstance(key, (str, int)) or isinstance(key, np.generic):
                    raise TypeError(f"distgrad.save: dict keys must be str or int, got "
                                    f"{type(key).__name__} at {where}")
                items.append([key, self.encode(value, f"{where}[{key!r}]")])
            node = {"$": "OrderedDict" if isinstance(obj, collections.OrderedDict) else "dict",
                    "items": items}
        else:
            encoded = [self.encode(value, f"{where}[{i}]") for i, value in enumerate(obj)]
            node = {"$": "tuple", "items": encoded} if isinstance(obj, tuple) else encoded
        self._active.discard(id(obj))
        return node


def _write_archive(f, arrays: dict, meta: bytes) -> None:
    """Write the zip archive: the JSON metadata first, then one ``.npy`` member per array."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(zipfile.ZipInfo(_META, date_time=_ZIP_DATE), meta)
        for name, array in arrays.items():
            with archive.open(zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE), "w",
                              force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some network file systems refuse fsync on a directory; the rename is done
        pass
    finally:
        os.close(fd)


def save(obj, path) -> None:
    """Save ``obj`` (tensors, arrays, numbers, strings in dicts/lists/tuples) to ``path`` atomically,
    or into a binary file object (e.g. ``io.BytesIO``) at its current position.

    GPU tensors are copied to the host; ``requires_grad`` and the device are recorded.
    """
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    meta = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "object": root},
                      allow_nan=False, separators=(",", ":")).encode()
    if hasattr(path, "write"):
        _write_archive(path, encoder.arrays, meta)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, encoder.arrays, meta)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


# -- loading ------------------------------------------------------------------------------------
def _placer(map_location):
    """A function (array, saved device) -> Tensor that puts a loaded tensor where it belongs."""
    if map_location is None:
        return lambda array, location: Tensor._wrap(array)
    if callable(map_location):
        return lambda array, location: map_location(Tensor._wrap(array), location)
    dev = _backend.as_device(map_location)
    return lambda array, location: Tensor._wrap(_backend.to_device(array, dev))


class _Decoder:
    def __init__(self, path, arrays, place):
        self.path, self.arrays, self.place = path, arrays, place
        self._memo = {}  # member name -> loaded object (shared tensors stay shared)

    def _bad(self, what):
        return CheckpointError(f"{self.path}: corrupted distgrad checkpoint metadata ({what})")

    def _array(self, node):
        key = node.get("key")
        if not isinstance(key, str) or key not in self.arrays:
            raise self._bad(f"missing array {key!r}")
        return key, self.arrays[key]

    def _tensor(self, node, array):
        t = self.place(array, node.get("device", "cpu"))
        kind = node.get("class")
        if kind == "Parameter":
            return Parameter(t, bool(node.get("requires_grad")))
        if kind is not None:
            raise self._bad(f"unknown tensor class {kind!r}")
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict):
            raise self._bad(f"unexpected {type(node).__name__}")
        tag = node.get("$")
        if tag in ("dict", "OrderedDict"):
            out = collections.OrderedDict() if tag == "OrderedDict" else {}
            for item in node.get("items", ()):
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                    raise self._bad("bad dict item")
                out[item[0]] = self.decode(item[1])
            return out
        if tag == "tuple":
            return tuple(self.decode(item) for item in node.get("items", ()))
        if tag == "float":
            if node.get("value") not in ("inf", "-inf", "nan"):
                raise self._bad(f"bad float {node.get('value')!r}")
            return float(node["value"])
        if tag in ("tensor", "ndarray", "scalar"):
            key, array = self._array(node)
            if key not in self._memo:
                if tag == "tensor":
                    self._memo[key] = self._tensor(node, array)
                else:
                    self._memo[key] = array if tag == "ndarray" else array[()]
            return self._memo[key]
        raise self._bad(f"unknown type tag {tag!r}")


def load(path, map_location=None, *, weights_only=None):
    """Load an object saved by ``save`` from a path or a binary file object (read from its
    current position).

    Tensors load on the CPU by default; ``map_location`` may be a device (``"cpu"``, ``"cuda"``,
    ``"cuda:1"``, a ``distgrad.device``) or a callable ``(tensor, saved_location) -> tensor`` that
    receives each tensor on the CPU and the device string it was saved from. Tensors saved with
    ``requires_grad=True`` come back as leaves that require grad, parameters as parameters.
    Raises ``CheckpointError`` (a ``ValueError``) naming the path for a foreign, truncated or
    corrupted file. ``weights_only`` is accepted for PyTorch code and changes nothing: a
    checkpoint holds data only, never code, so loading is always as safe as ``weights_only=True``.
    """
    if hasattr(path, "read"):
        source, path = io.BytesIO(path.read()), getattr(path, "name", "<file object>")
    else:
        source = path = os.fspath(path)
    place = _placer(map_location)
    if isinstance(source, io.BytesIO):
        magic = source.getvalue()[:4]
    else:
        with open(path, "rb") as f:
            magic = f.read(4)
    if magic != b"PK\x03\x04":
        if len(magic) < 4:
            raise CheckpointError(f"{path}: truncated or corrupted distgrad checkpoint "
                                  f"({len(magic)} bytes)")
        raise CheckpointError(f"{path}: not a distgrad checkpoint (not an .npz/zip archive)")
    try:
        with np.load(source, allow_pickle=False) as archive:
            if _META not in archive.files:
                raise CheckpointError(f"{path}: not a distgrad checkpoint (an .npz/zip archive "
                                      f"without {_META})")
            arrays = {}
            for name in archive.files:
                try:
                    arrays[name] = archive[name]
                except ValueError as exc:  # an object array (pickle), or a damaged member
                    raise CheckpointError(f"{path}: cannot load entry {name!r}: {exc}") from exc
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupted distgrad checkpoint ({exc})") from exc
    raw = arrays.pop(_META)
    try:
        meta = json.loads(raw)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupted distgrad checkpoint metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a distgrad checkpoint (unknown metadata format)")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is newer than this "
                              f"distgrad reads (up to {FORMAT_VERSION}); upgrade distgrad")
    try:
        return _Decoder(path, arrays, place).decode(meta.get("object"))
    except RecursionError as exc:
        raise CheckpointError(f"{path}: corrupted distgrad checkpoint metadata (too deep)") from exc
