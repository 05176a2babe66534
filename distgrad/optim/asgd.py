"""``ASGD``: averaged stochastic gradient descent (SGD with a decaying rate and a running
average of the iterates)."""
from __future__ import annotations

from ._common import _check_non_negative, _scalar_state_to_floats, _scalar_type, _stepped
from .optimizer import Optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD (PyTorch's ``torch.optim.ASGD``, same update)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                  if weight_decay != 0
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)                   (ax = p while mu == 1)
        eta = lr / (1 + lambd * lr * t)**alpha;  mu = 1 / max(1, t - t0)

    State per parameter: ``step``, ``eta`` (starts at ``lr``) and ``mu`` (starts at 1), all
    floats, ``eta`` and ``mu`` rounded to float32 like PyTorch's scalar tensors (unless the
    default dtype is float64), and ``ax``, the averaged parameter.

    ``foreach``, ``differentiable`` and ``capturable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_non_negative(lr, "learning rate")
        _check_non_negative(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        scalar = _scalar_type()
        for group in self.param_groups:
            lr = group["lr"]
            lambd = group["lambd"]
            alpha = group["alpha"]
            t0 = group["t0"]
            for p, g, data, xp, state in _stepped(
                    self, self._grads(group), ("ax",), eta=float(scalar(lr)), mu=1.0):
                step = state["step"]
                eta = state["eta"]
                mu = state["mu"]
                ax = state["ax"]._data

                data *= 1 - lambd * eta
                data -= eta * g
                if mu != 1:
                    tmp = xp.subtract(data, ax)
                    tmp *= mu
                    ax += tmp
                else:
                    ax[...] = data
                state["eta"] = float(scalar(lr / ((1 + lambd * lr * step) ** alpha)))
                state["mu"] = float(scalar(1 / max(1, step - t0)))
                p._version_counter[0] += 1
        return loss

    def _after_load_state_dict(self) -> None:
        """``eta``, ``mu`` loaded as tensors (a state dict from PyTorch) become floats again."""
        _scalar_state_to_floats(self, ("eta", "mu"))
