"""The backward engine: an iterative walk of the graph in a deterministic order.

Nodes become ready when every node that feeds them a gradient has run (dependency counts).
Among ready nodes, leaf accumulators run first (so "gradient ready" hooks fire as early as
possible, as distributed data parallel wants), then the most recently created node. The order
depends only on the graph, so it is identical on every rank.
"""
from __future__ import annotations

import heapq
import sys
import threading
from heapq import heappop, heappush
from operator import attrgetter

from . import anomaly as _anomaly
from . import grad_mode
from .graph import AccumulateGrad, _claims, _edge, storage_fits


class _RunState(threading.local):
    def __init__(self):
        self.callbacks_stack = []


_run_state = _RunState()


def queue_callback(callback) -> None:
    """Queue ``callback()`` to run once the current backward pass has finished.

    Only valid while a backward pass runs (for instance from a tensor or node hook); this is
    how distributed data parallel waits for its last all-reduce.
    """
    if not _run_state.callbacks_stack:
        raise RuntimeError("queue_callback can only be called during the backward pass")
    _run_state.callbacks_stack[-1].append(callback)


_Tensor = None


def _tensor_class():
    """``distgrad.Tensor`` (imported on first use: tensor.py imports this package)."""
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor
        _Tensor = Tensor
    return _Tensor


def _run_tensor_hooks(hooks, grad, create_graph, Tensor):
    """Run tensor hooks (``hook(grad) -> grad | None``) in order; each sees the previous result."""
    for hook in list(hooks.values()):
        g_tensor = grad if create_graph else Tensor._wrap(grad)
        result = hook(g_tensor)
        if result is None:
            continue
        if not isinstance(result, Tensor):
            raise TypeError(f"hook '{getattr(hook, '__name__', hook)}' returned {type(result).__name__}, "
                            "expected a Tensor or None")
        if tuple(result.shape) != tuple(grad.shape):
            raise RuntimeError(f"hook '{getattr(hook, '__name__', repr(hook))}' has changed the size of value")
        grad = result if create_graph else result._data
    return grad


def _wrap_all(grads, Tensor, create_graph):
    if create_graph:
        return tuple(grads)
    return tuple(None if g is None else Tensor._wrap(g) for g in grads)


def _unwrap_all(grads, create_graph):
    if create_graph:
        return tuple(grads)
    return tuple(None if g is None else g._data for g in grads)


def execute(root_edges, root_grads, *, retain_graph, create_graph, accumulate=True,
            capture=None, accumulate_only=None, sinks=None):
    """Run backward from ``root_edges`` seeded with ``root_grads``.

    ``capture`` maps edges ``(node, output_nr)`` to slots: the gradient arriving there is
    recorded (for ``autograd.grad``) instead of being accumulated. ``accumulate_only`` limits
    accumulation to the given leaf tensors (``backward(inputs=...)``). ``sinks`` is a set of
    nodes where the walk stops: the gradients reaching them are captured as they are (no
    hooks run, nothing is accumulated) and they do not run (a checkpointed region's boundary).
    """
    Tensor = _tensor_class()
    deps = _dependencies(root_edges, sinks)
    buffers = {}
    for edge, grad in zip(root_edges, root_grads):
        _accumulate_into(buffers, edge[0], edge[1], grad)
    ready = []
    leaves = []
    for node in buffers:  # each root node once, in the order of root_edges
        if deps[node] == 0:
            if type(node) is AccumulateGrad:
                leaves.append(node)
            else:
                ready.append((-node._seq, node))
    heapq.heapify(ready)

    captured = {} if capture is not None else None
    plain = capture is None and not create_graph  # the fast path for hook-free nodes applies
    callbacks = []
    callbacks_stack = _run_state.callbacks_stack
    callbacks_stack.append(callbacks)
    # formulas may write a leaf's whole gradient into its preallocated storage (grad_destination)
    outer_claims = _claims.leaves
    claimed = _claims.leaves = [] if plain and accumulate and accumulate_only is None else None
    # grad_mode._set_mode, inlined (thread-local reads and writes are slow): record the graph
    # of the backward formulas only with create_graph
    mode = grad_mode._state
    previous_enabled = mode.enabled
    mode.enabled = create_graph
    check_nan = _anomaly._enabled and _anomaly._check_nan
    try:
        while True:
            if leaves:  # accumulators run as soon as they are ready, in creation order
                if len(leaves) > 1:
                    leaves.sort(key=_creation_order)
                for leaf in leaves:
                    if sinks is not None and leaf in sinks:
                        _capture_sink(leaf, buffers.pop(leaf, None), capture, captured)
                        continue
                    # The buffer is passed without a local reference (and without *args, whose
                    # tuple would hold one), so _run_accumulate can tell from the reference
                    # count whether it may keep the array as .grad.
                    _run_accumulate(leaf, buffers.pop(leaf, None), create_graph, accumulate, capture,
                                    captured, accumulate_only, Tensor)
                leaves = []
            if not ready:
                break
            node = heappop(ready)[1]
            grads = buffers.pop(node, None)
            if sinks is not None and node in sinks:
                _capture_sink(node, grads, capture, captured)
                continue
            if grads is None:
                grad_inputs = (None,) * len(node.next_functions)
            else:
                if plain and node.num_outputs == 1 and not node._hooked:
                    grad_inputs = node.backward(grads)
                else:
                    grad_inputs = _run_node(node, grads, create_graph, capture, captured, Tensor)
                if check_nan:
                    _anomaly.check_grads(node, grad_inputs)
                if not retain_graph:
                    node.release()
            for edge, g in zip(node.next_functions, grad_inputs):
                if edge is None:
                    continue
                nxt = edge[0]
                if g is not None:
                    if nxt.num_outputs == 1:
                        prev = buffers.get(nxt)
                        buffers[nxt] = g if prev is None else prev + g
                    else:
                        _accumulate_into(buffers, nxt, edge[1], g)
                remaining = deps[nxt] - 1
                deps[nxt] = remaining
                if remaining == 0:
                    if type(nxt) is AccumulateGrad:
                        leaves.append(nxt)
                    else:
                        heappush(ready, (-nxt._seq, nxt))
            grads = grad_inputs = g = None  # drop references: see _run_accumulate
    finally:
        mode.enabled = previous_enabled
        callbacks_stack.pop()
        for t in claimed or ():
            t._grad_claimed = False
        _claims.leaves = outer_claims
    for callback in callbacks:
        callback()
    return captured


