"""``Adamax``: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from ._common import _check_adam_args, _stepped
from .adam import _lerp_
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (PyTorch's ``torch.optim.Adamax``, same update)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                  if weight_decay != 0
        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    State per parameter: ``step`` (a float), ``exp_avg`` and ``exp_inf``.

    ``foreach``, ``differentiable`` and ``capturable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            for p, g, data, xp, state in _stepped(self, self._grads(group), ("exp_avg", "exp_inf")):
                step = state["step"]
                exp_avg = state["exp_avg"]._data
                exp_inf = state["exp_inf"]._data

                tmp = xp.empty_like(data)
                _lerp_(exp_avg, g, 1 - beta1, tmp, xp)
                exp_inf *= beta2
                xp.abs(g, out=tmp)
                tmp += eps
                xp.maximum(exp_inf, tmp, out=exp_inf)

                xp.multiply(exp_avg, lr / (1 - beta1 ** step), out=tmp)
                tmp /= exp_inf                  # rounded as PyTorch's addcdiv_
                data -= tmp
                p._version_counter[0] += 1
        return loss
