"""Weight averaging (PyTorch's ``torch.optim.swa_utils``): ``AveragedModel`` keeps a running
average of a model's parameters (stochastic weight averaging, or an exponential moving average
with ``get_ema_multi_avg_fn``), ``SWALR`` anneals the learning rate to a constant for SWA, and
``update_bn`` recomputes batch-norm statistics for the averaged weights."""
from __future__ import annotations

import copy
import itertools
import math

from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn"]


def get_ema_avg_fn(decay=0.999):
    """``avg_fn`` of an exponential moving average: ``decay * averaged + (1 - decay) * current``."""
    def ema_update(averaged, current, num_averaged):
        return averaged * decay + current * (1 - decay)
    return ema_update


def get_swa_avg_fn():
    """``avg_fn`` of the equal-weight running mean (SWA)."""
    def swa_update(averaged, current, num_averaged):
        return averaged + (current - averaged) / (_count(num_averaged) + 1)
    return swa_update


def get_ema_multi_avg_fn(decay=0.999):
    """``multi_avg_fn`` of an exponential moving average, updating every tensor in place."""
    def ema_update(averaged_list, current_list, num_averaged):
        for averaged, current in zip(averaged_list, current_list):
            averaged._data *= decay
            averaged._data += (1 - decay) * current._data
    return ema_update


def get_swa_multi_avg_fn():
    """``multi_avg_fn`` of the equal-weight running mean (SWA), updating in place."""
    def swa_update(averaged_list, current_list, num_averaged):
        n = _count(num_averaged) + 1
        for averaged, current in zip(averaged_list, current_list):
            averaged._data += (current._data - averaged._data) / n
    return swa_update


def _count(num_averaged) -> int:
    return int(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are averaged
    over the models given to ``update_parameters``: an equal-weight mean by default, or what
    ``avg_fn(averaged, current, num_averaged) -> new`` or ``multi_avg_fn(averaged_list,
    current_list, num_averaged)`` (in place) computes. Calling it runs the averaged copy."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        from ..ops import zeros
        from ..dtypes import int64
        self.register_buffer("n_averaged", zeros((), dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """Run the averaged model."""
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        if self.use_buffers:
            return list(itertools.chain(model.parameters(), model.buffers()))
        return list(model.parameters())

    def update_parameters(self, model) -> None:
        """Fold ``model``'s current parameters into the average (the first call copies them)."""
        averaged = self._tensors(self.module)
        current = [t.detach().to(a.device) for a, t in zip(averaged, self._tensors(model))]
        with no_grad():
            if self.n_averaged.item() == 0:
                for a, c in zip(averaged, current):
                    a.copy_(c)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn(averaged, current, self.n_averaged)
            else:
                fn = self.avg_fn or get_swa_avg_fn()
                for a, c in zip(averaged, current):
                    a.copy_(fn(a.detach(), c, self.n_averaged))
            if not self.use_buffers:  # buffers follow the model (recompute BN with update_bn)
                for a, c in zip(self.module.buffers(), model.buffers()):
                    a.copy_(c.detach().to(a.device))
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None) -> None:
    """Recompute the running statistics of ``model``'s batch-norm layers with one pass over
    ``loader`` (batches, or ``(input, ...)`` tuples whose first item is the input)."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # a cumulative average over the pass
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` epochs (``"cos"``
    or ``"linear"``), then hold it (PyTorch's ``SWALR``)."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = list(swa_lr) if isinstance(swa_lr, (list, tuple)) \
            else [swa_lr] * len(optimizer.param_groups)
        if len(swa_lrs) != len(optimizer.param_groups):
            raise ValueError(f"swa_lr must have the same length as optimizer.param_groups: "
                             f"swa_lr has {len(swa_lrs)}, optimizer.param_groups has "
                             f"{len(optimizer.param_groups)}")
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.anneal_func = _cos_anneal if anneal_strategy == "cos" else _linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        """Each group's lr moved from where the annealing started towards its ``swa_lr``."""
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        before = self.anneal_func(_fraction(step - 1, self.anneal_epochs))
        now = self.anneal_func(_fraction(step, self.anneal_epochs))
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            # the lr the annealing started from, recovered from the previous step's lr
            start = swa_lr if before == 1 else (group["lr"] - before * swa_lr) / (1 - before)
            lrs.append(swa_lr * now + start * (1 - now))
        return lrs


def _fraction(step, total):
    return max(0.0, min(1.0, step / max(1, total)))


def _cos_anneal(t):
    return (1 - math.cos(math.pi * t)) / 2


def _linear_anneal(t):
    return t
