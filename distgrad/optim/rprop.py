"""``Rprop``: resilient backpropagation (per-coordinate step sizes adapted by gradient signs)."""
from __future__ import annotations

from ._common import _check_non_negative, _stepped
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop (PyTorch's ``torch.optim.Rprop``, same update)::

        g = -grad if maximize else grad
        s = sign(g * g_prev);  f = etaplus where s > 0, etaminus where s < 0, 1 where s == 0
        step_size = clamp(step_size * f, step_size_min, step_size_max)
        g = 0 where s < 0 (the sign changed: skip this coordinate once)
        p = p - sign(g) * step_size;  g_prev = g

    with ``etas = (etaminus, etaplus)`` and ``step_sizes = (step_size_min, step_size_max)``.
    No weight decay (PyTorch's Rprop has none).

    State per parameter: ``step`` (a float), ``prev`` (``g_prev``) and ``step_size`` (starts at
    ``lr``).

    ``capturable``, ``foreach`` and ``differentiable`` are accepted (and kept in the param
    groups, as PyTorch does) but ignored: the update is always the plain single-tensor one.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_non_negative(lr, "learning rate")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            pairs = self._grads(group, couple_weight_decay=False)  # Rprop has no weight decay
            for p, g, data, xp, state in _stepped(self, pairs, ("prev",),
                                                  fills={"step_size": group["lr"]}):
                prev = state["prev"]._data
                step_size = state["step_size"]._data

                factor = xp.multiply(g, prev)
                xp.sign(factor, out=factor)
                factor[factor > 0] = etaplus
                factor[factor < 0] = etaminus
                factor[factor == 0] = 1
                step_size *= factor
                xp.clip(step_size, step_size_min, step_size_max, out=step_size)

                prev[...] = g
                prev[factor == etaminus] = 0
                xp.sign(prev, out=factor)
                factor *= step_size
                data -= factor
                p._version_counter[0] += 1
        return loss
