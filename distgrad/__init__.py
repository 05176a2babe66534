"""distgrad: a define-by-run autograd engine on NumPy/CuPy with PyTorch's API, and data-parallel
training over MPI.

Most names mirror ``torch``: ``distgrad.tensor``, ``distgrad.no_grad``, ``distgrad.nn.Linear``,
``distgrad.optim.SGD``, ``distgrad.distributed.all_reduce`` ...
"""
from . import _memory
from ._backend import device
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                       no_grad, set_grad_enabled)
from .dtypes import (bool_, double, float16, float32, float64, get_default_dtype, half, int8,
                     int16, int32, int64, long, set_default_dtype, short, uint8)
from .ops import *  # noqa: F401,F403
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
from .tensor import Tensor, is_floating_point, is_tensor, numel

bool = bool_  # noqa: A001  (PyTorch's name for the dtype)
float = float32  # noqa: A001
int = int32  # noqa: A001
Size = tuple
dtype = type(float32)

__version__ = "0.1.0"

_memory.keep_freed_memory()

from . import autograd  # noqa: E402,F401
from . import data  # noqa: E402,F401
from . import linalg  # noqa: E402,F401
from . import cuda  # noqa: E402,F401
from . import amp  # noqa: E402,F401
from .amp import autocast  # noqa: E402,F401
from . import backends  # noqa: E402,F401
from .settings import (are_deterministic_algorithms_enabled, compile,  # noqa: E402,F401,A004
                       get_float32_matmul_precision,
                       is_deterministic_algorithms_warn_only_enabled,
                       set_float32_matmul_precision, use_deterministic_algorithms)
from .checkpoint import load, save  # noqa: E402,F401
from . import distributed, futures, nn, optim  # noqa: E402,F401
from . import distributions  # noqa: E402,F401
from . import fft  # noqa: E402,F401
