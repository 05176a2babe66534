"""Activation checkpointing (PyTorch's ``torch.utils.checkpoint``): ``checkpoint`` and
``checkpoint_sequential`` trade compute for memory by dropping a region's saved activations
after its forward pass and recomputing them during backward.

The region runs once with grad enabled, so that its graph shows where it meets the rest: the
parameters it used, the tensors it was given or closed over. Its activations are then freed and
one ``CheckpointBackward`` node, whose edges lead to those boundaries, produces the outputs. Its
backward runs the region again (with the random state of the first run) and walks the new graph
down to the boundaries only. This is the behaviour of PyTorch's ``use_reentrant=False``, for
either value of ``use_reentrant``: gradients reach parameters even when no input requires grad,
and ``autograd.grad`` works through a checkpoint (PyTorch's reentrant variant does neither).
"""
from __future__ import annotations

from .. import random as _random
from ..autograd import grad_mode
from ..autograd.engine import execute
from ..autograd.graph import AccumulateGrad, FREED_MESSAGE, Node, _sequence
from ..tensor import Tensor, _from_node

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, without keeping its activations for backward: they are
    recomputed then. ``preserve_rng_state`` replays the random state (dropout masks match).
    ``use_reentrant``, ``context_fn``, ``determinism_check`` and ``debug`` are accepted for
    PyTorch's signature (see the module docstring)."""
    if not grad_mode.is_grad_enabled():
        return function(*args, **kwargs)
    rng_state = _random.get_rng_state() if preserve_rng_state else None
    start = next(_sequence)
    outputs = function(*args, **kwargs)
    single = isinstance(outputs, Tensor)
    results = _as_list(outputs)
    positions = [i for i, out in enumerate(results) if _made_inside(out, start)]
    if not positions:
        return outputs
    edges, inside = _region([results[i] for i in positions], start)
    for node in inside:  # the activations go; the graph's shape is all that was needed
        node.release()
    node = CheckpointBackward(function, args, kwargs, rng_state, edges,
                              [results[i].shape for i in positions])
    for nr, i in enumerate(positions):
        out = _from_node(results[i]._data, node)
        out._output_nr = nr
        results[i] = out
    if single:
        return results[0]
    return type(outputs)(results)


def _as_list(outputs) -> list:
    """The checkpointed function's outputs as a list (a Tensor, or a tuple or list)."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if not isinstance(outputs, (tuple, list)):
        raise TypeError(f"checkpoint: the function must return a Tensor or a tuple or list of "
                        f"them, got {type(outputs).__name__}")
    return list(outputs)


def _made_inside(out, start) -> bool:
    fn = out.grad_fn if isinstance(out, Tensor) else None
    return fn is not None and type(fn) is not AccumulateGrad and fn._seq > start


def _region(outputs, start):
    """The edges leaving the region (nodes made after ``start``) that produced ``outputs``, in
    a deterministic order, and the region's nodes."""
    edges, seen_edges, inside, seen = [], set(), [], set()
    stack = [out.grad_fn for out in reversed(outputs)]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        inside.append(node)
        for edge in reversed(node.next_functions):
            if edge is None:
                continue
            nxt = edge[0]
            if type(nxt) is not AccumulateGrad and nxt._seq > start:
                stack.append(nxt)
            elif edge not in seen_edges:
                seen_edges.add(edge)
                edges.append(edge)
    return edges, inside


class CheckpointBackward(Node):
    """Backward of a checkpointed region: recompute it, then its gradients at its boundary."""

    def __init__(self, function, args, kwargs, rng_state, edges, shapes):
        super().__init__()
        self.next_functions = tuple(edges)
        self.num_outputs = len(shapes)
        self.shapes = shapes
        self.save(*[a for a in args if isinstance(a, Tensor)])  # version checks at backward
        self.recompute = (function, args, kwargs, rng_state)

    def backward(self, *grads):
        return self._gradients(grads, create_graph=False)

    def graph_backward(self, *grads):
        return self._gradients(grads, create_graph=True)

    def _gradients(self, grads, create_graph):
        if self.recompute is None:
            raise RuntimeError(FREED_MESSAGE)
        self.saved_tensors  # noqa: B018 - raises if an input was modified in place
        function, args, kwargs, rng_state = self.recompute
        start = next(_sequence)
        current = _random.get_rng_state() if rng_state is not None else None
        try:
            if rng_state is not None:
                _random.set_rng_state(rng_state)
            with grad_mode.enable_grad():
                outputs = function(*args, **kwargs)
        finally:
            if current is not None:
                _random.set_rng_state(current)
        results = [out for out in _as_list(outputs) if _made_inside(out, start)]
        edges, _ = _region(results, start)
        if ([tuple(out.shape) for out in results] != [tuple(s) for s in self.shapes]
                or len(edges) != len(self.next_functions)):
            raise RuntimeError("checkpoint: recomputing the checkpointed function gave a "
                               "different graph (output shapes or the tensors and parameters it "
                               "uses) than its forward pass; it must compute the same thing "
                               "both times")
        roots = [(out.grad_fn, out._output_nr) for out, g in zip(results, grads) if g is not None]
        seeds = [g for g in grads if g is not None]
        captured = execute(roots, seeds, retain_graph=create_graph, create_graph=create_graph,
                           accumulate=False, capture={e: i for i, e in enumerate(edges)},
                           sinks={e[0] for e in edges})
        return tuple(captured.get(i) for i in range(len(edges)))

    def release(self):
        """Forget the region (after backward without retain_graph)."""
        super().release()
        self.recompute = None


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a ``Sequential`` or a list of modules/functions) one after the other on
    ``input`` in ``segments`` chunks, checkpointing all but the last chunk."""
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be at least 1, got {segments}")
    size = max(1, len(functions) // segments)
    bounds = [(start, min(start + size, len(functions)))
              for start in range(0, size * (segments - 1), size) if start < len(functions)]
    last = bounds[-1][1] if bounds else 0

    def run(lo, hi):
        def segment(x):
            for f in functions[lo:hi]:
                x = f(x)
            return x
        return segment

    for lo, hi in bounds:
        input = checkpoint(run(lo, hi), input, use_reentrant=use_reentrant, **kwargs)
    return run(last, len(functions))(input)
