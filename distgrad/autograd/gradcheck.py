"""Finite-difference gradient checks (``gradcheck``, ``gradgradcheck``) in float64."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _backend
from ..tensor import Tensor
from .engine import grad as _grad


def _host64(array):
    """A float64 NumPy copy of ``array`` (copied from the GPU when it lives there)."""
    return _backend.to_device(array, _backend.CPU).astype(np.float64)


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _differentiable_inputs(inputs):
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _numerical_jacobian(func, inputs, idx, eps):
    """Columns: d(outputs)/d(input element), by central differences."""
    data = inputs[idx]._data  # perturbed in place, element by element (any memory layout)
    columns = []
    for k in np.ndindex(*data.shape):
        orig = data[k].item()
        data[k] = orig + eps
        plus = [_host64(o._data).ravel() for o in _outputs(func, inputs)]
        data[k] = orig - eps
        minus = [_host64(o._data).ravel() for o in _outputs(func, inputs)]
        data[k] = orig
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    return columns


def _outputs(func, inputs):
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, **unused) -> bool:
    """Compare the gradients of ``func`` at ``inputs`` with central finite differences.

    Use float64 inputs; float32 input warns, as in PyTorch. Returns True, or raises
    ``GradcheckError`` naming the output and input whose Jacobians differ.
    """
    inputs = _as_tuple(inputs)
    diff_idx = _differentiable_inputs(inputs)
    for i in diff_idx:
        if inputs[i].dtype != np.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point or "
                "complex. This check will likely fail if all the inputs are not of double "
                "precision floating point or complex.", UserWarning, stacklevel=2)
    outputs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]
    for out_i, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        n_out = out.numel()
        analytical = {i: np.zeros((inputs[i].numel(), n_out)) for i in diff_idx}
        for j in range(n_out):
            seed = np.zeros(n_out, dtype=out.dtype)
            seed[j] = 1
            seed = _backend.to_device(seed.reshape(out.shape), out.device)
            grads = _grad(out, [inputs[i] for i in diff_idx], Tensor._wrap(seed),
                          retain_graph=True, allow_unused=True)
            for i, g in zip(diff_idx, grads):
                if g is not None:
                    analytical[i][:, j] = _host64(g._data).ravel()
        for i in diff_idx:
            numerical = np.array([col[out_i] for col in _numerical_jacobian(func, inputs, i, eps)])
            if not np.allclose(analytical[i], numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {out_i} with respect to input {i},\n"
                    f"numerical:{numerical}\nanalytical:{analytical[i]}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **unused) -> bool:
    """``gradcheck`` of the first derivative (checks second derivatives via create_graph)."""
    inputs = _as_tuple(inputs)
    diff_idx = _differentiable_inputs(inputs)
    outputs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor._wrap(_backend.to_device(rng.standard_normal(o.shape), o.device))
                        for o in outputs]
    grad_outputs = list(_as_tuple(grad_outputs) if not isinstance(grad_outputs, list) else grad_outputs)

    def first_derivative(*args):
        outs = [o for o in _as_tuple(func(*args)) if isinstance(o, Tensor)]
        diff_inputs = [args[i] for i in diff_idx]
        grads = _grad(outs, diff_inputs, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
