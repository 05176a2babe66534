"""Optimizers and learning-rate schedulers (PyTorch's ``torch.optim``).

``distgrad.optim.SGD``, ``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``RAdam``, ``RMSprop``,
``Adagrad``, ``Adadelta``, ``ASGD``, ``Rprop``, ``LBFGS`` follow PyTorch's update formulas
exactly; ``Optimizer`` is their base class; ``distgrad.optim.lr_scheduler`` holds the schedulers;
``distgrad.optim.swa_utils`` the weight averaging (SWA, EMA).
"""
from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
           "Adadelta", "ASGD", "Rprop", "LBFGS", "lr_scheduler", "swa_utils"]
