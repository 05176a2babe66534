"""Graph nodes (``grad_fn``): saved tensors, edges, hooks, and the leaf accumulator.

A node holds the tensors its backward formula needs and edges ``(node, output_nr)`` to the
nodes of its inputs. It never holds its own outputs strongly. Backward formulas run on raw
arrays; ``graph_backward`` (used with ``create_graph=True``) runs on tensors.
"""
from __future__ import annotations

import itertools
import threading
import traceback
import weakref
from collections import OrderedDict

from ..utils.hooks import RemovableHandle
from . import anomaly as _anomaly

_sequence = itertools.count()

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


INFERENCE_MESSAGE = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a clone "
    "to get a normal tensor and use it in autograd, or use torch.no_grad() instead of "
    "torch.inference_mode().")


class _NoInput:
    """Stands for a non-tensor operand (e.g. the 2 in ``x * 2``): an input slot with no edge."""

    _requires_grad = False


NO_INPUT = _NoInput()


class Node:
    """A node of the backward graph, created by an operation on tensors that require grad."""

    num_outputs = 1
    _saved = ()
    _saved_versions = ()
    _saved_out = ()            # (array, version counter, version) of a saved output
    _tensor_pre_hooks = None   # {output_nr: {id: hook}} for hooks on non-leaf tensors
    _retained = None           # {output_nr: weakref(tensor)} for retain_grad()
    _pre_hooks = None          # node pre-hooks: fn(grad_outputs) -> grad_outputs | None
    _post_hooks = None         # node post-hooks: fn(grad_inputs, grad_outputs) -> grad_inputs | None
    _hooked = False            # set by the four above: the engine then runs the node through
                               # _run_node (one flag is faster to test than four attributes)
    _creation_stack = None     # set in anomaly mode
    _metadata = None

    def __init__(self, inputs=()):
        self._seq = next(_sequence)
        edges = []
        for t in inputs:  # _edge(), inlined: this runs once per recorded op
            if not t._requires_grad:
                edges.append(None)
                continue
            fn = t.grad_fn
            if fn is not None:
                edges.append((fn, t._output_nr))
            else:  # a leaf: its accumulator (made by _edge on first use)
                edges.append((t._acc_node or _edge(t)[0], 0))
        self.next_functions = tuple(edges)
        if _anomaly._enabled:
            self._creation_stack = "".join(traceback.format_stack()[:-2])

    # -- saving ------------------------------------------------------------------------------
    def save(self, *tensors):
        """Save tensors for backward, remembering their versions for the in-place check."""
        versions = []
        for t in tensors:
            if t._is_inference:
                raise RuntimeError(INFERENCE_MESSAGE)
            versions.append((t._version_counter[0], t.grad_fn))
        self._saved = tensors
        self._saved_versions = tuple(versions)
        if _saved_hooks.stack:
            self._saved = tuple([_PackedTensor(t) for t in tensors])

    @property
    def saved_tensors(self):
        """The saved tensors, after checking they were neither freed nor modified in place."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        if saved and type(saved[0]) is _PackedTensor:
            return tuple([p.unpack() for p in saved])
        for t, (version, grad_fn) in zip(saved, self._saved_versions):
            if t._version_counter[0] != version:
                _raise_modified(t, version, grad_fn)
        return saved

    def save_output(self, t):
        """Save this node's output ``t`` (as its array, so the graph holds no output tensor)."""
        self._saved_out = (t._data, t._version_counter, t._version_counter[0])

    @property
    def saved_output(self):
        """The saved output array, after the freed and in-place checks."""
        saved = self._saved_out
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        return self._checked_output(saved)

    def _checked_output(self, saved, output_nr=0):
        """The array of a saved output ``(array, version counter, version)`` (output
        ``output_nr`` of this node), after the in-place check."""
        data, counter, version = saved
        if counter[0] != version:
            from ..tensor import Tensor
            t = Tensor._wrap(data)
            t._version_counter, t._output_nr = counter, output_nr
            _raise_modified(t, version, self)
        return data

    def saved_output_tensor(self):
        """The saved output as a tensor produced by this node, for ``graph_backward``: gradients
        that flow into it in a double-backward graph come back to this node."""
        from ..tensor import _from_node
        return _from_node(self.saved_output, self)

    def release(self):
        """Free the saved tensors (called after backward unless ``retain_graph=True``)."""
        if self._saved:
            self._saved = None
        if self._saved_out:
            self._saved_out = None

    # -- backward ----------------------------------------------------------------------------
    def backward(self, *grads):
        """Gradients w.r.t. the inputs, given gradients w.r.t. the outputs (raw arrays)."""
        raise NotImplementedError

    def graph_backward(self, *grads):
        """Differentiable backward on tensors, used for ``create_graph=True``."""
        raise RuntimeError(
            f"double backward (create_graph=True) is not implemented for {self.name()}")

    # -- introspection and hooks -------------------------------------------------------------
    def name(self) -> str:
        """The node's name, e.g. ``MulBackward0``."""
        return type(self).__name__

    @property
    def metadata(self) -> dict:
        """A dict for user data attached to this node (created on first access)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn):
        """Register ``fn(grad_inputs, grad_outputs)`` to run after this node; it may return new
        grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = OrderedDict()
        self._hooked = True
        return _add_hook(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Register ``fn(grad_outputs)`` to run before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = OrderedDict()
        self._hooked = True
        return _add_hook(self._pre_hooks, fn)

    def _add_tensor_pre_hook(self, output_nr, fn):
        if self._tensor_pre_hooks is None:
            self._tensor_pre_hooks = {}
        self._hooked = True
        return _add_hook(self._tensor_pre_hooks.setdefault(output_nr, OrderedDict()), fn)

    def _retain_output(self, output_nr, tensor):
        if self._retained is None:
            self._retained = {}
        self._hooked = True
        self._retained[output_nr] = weakref.ref(tensor)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


def _add_hook(hooks: dict, fn) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


class AccumulateGrad(Node):
    """The node of a leaf tensor: accumulates the incoming gradient into ``variable.grad``."""

    def __init__(self, variable):
        self._seq = next(_sequence)
        self.next_functions = ()
        self.variable = variable

    def backward(self, grad):  # accumulation itself is done by the engine
        return ()


class _Claims(threading.local):
    """The leaves whose preallocated gradient storage formulas wrote into during the running
    backward pass; ``leaves`` is None when no pass runs or the pass may not use the storage."""

    leaves = None


_claims = _Claims()


def grad_destination(edge, shape, dtype):
    """The array a backward formula may write the gradient for ``edge`` into, or None.

    A leaf can carry preallocated storage for its gradient (``_grad_dest``, a tensor: DDP's
    bucket views). When the gradient flowing into ``edge`` is the leaf's whole gradient in a
    plain ``backward()`` (``.grad`` is None, no tensor hooks, no other formula wrote there in
    this pass), the formula may compute it straight into that storage (``out=``), and the leaf's
    accumulator then makes the storage ``.grad`` without a copy. ``shape`` and ``dtype`` are
    those of the gradient the formula would compute.
    """
    if edge is None or type(edge[0]) is not AccumulateGrad:
        return None
    t = edge[0].variable
    dest = t._grad_dest
    if dest is None or t._grad is not None or t._hooks or t._grad_claimed:
        return None
    leaves = _claims.leaves  # read last: a thread-local read is slower than the checks above
    if leaves is None:
        return None
    d = dest._data
    if not storage_fits(d, shape, dtype, type(t._data)):
        return None
    t._grad_claimed = True
    leaves.append(t)
    return d


def storage_fits(storage, shape, dtype, array_type) -> bool:
    """Whether a gradient of ``shape``, ``dtype`` and array type fits preallocated ``storage``."""
    return storage.shape == shape and storage.dtype == dtype and type(storage) is array_type


def release_grad_storage(params, storages) -> None:
    """Stop using ``storages`` as the preallocated gradient storage of ``params`` (where they
    still are: the owner of the storage, e.g. a DDP, is going away)."""
    for p, storage in zip(params, storages):
        if p._grad_dest is storage:
            p._grad_dest = None


def _edge(t):
    """The edge ``(node, output_nr)`` that gradients for tensor ``t`` flow into, or None."""
    if not t._requires_grad:
        return None
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    node = t._acc_node
    if node is None:
        node = t._acc_node = AccumulateGrad(t)
    return (node, 0)


def _raise_modified(t, version, grad_fn):
    from ..dtypes import dtype_name
    kind = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "bool": "Bool"}.get(dtype_name(t.dtype), "")
    shape = ", ".join(str(s) for s in t.shape)
    which = ""
    if grad_fn is not None:
        op = grad_fn.name()
        if op.endswith("Backward0"):
            op = op[: -len("Backward0")]
        which = f", which is output {t._output_nr} of {op},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [distgrad.{kind}Tensor [{shape}]]{which} is at version {t._version}; "
        f"expected version {version} instead. Hint: enable anomaly detection to find the "
        "operation that failed to compute its gradient, with "
        "distgrad.autograd.set_detect_anomaly(True).")


# -- saved tensor hooks ---------------------------------------------------------------------
class _SavedHooksState:
    stack: list = []


_saved_hooks = _SavedHooksState()


class _PackedTensor:
    __slots__ = ("packed", "unpack_hook")

    def __init__(self, t):
        pack, unpack = _saved_hooks.stack[-1]
        self.packed = pack(t)
        self.unpack_hook = unpack

    def unpack(self):
        return self.unpack_hook(self.packed)


class saved_tensors_hooks:
    """Context manager: ``pack_hook(tensor)`` runs when an op saves a tensor for backward and
    ``unpack_hook(packed)`` when backward reads it (e.g. to offload activations)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _saved_hooks.stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        _saved_hooks.stack.pop()
        return False
