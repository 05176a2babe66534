"""``Linear``, ``LazyLinear``, ``Bilinear``, ``Identity`` and
``NonDynamicallyQuantizableLinear``."""
from __future__ import annotations

import math
import warnings

from ... import ops
from .. import init
from ...autograd.grad_mode import no_grad
from ..parameter import Parameter, UninitializedParameter, is_lazy
from .. import functional as F
from .module import Module

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear", "NonDynamicallyQuantizableLinear"]


def _register_weight_bias(module: Module, weight_shape, bias_size, device, dtype) -> None:
    """Give ``module`` an uninitialised ``weight`` of ``weight_shape`` and a ``bias`` of
    ``bias_size`` elements (None for no bias)."""
    module.weight = Parameter(ops.empty(weight_shape, device=device, dtype=dtype))
    if bias_size is not None:
        module.bias = Parameter(ops.empty(bias_size, device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``.

    Initialised like PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))`` and bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _register_weight_bias(self, (out_features, in_features), out_features if bias else None,
                              device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        params = self._parameters
        if "weight" in params and "bias" in params:
            # read directly: on Python 3.11 ``self.weight`` (Module.__getattr__) first builds
            # and discards an AttributeError, a quarter of this call's overhead
            return F.linear(input, params["weight"], params["bias"])
        return F.linear(input, self.weight, self.bias)  # e.g. replaced by plain attributes

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(Linear):
    """A ``Linear`` whose ``in_features`` is taken from its first input: until then its weight
    and bias are ``UninitializedParameter``s (``in_features`` is 0); the first forward (or
    loading a state dict) gives them their shapes, initialises them as ``Linear`` does, and the
    module becomes a ``Linear``. Create optimizers after that first call, as in PyTorch."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        Module.__init__(self)
        warnings.warn("Lazy modules are a new feature under heavy development so changes to the "
                      "API or functionality can happen at any moment.", UserWarning, stacklevel=2)
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        """Whether the weight (or bias) still waits for its shape."""
        return any(is_lazy(p) for p in self._parameters.values() if p is not None)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        """Give the parameters their shapes from ``input`` (``in_features = input.shape[-1]``)
        and initialise them."""
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self._materialize()
                self.reset_parameters()

    def _materialize(self) -> None:
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.__class__ = self.cls_to_become

    def forward(self, input):
        self.initialize_parameters(input)
        return Linear.forward(self, input)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        weight = state_dict.get(prefix + "weight")
        if self.has_uninitialized_params() and weight is not None:
            self.in_features = weight.shape[-1]
            self._materialize()
        # (the zero-argument super() fails once the module has become a Linear)
        Module._load_from_state_dict(self, state_dict, prefix, *args, **kwargs)


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under PyTorch's name for ``MultiheadAttention.out_proj`` (in PyTorch it
    keeps the layer out of dynamic quantization)."""


class Bilinear(Module):
    """``y_k = x1 @ weight[k] @ x2 + bias[k]`` with ``weight`` of shape ``(out_features,
    in1_features, in2_features)``; weight and bias from U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        _register_weight_bias(self, (out_features, in1_features, in2_features),
                              out_features if bias else None, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features="
                             f"{self.in1_features})")
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
