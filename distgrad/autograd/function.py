"""``Function``: user-defined differentiable operations with ``forward``/``backward``."""
from __future__ import annotations

from ..tensor import Tensor, _from_node
from . import grad_mode
from .graph import NO_INPUT, Node


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``."""

    needs_input_grad: tuple = ()

    def save_for_backward(self, *tensors):
        """Save tensors (or None) for ``backward``; read them back from ``ctx.saved_tensors``."""
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        """Mark outputs of ``forward`` as non-differentiable: they are returned without history."""
        self._non_differentiable = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool):
        """Whether undefined output gradients reach ``backward`` as zeros (default) or None."""
        self.materialize_grads = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The graph node of a custom Function; it is also the ``ctx``."""

    materialize_grads = True

    def __init__(self, function_cls, inputs):
        super().__init__(inputs)
        self._function_cls = function_cls

    def name(self):
        return self._function_cls.__name__ + "Backward"

    _none_mask = ()

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, unpacked (None where None was saved)."""
        tensors = iter(Node.saved_tensors.fget(self))
        return tuple(None if is_none else next(tensors) for is_none in self._none_mask)

    def backward(self, *grads):
        grads_t = []
        for g, meta in zip(grads, self._output_meta):
            if g is None and self.materialize_grads:
                xp, shape, dtype = meta
                g = xp.zeros(shape, dtype)
            grads_t.append(None if g is None else Tensor._wrap(g))
        with grad_mode.no_grad():
            result = self._function_cls.backward(self, *grads_t)
        return tuple(None if r is None else
                     r._data if dtype is None or r._data.dtype == dtype else r._data.astype(dtype)
                     for r, dtype in zip(_check_grads(self, result), self._input_dtypes))

    def graph_backward(self, *grads):
        result = self._function_cls.backward(self, *grads)
        return _check_grads(self, result)


def _check_grads(node, result):
    if not isinstance(result, tuple):
        result = (result,)
    n_inputs = len(node.next_functions)
    if len(result) < n_inputs:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {n_inputs}, got {len(result)})")
    return result[:n_inputs]


class Function:
    """Base class of custom autograd operations.

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods and are used through ``MyFunction.apply(*args)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the outputs from the inputs (override; save what backward needs on ``ctx``)."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        """One gradient (or None) per input of ``forward``, given one per output (override)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` on ``args`` and, when grad mode is on and an input requires grad,
        record a node whose backward is this class's ``backward``."""
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        record = grad_mode.is_grad_enabled() and any(t._requires_grad for t in tensor_args)
        # Edges for every positional argument, None for non-tensors, so backward's results line up.
        node = BackwardCFunction(cls, [a if isinstance(a, Tensor) else NO_INPUT for a in args])
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        node._input_dtypes = tuple(a.dtype if isinstance(a, Tensor) else None for a in args)
        with grad_mode.no_grad():
            outputs = cls.forward(node, *args)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not record:
            return outputs
        saved = getattr(node, "_to_save", ())
        node._none_mask = tuple(t is None for t in saved)
        node.save(*[t for t in saved if t is not None])
        non_diff = getattr(node, "_non_differentiable", set())
        node.num_outputs = len(outs)
        node._output_meta = []
        results = []
        for i, out in enumerate(outs):
            if not isinstance(out, Tensor):
                node._output_meta.append(None)
                results.append(out)
                continue
            node._output_meta.append((out._xp(), out.shape, out.dtype))
            if id(out) in non_diff or out.dtype.kind != "f":
                results.append(out)
                continue
            if any(out is a for a in tensor_args):  # an input returned as is: make a view
                out = Tensor._wrap(out._data)
            t = _from_node(out._data, node)
            t._output_nr = i
            results.append(t)
        return results[0] if single else tuple(results)


class once_differentiable:  # pragma: no cover - compatibility shim
    """Decorator kept for PyTorch compatibility; backward here is already run without a graph."""

    def __new__(cls, fn):
        return fn
