"""``NAdam``: Adam with Nesterov momentum and a momentum schedule."""
from __future__ import annotations

from ._common import (_check_adam_args, _check_non_negative, _decay_add_square_, _grads_decoupled,
                     _scalar_state_to_floats, _scalar_type, _stepped)
from .adam import _lerp_
from .optimizer import Optimizer

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (PyTorch's ``torch.optim.NAdam``, same update)::

        g = -grad if maximize else grad
        p = p * (1 - lr * weight_decay)           if decoupled_weight_decay
        g = g + weight_decay * p                  otherwise, if weight_decay != 0
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay));  P_t = mu_1 * ... * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    State per parameter: ``step`` and ``mu_product`` (``P_t``; floats, the product rounded to
    float32 at every step, like PyTorch's scalar tensor, unless the default dtype is float64),
    ``exp_avg`` and ``exp_avg_sq``.

    ``foreach``, ``capturable`` and ``differentiable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_non_negative(momentum_decay, "momentum_decay value")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        scalar = _scalar_type()
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            momentum_decay = group["momentum_decay"]
            for p, g, data, xp, state in _stepped(
                    self, _grads_decoupled(self, group), ("exp_avg", "exp_avg_sq"), mu_product=1.0):
                step = state["step"]
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data

                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
                mu_product = float(scalar(state["mu_product"]) * scalar(mu))
                state["mu_product"] = mu_product

                tmp = xp.empty_like(data)
                _lerp_(exp_avg, g, 1 - beta1, tmp, xp)
                _decay_add_square_(exp_avg_sq, g, beta2, tmp, xp)
                denom = xp.divide(exp_avg_sq, 1 - beta2 ** step)
                xp.sqrt(denom, out=denom)
                denom += eps

                xp.multiply(g, lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
                tmp /= denom                    # rounded as PyTorch's addcdiv_
                data -= tmp
                xp.multiply(exp_avg, lr * mu_next / (1.0 - mu_product * mu_next), out=tmp)
                tmp /= denom
                data -= tmp
                p._version_counter[0] += 1
        return loss

    def _after_load_state_dict(self) -> None:
        """``mu_product`` loaded as tensors (a state dict from PyTorch) become floats again."""
        _scalar_state_to_floats(self, ("mu_product",))
