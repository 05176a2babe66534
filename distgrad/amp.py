"""Mixed-precision helpers (PyTorch's ``torch.amp``): ``GradScaler`` for training in float16,
and ``autocast``, which distgrad accepts but does not implement.

``GradScaler`` multiplies the loss by a scale factor so that small float16 gradients do not
underflow, divides the gradients back before the optimizer steps, skips the steps whose
gradients overflowed, and adapts the factor (PyTorch's algorithm, messages and state dict).
Under data parallelism the gradients are averaged before it looks at them, so every rank makes
the same decision.

``autocast`` would run chosen ops (matrix products, convolutions) in float16 automatically.
distgrad has no per-op casting: inside ``autocast`` every op runs in its inputs' dtypes, and
the first use warns so. For float16 training convert the model with ``.half()``.
"""
from __future__ import annotations

import functools
import warnings

from . import _backend
from .autograd.grad_mode import no_grad
from .tensor import Tensor

__all__ = ["GradScaler", "autocast", "is_autocast_available"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Dynamic loss scaling: ``scaler.scale(loss).backward()``, ``scaler.step(optimizer)``,
    ``scaler.update()``; ``unscale_(optimizer)`` first to clip the true gradients. On
    ``device="cuda"`` without a GPU it disables itself with a warning, as PyTorch does."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and self._device.startswith("cuda"):
            from . import cuda
            if not cuda.is_available():
                warnings.warn("distgrad.amp.GradScaler is enabled, but CUDA is not available."
                              "  Disabling.", UserWarning, stacklevel=2)
                enabled = False
        self._enabled = enabled
        if enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._scale = None
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}  # id(optimizer) -> {"stage": ..., "found_inf": bool}

    # -- the training step ---------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists/tuples of them) times the scale factor."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = self._init_scale
        return _map_tensors(outputs, lambda t: t * self._scale)

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale factor in place (once per step) and
        note whether any of them is infinite or NaN."""
        if not self._enabled:
            return
        self._check_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inverse = 1.0 / self._scale
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if grad.dtype == "float16":
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    data = grad._data
                    data *= inverse
                    grad._version_counter[0] += 1
                    found_inf = found_inf or not bool(_all_finite(data))
        state.update(stage=_UNSCALED, found_inf=found_inf)

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on the unscaled gradients, unless one of them is
        infinite or NaN (then the step is skipped and None returned)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale("step")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Back off the scale factor if this step's gradients overflowed, else grow it after
        ``growth_interval`` clean steps (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            checked = [s for s in self._per_optimizer.values() if s["stage"] != _READY]
            if not checked:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(s["found_inf"] for s in checked):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer = {}

    def _check_scale(self, what):
        if self._scale is None:
            raise RuntimeError(f"Attempted {what} but _scale is None.  This may indicate your "
                               f"script did not use scaler.scale(loss or outputs) earlier in the "
                               f"iteration.")

    # -- settings and checkpoints ----------------------------------------------------------------
    def is_enabled(self) -> bool:
        """Whether the scaler scales (False: every method passes through)."""
        return self._enabled

    def get_scale(self) -> float:
        """The current scale factor (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        """The factor applied after ``growth_interval`` clean steps."""
        return self._growth_factor

    def set_growth_factor(self, new_factor) -> None:
        """Set the growth factor."""
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        """The factor applied after a step whose gradients overflowed."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor) -> None:
        """Set the backoff factor."""
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        """The number of clean steps between two growths."""
        return self._growth_interval

    def set_growth_interval(self, new_interval) -> None:
        """Set the growth interval."""
        self._growth_interval = int(new_interval)

    def state_dict(self) -> dict:
        """The scale, its factors and the growth tracker (empty when disabled), as PyTorch's."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict) -> None:
        """Restore what ``state_dict()`` saved."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = self._init_scale
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


def _map_tensors(value, fn):
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(v, fn) for v in value)
    raise ValueError("outputs must be a Tensor or an iterable of Tensors")


def _all_finite(data):
    xp = _backend.get_array_module(data)
    return xp.isfinite(data).all() if data.size else True


_warned = False


class autocast:
    """PyTorch's ``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``
    as a context manager or decorator. distgrad does not cast ops automatically: the region
    runs in its tensors' own dtypes, and the first enabled use warns so."""

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, enabled

    def __enter__(self):
        global _warned
        if self.enabled and not _warned:
            _warned = True
            warnings.warn("distgrad.autocast: distgrad has no automatic mixed precision; the "
                          "region runs in its tensors' own dtypes (for float16 training, convert "
                          "the model with .half() and use distgrad.amp.GradScaler)", UserWarning,
                          stacklevel=2)
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


def is_autocast_available(device_type) -> bool:
    """False: distgrad has no automatic mixed precision on any device."""
    return False

