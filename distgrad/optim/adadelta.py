"""``Adadelta``: steps scaled by the ratio of running RMS of updates and of gradients."""
from __future__ import annotations

from ._common import _check_non_negative, _decay_add_square_, _stepped
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (PyTorch's ``torch.optim.Adadelta``, same update)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                  if weight_decay != 0
        v = rho * v + (1 - rho) * g * g
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d * d
        p = p - lr * d

    State per parameter: ``step`` (a float), ``square_avg`` (``v``) and ``acc_delta`` (``u``).

    ``foreach``, ``capturable`` and ``differentiable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_non_negative(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_non_negative(eps, "epsilon value")
        _check_non_negative(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            rho = group["rho"]
            eps = group["eps"]
            for p, g, data, xp, state in _stepped(
                    self, self._grads(group), ("square_avg", "acc_delta")):
                square_avg = state["square_avg"]._data
                acc_delta = state["acc_delta"]._data

                std = xp.empty_like(data)
                _decay_add_square_(square_avg, g, rho, std, xp)
                xp.add(square_avg, eps, out=std)
                xp.sqrt(std, out=std)
                delta = xp.add(acc_delta, eps)
                xp.sqrt(delta, out=delta)
                delta /= std
                delta *= g
                _decay_add_square_(acc_delta, delta, rho, std, xp)
                delta *= lr
                data -= delta
                p._version_counter[0] += 1
        return loss
