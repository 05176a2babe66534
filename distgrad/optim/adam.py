"""``Adam``: adaptive moment estimation (optionally AMSGrad, optionally decoupled weight decay)."""
from __future__ import annotations

from .._backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adam"]


def _lerp_(start, end, weight, tmp, xp):
    """``start += weight * (end - start)`` in place, computed as PyTorch's ``lerp_`` does;
    ``tmp`` is scratch space of the same shape."""
    xp.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(end, tmp, out=start)


class Adam(Optimizer):
    r"""Adam (PyTorch's ``torch.optim.Adam``, same update)::

        g = -grad if maximize else grad
        p = p * (1 - lr * weight_decay)        if decoupled_weight_decay (AdamW)
        g = g + weight_decay * p               otherwise, if weight_decay != 0
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                  if amsgrad (and v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    State per parameter: ``step`` (a float), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            for p, g in self._grads(group, couple_weight_decay=not decoupled):
                data = p._data
                xp = get_array_module(data)
                state = self.state[p]
                if not state:
                    state["step"] = 0.0
                    state["exp_avg"] = Tensor._wrap(xp.zeros_like(data))
                    state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(data))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(data))
                step = state["step"] = state["step"] + 1
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                if decoupled and weight_decay != 0:
                    data *= 1 - lr * weight_decay

                tmp = xp.empty_like(data)
                _lerp_(exp_avg, g, 1 - beta1, tmp, xp)
                exp_avg_sq *= beta2
                xp.multiply(g, 1 - beta2, out=tmp)
                tmp *= g
                exp_avg_sq += tmp

                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    if "max_exp_avg_sq" not in state:  # amsgrad switched on after a step
                        state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(data))
                    max_exp_avg_sq = state["max_exp_avg_sq"]._data
                    xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                    xp.sqrt(max_exp_avg_sq, out=tmp)
                else:
                    xp.sqrt(exp_avg_sq, out=tmp)
                tmp /= bias_correction2_sqrt
                tmp += eps
                xp.divide(exp_avg, tmp, out=tmp)
                tmp *= step_size
                data -= tmp
                p._version_counter[0] += 1
        return loss
