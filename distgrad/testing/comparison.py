"""``assert_close`` (PyTorch's ``torch.testing.assert_close``): compare tensors, arrays, Python
scalars and nested sequences or mappings of them, with PyTorch's default tolerances per dtype
and its failure messages."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .. import _backend
from ..dtypes import dtype_name
from ..ops.nn._util import size_str
from ..tensor import Tensor

__all__ = ["assert_close"]

# (rtol, atol) by dtype, as in PyTorch; other dtypes compare exactly
_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
               np.dtype(np.complex128): (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` are close:
    ``|actual - expected| <= atol + rtol * |expected|`` elementwise, same shapes, devices and
    (``check_dtype``) dtypes; ``rtol`` and ``atol`` default by dtype. ``msg`` (a string, or a
    function of the generated message) replaces the message."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, [], dict(rtol=rtol, atol=atol, equal_nan=equal_nan,
                                        check_device=check_device, check_dtype=check_dtype,
                                        msg=msg))


def _fail(message, path, options):
    if path:
        message += "\n\nThe failure occurred for item " + "".join(f"[{p!r}]" for p in path)
    msg = options["msg"]
    if msg is not None:
        message = msg(message) if callable(msg) else msg
    raise AssertionError(message)


def _is_scalar(x) -> bool:
    return isinstance(x, (bool, int, float, complex, np.generic))


def _compare(actual, expected, path, options):
    if isinstance(actual, (Tensor, np.ndarray)) or isinstance(expected, (Tensor, np.ndarray)):
        if type(actual) is not type(expected) and not (isinstance(actual, Tensor)
                                                       and isinstance(expected, Tensor)):
            raise TypeError(f"Except for Python scalars, input and other must be of the same "
                            f"type, but got {type(actual).__name__} and {type(expected).__name__}.")
        return _compare_arrays(actual, expected, path, options)
    if _is_scalar(actual) and _is_scalar(expected):
        return _compare_scalars(actual, expected, path, options)
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match:\n"
                  f"Missing keys in the actual mapping: {sorted(map(repr, set(expected) - set(actual)))}\n"
                  f"Extra keys in the actual mapping: {sorted(map(repr, set(actual) - set(expected)))}",
                  path, options)
        for key in expected:
            _compare(actual[key], expected[key], path + [key], options)
        return
    if (isinstance(actual, Sequence) and isinstance(expected, Sequence)
            and not isinstance(actual, str) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                  path, options)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + [i], options)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _tolerances(options, *dtypes):
    if options["rtol"] is not None:
        return options["rtol"], options["atol"]
    pairs = [_TOLERANCES.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _mismatch(a, e, rtol, atol, equal_nan):
    """Elementwise: whether ``a`` and ``e`` (NumPy arrays) are not close."""
    if a.dtype.kind in "fc" or e.dtype.kind in "fc":
        return ~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return a != e


def _compare_scalars(actual, expected, path, options, dtype=None):
    if dtype is None:  # of Python scalars: float64, int64, ...
        dtype = np.result_type(np.asarray(actual).dtype, np.asarray(expected).dtype)
    rtol, atol = _tolerances(options, dtype)
    if not _mismatch(np.asarray(actual), np.asarray(expected), rtol, atol, options["equal_nan"]):
        return
    diff = abs(actual - expected)
    rel = diff / abs(expected) if expected != 0 else (math.nan if diff != diff else math.inf)
    exact = dtype.kind not in "fc"
    _fail(f"Scalars are not {'equal' if exact else 'close'}!\n\n"
          f"Expected {expected} but got {actual}.\n"
          f"Absolute difference: {diff}{'' if exact else f' (up to {atol} allowed)'}\n"
          f"Relative difference: {rel}{'' if exact else f' (up to {rtol} allowed)'}",
          path, options)


def _compare_arrays(actual, expected, path, options):
    a_dev = actual.device if isinstance(actual, Tensor) else _backend.device_of(actual)
    e_dev = expected.device if isinstance(expected, Tensor) else _backend.device_of(expected)
    a, e = _host(actual), _host(expected)
    if a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {size_str(a.shape)} != "
              f"{size_str(e.shape)}.", path, options)
    if options["check_device"] and a_dev != e_dev:
        _fail(f"The values for attribute 'device' do not match: {a_dev} != {e_dev}.", path,
              options)
    if options["check_dtype"] and a.dtype != e.dtype:
        _fail(f"The values for attribute 'dtype' do not match: distgrad.{dtype_name(a.dtype)} != "
              f"distgrad.{dtype_name(e.dtype)}.", path, options)
    if a.dtype != e.dtype:
        common = np.result_type(a.dtype, e.dtype)
        a, e = a.astype(common), e.astype(common)
    rtol, atol = _tolerances(options, a.dtype)
    bad = _mismatch(a, e, rtol, atol, options["equal_nan"])
    if not bad.any():
        return
    if a.ndim == 0:
        return _compare_scalars(a.item(), e.item(), path, options, a.dtype)
    exact = a.dtype.kind not in "fc"
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    diff = np.abs(a.astype(wide) - e.astype(wide))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(e.astype(wide))
    abs_i = _argmax(diff)
    rel_i = _argmax(rel)
    n, total = int(bad.sum()), a.size
    _fail(f"Tensor-likes are not {'equal' if exact else 'close'}!\n\n"
          f"Mismatched elements: {n} / {total} ({100 * n / total:.1f}%)\n"
          f"Greatest absolute difference: {_number(diff[abs_i], exact)} at index {abs_i}"
          f"{'' if exact else f' (up to {atol} allowed)'}\n"
          f"Greatest relative difference: {float(rel[rel_i])} at index {rel_i}"
          f"{'' if exact else f' (up to {rtol} allowed)'}", path, options)


def _argmax(values):
    """The index (a tuple) of the largest value, NaN counting as the largest."""
    nan = np.isnan(values)
    flat = int(np.argmax(nan)) if nan.any() else int(np.argmax(values))
    return tuple(int(i) for i in np.unravel_index(flat, values.shape))


def _number(x, exact):
    return int(x) if exact and not np.isnan(x) else float(x)


def _host(x):
    data = x._data if isinstance(x, Tensor) else x
    return np.asarray(_backend.to_device(data, _backend.CPU)) if type(data) is not np.ndarray \
        else data
