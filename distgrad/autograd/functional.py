"""Higher-level autograd on functions (PyTorch's ``torch.autograd.functional``): ``vjp``,
``jvp``, ``jacobian``, ``hessian``, ``vhp`` and ``hvp``.

``inputs`` is a Tensor or a tuple of Tensors, passed to ``func`` as its positional arguments;
results mirror that structure (and the structure of ``func``'s outputs). Each function differentiates
fresh, detached copies of the inputs, so nothing accumulates into ``.grad``. distgrad has no
forward mode: ``jvp`` and ``hvp`` use the double-backward trick, as PyTorch does, and
``jacobian``'s ``strategy="forward-mode"`` computes the same matrix in reverse mode.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import grad_mode
from .engine import _size
from .engine import grad as _grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, what, fn_name):
    """``(was a tuple, the tuple)``, after checking every entry is a Tensor."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            if is_tuple:
                raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {i} has type "
                                f"{type(item)}.")
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple "
                            f"of Tensors but the given {what} has type {type(item)}.")
    return is_tuple, items


def _prepare(inputs, create_graph):
    """Inputs to differentiate: connected to their graph with ``create_graph`` (for higher
    orders), else detached."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(True) for t in inputs)


def _finish(items, create_graph):
    return tuple(t if create_graph or t is None else t.detach() for t in items)


def _shaped(x, is_tuple):
    return x if is_tuple else x[0]


def _check_v(v, outputs, what):
    if len(v) != len(outputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got "
                           f"{len(v)}.")
    for i, (a, b) in enumerate(zip(v, outputs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be "
                               f"{_size(b.shape)} but got {_size(a.shape)}.")


def _grad_or_zeros(outputs, inputs, grad_outputs, create_graph, missing=None):
    """``autograd.grad`` of the ``outputs`` that require grad, along their ``grad_outputs``,
    w.r.t. ``inputs``; zeros where an input is not reached, or the error ``missing(i)`` when
    given (strict mode)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    found = (_grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                   create_graph=create_graph, allow_unused=True) if pairs
             else (None,) * len(inputs))
    result = []
    for i, (g, t) in enumerate(zip(found, inputs)):
        if g is None:
            if missing is not None:
                raise missing(i)
            g = t.detach().mul(0)
        result.append(g)
    return tuple(result)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    """``_grad_or_zeros``; with ``strict``, an output that does not require grad, or an input
    it does not reach, is an error."""
    if strict and not all(o.requires_grad for o in outputs):
        i = next(i for i, o in enumerate(outputs) if not o.requires_grad)
        raise RuntimeError(f"Output {i} of the user-provided function does not require "
                           f"gradients. The outputs must be computed in a differentiable manner "
                           f"from the input when running in strict mode.")
    missing = (lambda i: RuntimeError(f"The {what} of the user-provided function is independent "
                                      f"of input {i}. This is not allowed in strict mode.")
               if strict else None)
    return _grad_or_zeros(outputs, inputs, grad_outputs, create_graph, missing)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs`` (``v`` may be
    omitted when ``func`` returns a single element)."""
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        if v is None:
            if out_tuple or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            v = (outputs[0].detach().mul(0).add(1),)
        else:
            _, v = _as_tuple(v, "v", "vjp")
            _check_v(v, outputs, "vjp")
        result = _grads(outputs, inputs, v, create_graph, strict, "output")
    return (_shaped(_finish(outputs, create_graph), out_tuple),
            _shaped(_finish(result, create_graph), in_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product at ``inputs`` (``v`` may be omitted
    when the input is a single element), by the double-backward trick."""
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        if v is None:
            if in_tuple or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the "
                                   "user-provided function is a single Tensor with a single "
                                   "element.")
            v = (inputs[0].detach().mul(0).add(1),)
        else:
            _, v = _as_tuple(v, "v", "jvp")
            _check_v(v, inputs, "jvp")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        result = _double_backward(outputs, inputs, v, create_graph, strict)
    return (_shaped(_finish(outputs, create_graph), out_tuple),
            _shaped(_finish(result, create_graph), out_tuple))


