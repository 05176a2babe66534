"""Dtypes (NumPy dtype objects under PyTorch's names) and the default float dtype."""
from __future__ import annotations

import numpy as np

float16 = half = np.dtype("float16")
float32 = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = short = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
bool_ = np.dtype("bool")

_DTYPE_NAMES = {
    float16: "float16", float32: "float32", float64: "float64", int8: "int8", uint8: "uint8",
    int16: "int16", int32: "int32", int64: "int64", bool_: "bool",
}

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype of tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype used for tensors created from Python floats (float32 or float64)."""
    global _default_float
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got {dtype}")
    _default_float = dtype


def dtype_name(dtype) -> str:
    """PyTorch-style short name of a dtype, e.g. ``float32``."""
    dtype = np.dtype(dtype)
    return _DTYPE_NAMES.get(dtype, dtype.name)


def as_dtype(dtype):
    """Normalise a dtype argument (a numpy dtype, a type or a string) to a numpy dtype or None."""
    if dtype is None:
        return None
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


def is_floating(dtype) -> bool:
    """True for floating-point dtypes (the only ones that may require grad)."""
    return np.dtype(dtype).kind == "f"


