"""Optimizers and learning-rate schedulers (PyTorch's ``torch.optim``).

``distgrad.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``LBFGS`` follow PyTorch's
update formulas exactly; ``Optimizer`` is their base class; ``distgrad.optim.lr_scheduler`` holds the
schedulers; ``distgrad.optim.swa_utils`` the weight averaging (SWA, EMA).
"""
from . import lr_scheduler, swa_utils
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS", "lr_scheduler",
           "swa_utils"]