def _double_backward(outputs, inputs, v, create_graph, strict):
    """``J v`` for the Jacobian J of ``outputs`` w.r.t. ``inputs``: differentiate ``u^T J``
    (linear in a dummy ``u``) with respect to ``u``, along ``v``."""
    dummies = tuple(o.detach().mul(0).requires_grad_(True) for o in outputs)
    grad_in = _grads(outputs, inputs, dummies, True, strict, "output")
    missing = (lambda i: RuntimeError(f"The gradient with respect to the input is independent "
                                      f"of entry {i} in the grad_outputs when using the double "
                                      f"backward trick to compute forward mode gradients. This "
                                      f"is not allowed in strict mode.")
               if strict else None)
    return _grad_or_zeros(grad_in, dummies, v, create_graph, missing)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``i`` and input ``j`` a tensor of
    shape ``outputs[i].shape + inputs[j].shape`` (nested tuples when either is a tuple). One
    backward pass per output element (``vectorize`` and ``strategy`` change nothing)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         f'Hint: If your strategy was given as a string, check for typos, got '
                         f'{strategy!r}.')
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        from .. import ops
        blocks = []
        for i, out in enumerate(outputs):
            flat = out.reshape(-1)
            rows = [[] for _ in inputs]
            for k in range(flat.numel()):
                if out.requires_grad:
                    grads = _grad(flat[k], inputs, retain_graph=True, create_graph=create_graph,
                                  allow_unused=True)
                elif strict:
                    raise RuntimeError(f"Output {i} of the user-provided function does not "
                                       f"require gradients. The outputs must be computed in a "
                                       f"differentiable manner from the input when running in "
                                       f"strict mode.")
                else:
                    grads = (None,) * len(inputs)
                for j, (g, t) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict and out.requires_grad:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               f"in strict mode.")
                        g = t.detach().mul(0)
                    rows[j].append(g)
            block = []
            for j, t in enumerate(inputs):
                stacked = (ops.stack(rows[j]) if rows[j]
                           else t.detach().reshape(0, *t.shape))
                block.append(stacked.reshape(*out.shape, *t.shape))
            blocks.append(_finish(block, create_graph))
    if out_tuple:
        return tuple(_shaped(b, in_tuple) for b in blocks)
    return _shaped(blocks[0], in_tuple)


def _scalar_output(func, fn_name):
    def single(*inputs):
        out = func(*inputs)
        _, outs = _as_tuple(out, "outputs of the user-provided function", fn_name)
        if isinstance(out, tuple):
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                               f"contain a single element")
        return out.squeeze()
    return single


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs``: ``inputs[i].shape +
    inputs[j].shape`` for each pair (nested tuples when ``inputs`` is a tuple)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    scalar = _scalar_output(func, "hessian")

    def gradient(*inp):
        return jacobian(scalar, inp, create_graph=True, strict=strict)

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return result if in_tuple else result[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for the scalar function ``func``'s Hessian H."""
    with grad_mode.enable_grad():
        in_tuple, inputs, v, out, gradient = _gradient_at(func, inputs, v, create_graph, strict,
                                                          "vhp")
        result = _grad_or_zeros(gradient, inputs, v, create_graph)
    return _finish((out,), create_graph)[0], _shaped(_finish(result, create_graph), in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for the scalar function ``func``'s Hessian H (double-backward
    trick)."""
    with grad_mode.enable_grad():
        in_tuple, inputs, v, out, gradient = _gradient_at(func, inputs, v, create_graph, strict,
                                                          "hvp")
        result = _double_backward(gradient, inputs, v, create_graph, strict)
    return _finish((out,), create_graph)[0], _shaped(_finish(result, create_graph), in_tuple)


def _gradient_at(func, inputs, v, create_graph, strict, fn_name):
    """What ``vhp`` and ``hvp`` start from (with grad enabled): whether ``inputs`` was a tuple,
    the prepared inputs, the vector ``v``, the scalar ``func(*inputs)`` and its gradient,
    differentiable."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph)
    v = _hessian_vector(v, inputs, fn_name)
    out = _scalar_output(func, fn_name)(*inputs)
    gradient = _grads((out,), inputs, (out.detach().mul(0).add(1),), True, strict, "output")
    return in_tuple, inputs, v, out, gradient


def _hessian_vector(v, inputs, fn_name):
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        return (inputs[0].detach().mul(0).add(1),)
    _, v = _as_tuple(v, "v", fn_name)
    _check_v(v, inputs, fn_name)
    return v
