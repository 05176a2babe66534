"""``RAdam``: Adam whose adaptive step is rectified (switched off while its variance is large)."""
from __future__ import annotations

from ._common import _check_adam_args, _decay_add_square_, _grads_decoupled, _stepped
from .adam import _lerp_
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (PyTorch's ``torch.optim.RAdam``, same update)::

        g = -grad if maximize else grad
        p = p * (1 - lr * weight_decay)           if decoupled_weight_decay
        g = g + weight_decay * p                  otherwise, if weight_decay != 0
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r   if rho_t > 5
        p = p - lr * m / (1 - beta1**t)                                           otherwise

    State per parameter: ``step`` (a float), ``exp_avg`` and ``exp_avg_sq``.

    ``foreach``, ``capturable`` and ``differentiable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            rho_inf = 2 / (1 - beta2) - 1
            for p, g, data, xp, state in _stepped(
                    self, _grads_decoupled(self, group), ("exp_avg", "exp_avg_sq")):
                step = state["step"]
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data

                tmp = xp.empty_like(data)
                _lerp_(exp_avg, g, 1 - beta1, tmp, xp)
                _decay_add_square_(exp_avg_sq, g, beta2, tmp, xp)
                bias_correction2 = 1 - beta2 ** step
                xp.divide(exp_avg, 1 - beta1 ** step, out=tmp)
                tmp *= lr
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = xp.sqrt(exp_avg_sq)
                    adaptive += eps
                    xp.reciprocal(adaptive, out=adaptive)   # PyTorch's float / tensor
                    adaptive *= bias_correction2 ** 0.5
                    tmp *= adaptive
                    tmp *= rect
                data -= tmp
                p._version_counter[0] += 1
        return loss
