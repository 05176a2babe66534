"""``distgrad.nn``: modules, parameters, initialisation and functional ops (PyTorch's
``torch.nn``)."""
from importlib.util import find_spec as _find_spec

from . import init, utils
from .modules import *  # noqa: F401,F403
from .modules import module as _module_mod
from .modules.module import (register_module_forward_hook, register_module_forward_pre_hook,
                             register_module_full_backward_hook,
                             register_module_full_backward_pre_hook)
from .parameter import Buffer, Parameter

if _find_spec(__name__ + ".functional") is not None:  # maintained separately
    from . import functional  # noqa: F401
    from .modules._functional import bind as _bind
    _bind(functional)
    del _bind

del _module_mod, _find_spec
