"""``AdamW``: Adam with decoupled weight decay (the decay does not enter the moments)."""
from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (PyTorch's ``torch.optim.AdamW``): Adam whose weight decay shrinks the parameters
    directly, ``p = p * (1 - lr * weight_decay)``, before the Adam update. Default
    ``weight_decay=1e-2``. Same state as ``Adam``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _after_load_state_dict(self) -> None:
        # Whatever the checkpoint says (e.g. one written by Adam), AdamW decays decoupled.
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
