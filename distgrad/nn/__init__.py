"""``distgrad.nn``: modules, parameters, initialisation and functional ops (PyTorch's
``torch.nn``)."""
from . import functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules.module import (register_module_forward_hook, register_module_forward_pre_hook,
                             register_module_full_backward_hook,
                             register_module_full_backward_pre_hook)
from .parameter import Buffer, Parameter, UninitializedParameter
