"""``Optimizer``: the base class of all optimizers (PyTorch's ``torch.optim.Optimizer``).

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the hyper-parameters of
the group), per-parameter ``state`` (a dict keyed by the parameter tensor itself; tensors hash by
identity) and ``defaults``. Subclasses implement ``step``; updates work on the raw arrays
(``p._data``, NumPy or CuPy) in place, so a step never records autograd history.

``state_dict()`` uses PyTorch's layout::

    {"state": {0: {"step": 3.0, "exp_avg": tensor(...), ...}, ...},
     "param_groups": [{"lr": 0.01, ..., "params": [0, 1, ...]}, ...]}

where parameters are replaced by their position in the concatenated groups. It holds only
tensors, numbers, strings, tuples, lists and dicts, so ``distgrad.save`` writes it (a tuple such as
Adam's ``betas`` that comes back as a list, e.g. from JSON, is turned back into a tuple on load).
Like PyTorch, the state tensors in it are the optimizer's own buffers, not copies: save (or copy)
it before the next ``step``. ``load_state_dict`` copies every tensor onto the parameter's device
and dtype, so a resumed run continues bit for bit.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from .. import _backend
from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter without a default: every param group must give it."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return "distgrad.Tensor"
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _copy_containers(value):
    """``value`` with its lists, tuples and dicts copied (recursively, same types); the leaves
    (numbers, strings, tensors) are shared."""
    if isinstance(value, (tuple, list)):
        return type(value)(_copy_containers(v) for v in value)
    if isinstance(value, dict):
        return type(value)({k: _copy_containers(v) for k, v in value.items()})
    return value


def _is_array(value) -> bool:
    """A tensor, or a NumPy/CuPy array."""
    return isinstance(value, (Tensor, np.ndarray)) or hasattr(value, "__cuda_array_interface__")


def _copy_to_param(value, param: Tensor) -> Tensor:
    """A new tensor with ``value``'s contents on ``param``'s device (and dtype, if floating)."""
    data = value._data if isinstance(value, Tensor) else value
    data = _backend.to_device(data, param.device)
    pdata = param._data
    dtype = pdata.dtype if pdata.dtype.kind == "f" and data.dtype.kind == "f" else data.dtype
    return Tensor._wrap(data.astype(dtype, copy=True))


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (param groups,
            each with a ``"params"`` entry and optional per-group hyper-parameters).
        defaults: the default hyper-parameters, used for groups that do not set them.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # -- param groups --------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a param group (a dict with ``"params"`` and optional hyper-parameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. Please "
                            "use a list instead.")
        else:
            params = list(params)

        tensors, names = [], []
        for param in params:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)

        ids = {id(p) for p in tensors}
        if len(ids) != len(tensors):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)

        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. cannot "
                                 f"add param group {which} to the optimizer")
            if not ids.isdisjoint(id(p) for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(param_group)

    # -- gradients and steps -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    grad._data.fill(0)
                    grad._version_counter[0] += 1

    @staticmethod
    def _closure_loss(closure):
        """Evaluate ``closure`` (which re-computes the loss) with grad enabled; None without."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @staticmethod
    def _grads(group, couple_weight_decay=True):
        """Yield ``(param, gradient array)`` for each parameter of ``group`` that has a gradient:
        negated if ``group["maximize"]``, plus ``weight_decay * param`` (an L2 penalty) unless
        ``couple_weight_decay`` is False."""
        maximize = group["maximize"]
        weight_decay = group["weight_decay"] if couple_weight_decay else 0
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            g = grad._data
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * p._data
            yield p, g

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns
        the loss (returned by ``step``)."""
        raise NotImplementedError

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's format (see the module docstring)."""
        mapping: dict[int, int] = {}
        start = 0
        param_groups = []
        for group in self.param_groups:
            packed = {k: _copy_containers(v) for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            param_groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state from ``state_dict()`` (of an optimizer with the same groups' sizes)."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if key == "step" and not isinstance(value, (dict, list, tuple)):
                return float(value.item() if hasattr(value, "item") else value)
            if _is_array(value):
                return _copy_to_param(value, param)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if isinstance(k, str) and k.isdigit():
                k = int(k)
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            for key, value in group.items():
                if isinstance(value, tuple) and isinstance(saved.get(key), list):
                    saved[key] = tuple(saved[key])
            for key, default in self.defaults.items():
                if default is not required:
                    saved.setdefault(key, default)
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups
        self._after_load_state_dict()

    def _after_load_state_dict(self) -> None:
        """Hook for subclasses to fix up loaded groups (e.g. AdamW's decoupled weight decay)."""

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"