def _dependencies(root_edges, sinks=None):
    """For every node reachable from the roots (not beyond ``sinks``), the number of edges that
    feed it a gradient."""
    deps = {}
    stack = []
    for edge in root_edges:
        if edge is not None and edge[0] not in deps:
            deps[edge[0]] = 0
            stack.append(edge[0])
    while stack:
        for edge in stack.pop().next_functions:
            if edge is not None:
                nxt = edge[0]
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    # leaf accumulators have nothing to visit
                    if nxt.next_functions and (sinks is None or nxt not in sinks):
                        stack.append(nxt)
    return deps


_creation_order = attrgetter("_seq")


def _capture_sink(node, grads, capture, captured):
    """Record the gradients that reached sink ``node``, by the slots ``capture`` gives its edges."""
    if grads is None:
        return
    for nr, g in enumerate([grads] if node.num_outputs == 1 else grads):
        slot = capture.get((node, nr))
        if slot is not None and g is not None:
            captured[slot] = g


def _run_node(node, grads, create_graph, capture, captured, Tensor):
    """Run one node with what surrounds it: tensor and node hooks, capture for
    ``autograd.grad``, ``retain_grad`` and differentiable backward."""
    if node.num_outputs == 1:
        grads = [grads]
    if node._tensor_pre_hooks:
        for nr, hooks in node._tensor_pre_hooks.items():
            if grads[nr] is not None and hooks:
                grads[nr] = _run_tensor_hooks(hooks, grads[nr], create_graph, Tensor)
    if capture:
        for nr in range(len(grads)):
            slot = capture.get((node, nr))
            if slot is not None:
                captured[slot] = grads[nr]
    if node._pre_hooks:
        for hook in list(node._pre_hooks.values()):
            result = hook(_wrap_all(grads, Tensor, create_graph))
            if result is not None:
                grads = list(_unwrap_all(result, create_graph))
    if node._retained:
        _retain(node, grads, create_graph, Tensor)
    if create_graph:
        grad_inputs = node.graph_backward(*grads)
    else:
        grad_inputs = node.backward(*grads)
    if node._post_hooks:
        for hook in list(node._post_hooks.values()):
            result = hook(_wrap_all(grad_inputs, Tensor, create_graph),
                          _wrap_all(grads, Tensor, create_graph))
            if result is not None:
                grad_inputs = _unwrap_all(result, create_graph)
    return grad_inputs


def _accumulate_into(buffers, node, output_nr, grad):
    if node.num_outputs == 1:
        prev = buffers.get(node)
        buffers[node] = grad if prev is None else prev + grad
        return
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node.num_outputs
    prev = slots[output_nr]
    slots[output_nr] = grad if prev is None else prev + grad


def _retain(node, grads, create_graph, Tensor):
    for nr, ref in node._retained.items():
        t = ref()
        g = grads[nr]
        if t is None or g is None:
            continue
        if not create_graph:
            g = Tensor._wrap(g.copy())
        t._grad = g if t._grad is None else t._grad + g


