"""``RMSprop``: scales steps by a running average of squared gradients."""
from __future__ import annotations

from .._backend import get_array_module
from ..tensor import Tensor
from .adam import _lerp_
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (PyTorch's ``torch.optim.RMSprop``, same update)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                         if weight_decay != 0
        v = alpha * v + (1 - alpha) * g * g
        a = sqrt(v - ga * ga) + eps, ga = lerp(ga, g, 1 - alpha)   if centered
        a = sqrt(v) + eps                                otherwise
        b = momentum * b + g / a;  p = p - lr * b        if momentum > 0
        p = p - lr * g / a                               otherwise

    State per parameter: ``step`` (a float), ``square_avg``, ``momentum_buffer`` (momentum > 0)
    and ``grad_avg`` (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            alpha = group["alpha"]
            eps = group["eps"]
            momentum = group["momentum"]
            centered = group["centered"]
            for p, g in self._grads(group):
                data = p._data
                xp = get_array_module(data)
                state = self.state[p]
                if not state:
                    state["step"] = 0.0
                    state["square_avg"] = Tensor._wrap(xp.zeros_like(data))
                for key, wanted in (("momentum_buffer", momentum > 0), ("grad_avg", centered)):
                    if wanted and key not in state:
                        state[key] = Tensor._wrap(xp.zeros_like(data))
                state["step"] += 1
                square_avg = state["square_avg"]._data

                avg = xp.multiply(g, 1 - alpha)
                avg *= g
                square_avg *= alpha
                square_avg += avg
                if centered:
                    grad_avg = state["grad_avg"]._data
                    _lerp_(grad_avg, g, 1 - alpha, avg, xp)
                    xp.multiply(grad_avg, grad_avg, out=avg)
                    xp.subtract(square_avg, avg, out=avg)
                    xp.sqrt(avg, out=avg)
                else:
                    xp.sqrt(square_avg, out=avg)
                avg += eps

                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    xp.divide(g, avg, out=avg)
                    buf += avg
                    xp.multiply(buf, lr, out=avg)
                else:
                    xp.divide(g, avg, out=avg)
                    avg *= lr
                data -= avg
                p._version_counter[0] += 1
        return loss
