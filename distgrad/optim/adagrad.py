"""``Adagrad``: per-coordinate steps scaled by the accumulated squared gradients."""
from __future__ import annotations

from .._backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (PyTorch's ``torch.optim.Adagrad``, same update)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                  if weight_decay != 0
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (sqrt(s) + eps)

    State per parameter (created at construction, as in PyTorch): ``step`` (a float) and
    ``sum`` (filled with ``initial_accumulator_value``).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group) -> dict:
        state = self.state[p]
        state["step"] = 0.0
        xp = get_array_module(p._data)
        state["sum"] = Tensor._wrap(xp.full_like(p._data, group["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            lr_decay = group["lr_decay"]
            eps = group["eps"]
            for p, g in self._grads(group):
                data = p._data
                xp = get_array_module(data)
                state = self.state[p]
                if not state:  # a parameter added with add_param_group
                    state = self._init_state(p, group)
                step = state["step"] = state["step"] + 1
                state_sum = state["sum"]._data
                clr = lr / (1 + (step - 1) * lr_decay)

                tmp = xp.multiply(g, g)
                state_sum += tmp
                xp.sqrt(state_sum, out=tmp)
                tmp += eps
                xp.divide(g, tmp, out=tmp)
                tmp *= clr
                data -= tmp
                p._version_counter[0] += 1
        return loss