def _run_accumulate(node, grad, create_graph, accumulate, capture, captured, accumulate_only,
                    Tensor):
    if grad is None:
        return
    t = node.variable
    if grad.dtype.kind == "c" and t._data.dtype.kind != "c":
        grad = grad.real  # PyTorch's convention: a real leaf's gradient is the real part
    if t._hooks:
        grad = _run_tensor_hooks(t._hooks, grad, create_graph, Tensor)
    if capture is not None:
        slot = capture.get((node, 0))
        if slot is not None:
            captured[slot] = grad
        return
    if not accumulate or (accumulate_only is not None and id(t) not in accumulate_only):
        return
    if create_graph:
        t._grad = grad if t._grad is None else t._grad + grad
    else:
        if grad.dtype != t._data.dtype:
            grad = grad.astype(t._data.dtype)
        current = t._grad
        if current is None:
            dest = t._grad_dest
            if dest is not None and (grad is dest._data  # a formula computed it in place
                                     or storage_fits(dest._data, grad.shape, grad.dtype,
                                                     type(grad))):
                if grad is not dest._data:
                    dest._data[...] = grad
                dest._version_counter[0] += 1
                t._grad = dest
            else:
                # keep the array as .grad without a copy when nothing but this call holds it
                # (a fresh, contiguous, writable array): two references, the parameter and
                # getrefcount's own argument
                if sys.getrefcount(grad) > 2 or grad.base is not None:
                    grad = grad.copy()
                else:
                    flags = grad.flags  # a new object on every access
                    if not (flags.c_contiguous and getattr(flags, "writeable", True)):  # CuPy: no flag
                        grad = grad.copy()
                t._grad = Tensor._wrap(grad)
        elif current._requires_grad:
            t._grad = Tensor._wrap(current._data + grad)
        else:
            current._data += grad
    if t._post_acc_hooks:
        with grad_mode.set_grad_enabled(create_graph):
            for hook in list(t._post_acc_hooks.values()):
                hook(t)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the gradients of ``tensors`` w.r.t. graph leaves and accumulate them in ``.grad``."""
    tensors, grads = _roots(tensors, grad_tensors, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    accumulate_only = None
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        accumulate_only = {id(t) for t in inputs}
        for t in inputs:
            if t.grad_fn is not None:
                raise RuntimeError("backward(inputs=...) with non-leaf inputs is not supported; "
                                   "use autograd.grad for them")
    execute(list(map(_edge, tensors)), grads, retain_graph=retain_graph,
            create_graph=create_graph, accumulate_only=accumulate_only)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, materialize_grads=False):
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` without touching ``.grad``."""
    Tensor = _tensor_class()
    outputs, grads = _roots(outputs, grad_outputs, create_graph)
    inputs = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    capture = {}
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        capture.setdefault(_edge(t), i)
    edges = [_edge(t) for t in outputs]
    captured = execute(edges, grads, retain_graph=retain_graph, create_graph=create_graph,
                       capture=capture)
    result = []
    for i, t in enumerate(inputs):
        slot = capture[_edge(t)]
        g = captured.get(slot)
        if g is None:
            if materialize_grads:
                from .. import ops
                result.append(ops.zeros_like(t))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
            continue
        result.append(g if create_graph else Tensor._wrap(g))
    return tuple(result)


def _as_tuple(x):
    Tensor = _tensor_class()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _roots(tensors, grad_tensors, create_graph):
    """Validate the roots and build their seed gradients (arrays, or tensors for create_graph)."""
    Tensor = _tensor_class()
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    else:
        grad_tensors = tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    seeds = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            data = t._data
            if data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if data.dtype.kind != "f":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                                   f"but got {t.dtype}")
            g_data = t._xp().asarray(1, dtype=data.dtype)  # not ones(): slower
            if data.ndim:  # e.g. shape (1, 1)
                g_data = g_data.reshape(data.shape)
            seeds.append(Tensor._wrap(g_data) if create_graph else g_data)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._wrap(t._xp().asarray(g, dtype=t._data.dtype))
        if tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {_size(g.shape)} and "
                f"output[{i}] has a shape of {_size(t.shape)}.")
        if g.device != t.device:
            raise RuntimeError(f"Expected grad_output[{i}] on device {t.device}, but got {g.device}")
        if g._data.dtype != t._data.dtype:  # PyTorch casts the seed to the output's dtype
            g = g.to(t.dtype)
        seeds.append(g if create_graph else g._data)
    return tensors, seeds


def _size(shape):
    return "distgrad.Size([" + ", ".join(str(s) for s in shape) + "])"
