"""``parameters_to_vector`` and ``vector_to_parameters``."""
from __future__ import annotations

from ... import ops
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D tensor holding all parameters, flattened and concatenated (differentiable)."""
    vec = []
    device = None
    for param in parameters:
        if device is None:
            device = param.device
        elif param.device != device:
            raise TypeError("Found two parameters on different devices, this is currently not "
                            "supported.")
        vec.append(param.reshape(-1))
    return ops.cat(vec)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy slices of the 1-D ``vec`` into the parameters' data (in order)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected distgrad.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        num_param = param.numel()
        param._data = vec._data[pointer:pointer + num_param].reshape(param.shape).copy()
        param._version_counter[0] += 1
        pointer += num_param
