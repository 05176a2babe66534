"""Horovod-style data parallelism: wrap the optimizer, not the model.

* :class:`DistributedOptimizer` wraps any distgrad optimizer. ``step()`` first averages the
  gradients over the ranks with **one fused all-reduce per dtype** of a reusable flat buffer,
  then runs the wrapped optimizer's ``step``. From the first ``step()`` on, slices of the buffer
  are the parameters' gradient storage: after ``zero_grad()`` backward puts the gradients
  straight into it and they are averaged in place (``.grad`` is a view of the buffer); gradients
  held elsewhere are copied in and the result copied back.
  Post-accumulate-grad hooks count the backward passes since the last ``step()`` and raise a
  clear error when there were more than ``backward_passes_per_step`` (gradient accumulation is
  "several backward passes, one step").
* :func:`broadcast_parameters` makes every rank's parameters (or a ``state_dict``) equal to
  ``root_rank``'s with one broadcast.
* :func:`broadcast_optimizer_state` does the same for an optimizer's state (momentum buffers,
  Adam moments, step counts, hyper-parameters): use it after loading a checkpoint on one rank.
  State that only some ranks have created yet (optimizers create it lazily at their first step)
  is handled: the root's structure is broadcast first.

Typical use::

    dist.init_process_group()
    model = Net()
    opt = DistributedOptimizer(distgrad.optim.SGD(model.parameters(), lr=0.1),
                               named_parameters=model.named_parameters())
    broadcast_parameters(model.state_dict(), root_rank=0)
    broadcast_optimizer_state(opt, root_rank=0)
    for x, y in loader:                       # loader over a DistributedSampler
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()                            # all-reduce (average), then the update

Parameters whose gradient is None on one rank but not on another are reduced as zeros there
(Horovod's rule), and a parameter that has no gradient on any rank keeps ``grad = None``. In a
world of one nothing is communicated (the counting hooks stay: they are a correctness check).
"""

from __future__ import annotations

import contextlib
import pickle
import weakref

import numpy as np

from .. import _backend
from ..autograd.graph import release_grad_storage
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from . import collectives as _coll
from . import process_group as _pgm
from .collectives import ReduceOp

__all__ = ["DistributedOptimizer", "broadcast_parameters", "broadcast_optimizer_state"]


# --------------------------------------------------------------------------- shared helpers


def _array_of(t):
    return t._data if isinstance(t, Tensor) else t


def _describe(named):
    """[(name, shape, dtype name)] of ``(name, tensor-or-array)`` pairs."""
    out = []
    for name, t in named:
        a = _array_of(t)
        out.append((str(name), tuple(int(s) for s in a.shape), str(a.dtype)))
    return out


def _fmt_entry(e):
    if e is None:
        return "nothing (it has fewer entries)"
    name, shape, dtype = e
    return f"'{name}' with shape {shape} and dtype {dtype}"


def _check_same_across_ranks(pg, sections, owner, hint):
    """Raise the same error on every rank when any rank's entries differ from rank 0's.

    ``sections`` is a list of ``(what, entries)`` (entries: lists of ``(name, shape, dtype)``);
    all of them travel in one allgather, so the check is one collective and no rank can hang.
    The error names the first differing entry and the ranks that differ from rank 0.
    """
    if pg.size() <= 1:
        return
    gathered = [None] * pg.size()
    _coll.all_gather_object(gathered, [list(e) for _, e in sections], group=pg)
    ranks = pg.world_ranks
    for s, (what, _) in enumerate(sections):
        lists = [g[s] for g in gathered]
        ref = lists[0]
        if all(lst == ref for lst in lists[1:]):
            continue
        n = max(len(lst) for lst in lists)
        idx, at = 0, []
        for idx in range(n):
            at = [lst[idx] if idx < len(lst) else None for lst in lists]
            if any(a != at[0] for a in at[1:]):
                break
        differ = [ranks[r] for r in range(len(lists)) if at[r] != at[0]]
        lines = [f"{owner}: the {what}s differ across ranks (first difference at {what} #{idx}):",
                 f"  rank {ranks[0]}: {_fmt_entry(at[0])}"]
        for r in range(1, len(lists)):
            if at[r] != at[0]:
                lines.append(f"  rank {ranks[r]}: {_fmt_entry(at[r])}")
        if len({len(lst) for lst in lists}) > 1:
            lines.append(f"  number of {what}s: " + ", ".join(
                f"rank {ranks[r]}: {len(lst)}" for r, lst in enumerate(lists)))
        lines.append(f"  ranks that differ from rank {ranks[0]}: {differ}. {hint}")
        raise RuntimeError("\n".join(lines))


_ALIGN = 16


def _byte_layout(arrays):
    """(offsets, total bytes) of the arrays packed one after another, each 16-byte aligned."""
    offs, pos = [], 0
    for a in arrays:
        offs.append(pos)
        pos += -(-int(a.nbytes) // _ALIGN) * _ALIGN
    return offs, pos


def _as_bytes(xp, a):
    return xp.ascontiguousarray(a).reshape(-1).view(xp.uint8)


def _broadcast_arrays(arrays, root, pg, on_change=None):
    """Make ``arrays`` (numpy/cupy, any dtype) equal to global rank ``root``'s, in place, with one
    broadcast per array module. On the other ranks each array whose bytes change is written and
    ``on_change(i)`` is called (to bump a version counter); unchanged arrays are left alone."""
    if pg.size() <= 1 or not arrays:
        return
    is_root = pg.rank() == pg.group_rank(root)
    groups = {}
    for i, a in enumerate(arrays):
        groups.setdefault(_backend.get_array_module(a), []).append(i)
    for xp, idxs in groups.items():
        sub = [arrays[i] for i in idxs]
        offs, total = _byte_layout(sub)
        flat = xp.zeros(total, xp.uint8)
        if is_root:
            for a, o in zip(sub, offs):
                flat[o:o + a.nbytes] = _as_bytes(xp, a)
        _coll.broadcast(flat, src=root, group=pg)
        if is_root:
            continue
        for i, a, o in zip(idxs, sub, offs):
            seg = flat[o:o + a.nbytes]
            if bool(xp.array_equal(seg, _as_bytes(xp, a))):
                continue
            a[...] = seg.view(a.dtype).reshape(a.shape)
            if on_change is not None:
                on_change(i)


def _bump(t):
    if isinstance(t, Tensor):
        t._version_counter[0] += 1


def _root_of(pg, root_rank):
    return pg.world_ranks[0] if root_rank is None else int(root_rank)


# --------------------------------------------------------------------------- broadcasts


def broadcast_parameters(params, root_rank: int = 0, group=None) -> None:
    """Copy ``root_rank``'s values into every rank's tensors, in place (one broadcast).

    ``params``: a ``state_dict()`` (a mapping name -> tensor, buffers included), an iterable of
    ``(name, tensor)`` pairs (``model.named_parameters()``), or an iterable of tensors. Mappings
    are taken in sorted key order (as Horovod does), so insertion order does not matter. Every
    rank must pass the same names, shapes and dtypes; otherwise every rank raises an error naming
    the first difference (nothing hangs). Changed tensors get their version counter bumped.
    """
    pg = _pgm._resolve(group)
    if not pg.is_member:
        return
    if hasattr(params, "items"):
        named = sorted(params.items(), key=lambda kv: str(kv[0]))
    else:
        named = []
        for i, item in enumerate(params):
            if isinstance(item, tuple) and len(item) == 2:
                named.append(item)
            else:
                named.append((f"#{i}", item))
    for name, t in named:
        if not isinstance(t, Tensor) and not hasattr(t, "dtype"):
            raise TypeError(f"broadcast_parameters: entry '{name}' is a {type(t).__name__}, not a "
                            f"tensor")
    if pg.size() <= 1:
        return
    _check_same_across_ranks(pg, [("tensor", _describe(named))], "broadcast_parameters",
                             "Every rank must pass the same tensors (build the same model).")
    tensors = [t for _, t in named]
    _broadcast_arrays([_array_of(t) for t in tensors], _root_of(pg, root_rank), pg,
                      on_change=lambda i: _bump(tensors[i]))


class _TensorSlot:
    """Stands for a tensor in the optimizer-state structure broadcast by the root."""

    __slots__ = ("index", "shape", "dtype")

    def __init__(self, index, shape, dtype):
        self.index, self.shape, self.dtype = index, shape, dtype

    def __getstate__(self):
        return (self.index, self.shape, self.dtype)

    def __setstate__(self, state):
        self.index, self.shape, self.dtype = state


def _skeleton(obj, tensors):
    """``obj`` with every tensor/array replaced by a :class:`_TensorSlot` (collected in order)."""
    if isinstance(obj, (Tensor, np.ndarray)) or hasattr(obj, "__cuda_array_interface__"):
        a = _array_of(obj)
        tensors.append(a)
        return _TensorSlot(len(tensors) - 1, tuple(a.shape), str(a.dtype))
    if isinstance(obj, dict):
        return {k: _skeleton(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_skeleton(v, tensors) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_skeleton(v, tensors) for v in obj)
    return obj


def _fill(obj, arrays):
    if isinstance(obj, _TensorSlot):
        return Tensor._wrap(arrays[obj.index])
    if isinstance(obj, dict):
        return {k: _fill(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, arrays) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_fill(v, arrays) for v in obj)
    return obj


def broadcast_optimizer_state(optimizer, root_rank: int = 0, group=None) -> None:
    """Make every rank's optimizer state (``state`` and ``param_groups`` hyper-parameters) equal
    to ``root_rank``'s: the root's ``state_dict()`` structure is broadcast as an object (tensors
    replaced by their shape and dtype), then all its tensors in one broadcast, and every other
    rank loads the result with ``load_state_dict``. Ranks whose optimizer has not created its
    state yet (no step taken) get the root's state. Works for a :class:`DistributedOptimizer`
    too. The parameter groups must have the same sizes on every rank."""
    pg = _pgm._resolve(group)
    if not pg.is_member or pg.size() <= 1:
        return
    root = _root_of(pg, root_rank)
    is_root = pg.rank() == pg.group_rank(root)
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    _check_same_across_ranks(pg, [("parameter group", [(f"param_groups[{i}]", (n,), "params")
                                                        for i, n in enumerate(sizes)])],
                             "broadcast_optimizer_state",
                             "Every rank must build the same optimizer.")
    tensors = []
    if is_root:
        skeleton = _skeleton(optimizer.state_dict(), tensors)
        specs = [(tuple(a.shape), str(a.dtype)) for a in tensors]
        payload = pickle.dumps((skeleton, specs), protocol=pickle.HIGHEST_PROTOCOL)
        box = [payload]
    else:
        box = [None]
    _coll.broadcast_object_list(box, src=root, group=pg)
    skeleton, specs = pickle.loads(box[0])
    if is_root:
        arrays = tensors
    else:
        xp = np
        for g in optimizer.param_groups:
            if g["params"]:
                xp = _backend.get_array_module(g["params"][0]._data)
                break
        arrays = [xp.zeros(shape, dtype=np.dtype(dtype)) for shape, dtype in specs]
    _broadcast_arrays(arrays, root, pg)
    if not is_root:
        optimizer.load_state_dict(_fill(skeleton, arrays))


# --------------------------------------------------------------------------- the optimizer


class _Flat:
    """The reusable flat buffer of one (array module, dtype): gradients, then one used flag per
    parameter (so "no rank has a gradient" needs no extra collective). ``views`` are tensors
    over each parameter's slice: its preallocated gradient storage, so that backward puts new
    gradients straight into the buffer (no packing) and they are averaged in place."""

    __slots__ = ("xp", "dtype", "idx", "offsets", "total", "buf", "views")

    def __init__(self, xp, dtype):
        self.xp, self.dtype = xp, dtype
        self.idx, self.offsets, self.total, self.buf, self.views = [], [], 0, None, []


class DistributedOptimizer(Optimizer):
    """Wraps ``optimizer``; ``step()`` averages the gradients over the ranks, then steps.

    Args:
        optimizer: any distgrad optimizer (its ``param_groups``, ``state``, ``defaults``,
            ``state_dict``, ``load_state_dict``, ``zero_grad`` are used through this object).
        named_parameters: ``model.named_parameters()`` (names appear in error messages and
            in the cross-rank check; default: ``param_groups[g][i]``). If given, it must name
            every parameter of the optimizer.
        backward_passes_per_step: how many backward passes may accumulate gradients before
            each ``step()`` (gradient accumulation); one more raises an error.
        op: ``ReduceOp.AVG`` (default) or ``ReduceOp.SUM``.
        process_group: the group to average over (default: the world).

    ``synchronize()`` does the all-reduce now (e.g. to clip the averaged gradients); then
    call ``step()`` inside ``with opt.skip_synchronize():`` (or just ``step()``: a step right
    after ``synchronize()`` does not reduce again). ``zero_grad()`` also restarts the count of
    backward passes.
    """

    def __init__(self, optimizer, named_parameters=None, backward_passes_per_step: int = 1,
                 op=ReduceOp.AVG, process_group=None):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer wraps a distgrad optimizer, got "
                            f"{type(optimizer).__name__}")
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("the optimizer is already a DistributedOptimizer")
        if int(backward_passes_per_step) < 1:
            raise ValueError(f"backward_passes_per_step must be >= 1, got "
                             f"{backward_passes_per_step}")
        if op is not ReduceOp.AVG and op is not ReduceOp.SUM:
            raise ValueError(f"DistributedOptimizer: op must be ReduceOp.AVG or ReduceOp.SUM, "
                             f"got {op!r}")
        d = self.__dict__
        d["optimizer"] = optimizer
        d["backward_passes_per_step"] = int(backward_passes_per_step)
        d["op"] = op
        pg = _pgm._resolve(process_group)
        d["process_group"] = pg
        d["_world"] = pg.size() if pg.is_member else 1
        d["_given_names"] = None
        if named_parameters is not None:
            given = {}
            for item in named_parameters:
                if not (isinstance(item, tuple) and len(item) == 2):
                    raise ValueError("named_parameters should be a sequence of (name, "
                                     "parameter) tuples, usually model.named_parameters()")
                name, p = item
                if id(p) in given and given[id(p)] != name:
                    continue  # a shared parameter: keep its first name
                given[id(p)] = name
            names = list(given.values())
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"named_parameters contains duplicate names: {dupes}")
            d["_given_names"] = given
        d["_params"] = []
        d["_names"] = []
        d["_counts"] = []
        d["_index"] = {}
        d["_handles"] = []
        d["_flats"] = None
        d["_synchronized"] = False
        d["_skip_sync"] = False
        self._scan_params()

    # -- delegation -------------------------------------------------------------------------
    @property
    def param_groups(self):
        """The wrapped optimizer's ``param_groups``."""
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value):
        self.optimizer.param_groups = value

    @property
    def state(self):
        """The wrapped optimizer's ``state``."""
        return self.optimizer.state

    @state.setter
    def state(self, value):
        self.optimizer.state = value

    @property
    def defaults(self):
        """The wrapped optimizer's ``defaults``."""
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, value):
        self.optimizer.defaults = value

    def __getattr__(self, name):
        # only reached for attributes this object lacks: the wrapped optimizer's own
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.__dict__["optimizer"], name)

    def state_dict(self):
        """The wrapped optimizer's ``state_dict()``."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        """Load ``state_dict`` into the wrapped optimizer."""
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group):
        """Add a param group to the wrapped optimizer and start tracking its new parameters."""
        self.optimizer.add_param_group(param_group)
        if "_params" in self.__dict__:
            self._scan_params()

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r})"

    # -- parameters and hooks ---------------------------------------------------------------
    def _scan_params(self):
        """Register the counting hook on parameters not seen yet; check names across ranks."""
        given = self._given_names
        for g, group in enumerate(self.optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                if id(p) in self._index or not p.requires_grad:
                    continue
                if given is not None:
                    if id(p) not in given:
                        raise ValueError(
                            f"DistributedOptimizer: named_parameters was given but parameter "
                            f"param_groups[{g}][{i}] (shape {tuple(p.shape)}) is not in it; "
                            f"pass the named_parameters() of the model the optimizer trains")
                    name = given[id(p)]
                else:
                    name = f"param_groups[{g}][{i}]"
                k = len(self._params)
                self._index[id(p)] = k
                self._params.append(p)
                self._names.append(name)
                self._counts.append(0)
                if p.grad_fn is None:
                    self._handles.append(
                        p.register_post_accumulate_grad_hook(self._make_hook(k)))
        self.__dict__["_flats"] = None
        _check_same_across_ranks(self.process_group,
                                 [("parameter", _describe(zip(self._names, self._params)))],
                                 "DistributedOptimizer",
                                 "Every rank must build the same model and optimizer.")

    def _make_hook(self, k):
        ref = weakref.ref(self)

        def _count_backward_pass(param):
            me = ref()
            if me is None:
                return
            counts = me._counts
            counts[k] += 1
            if counts[k] > me.backward_passes_per_step:
                n = counts[k]
                counts[k] = me.backward_passes_per_step  # keep the object usable
                raise RuntimeError(
                    f"DistributedOptimizer: gradients of '{me._names[k]}' were computed {n} "
                    f"times since the last step(), but backward_passes_per_step="
                    f"{me.backward_passes_per_step}. Call optimizer.step() after every "
                    f"{me.backward_passes_per_step} backward pass(es) (and zero_grad() when "
                    f"you skip a step), or pass a larger backward_passes_per_step to "
                    f"accumulate gradients over more backward passes.")
        return _count_backward_pass

    def __del__(self):
        params = self.__dict__.get("_params", ())
        for f in self.__dict__.get("_flats") or ():
            release_grad_storage([params[k] for k in f.idx], f.views)

    def _remove_hooks(self):
        for h in self._handles:
            h.remove()
        self._handles.clear()

    # -- the reduction ----------------------------------------------------------------------
    def _layout(self):
        flats = {}
        for k, p in enumerate(self._params):
            key = (_backend.get_array_module(p._data), p._data.dtype, str(p.device))
            f = flats.get(key)
            if f is None:
                f = flats[key] = _Flat(key[0], key[1])
            f.idx.append(k)
            f.offsets.append(f.total)
            f.total += int(p._data.size)
        for f in flats.values():
            n = f.total + len(f.idx)
            f.buf = (_coll.reduction_buffer(self.process_group, n, f.dtype)[0]
                     if f.xp is np else f.xp.zeros(n, dtype=f.dtype))
            for k, o in zip(f.idx, f.offsets):
                p = self._params[k]
                view = Tensor._wrap(f.buf[o:o + p._data.size].reshape(p._data.shape))
                f.views.append(view)
                p._grad_dest = view
        self.__dict__["_flats"] = list(flats.values())
        return self._flats

    def synchronize(self):
        """All-reduce the gradients now (one fused all-reduce per dtype); resets the count
        of backward passes."""
        if self._world > 1:
            flats = self._flats or self._layout()
            for f in flats:
                self._reduce_flat(f)
        for k in range(len(self._counts)):
            self._counts[k] = 0
        self.__dict__["_synchronized"] = True

    def _reduce_flat(self, f):
        """All-reduce one flat buffer: gradients that backward put in their views are reduced
        in place; others are copied in and the result copied back."""
        buf, params, total = f.buf, self._params, f.total
        for j, (k, view) in enumerate(zip(f.idx, f.views)):
            g = params[k]._grad
            if g is None:
                view._data.fill(0)
                buf[total + j] = 0
            else:
                if g is not view:
                    view._data[...] = g._data
                buf[total + j] = 1
        # (AVG also divides the used flags: still > 0 where some rank had a gradient)
        _coll.all_reduce(buf, op=self.op, group=self.process_group)
        used = _backend.to_device(buf[total:], _backend.CPU) > 0
        for j, (k, view) in enumerate(zip(f.idx, f.views)):
            p = params[k]
            g = p._grad
            if g is None:
                if used[j]:
                    p._grad = view
            else:
                if g is not view:
                    g._data[...] = view._data
                g._version_counter[0] += 1

    @contextlib.contextmanager
    def skip_synchronize(self):
        """``step()`` inside this block does not all-reduce (after a manual
        ``synchronize()``)."""
        self.__dict__["_skip_sync"] = True
        try:
            yield
        finally:
            self.__dict__["_skip_sync"] = False

    def step(self, closure=None):
        """All-reduce the gradients (unless ``synchronize()`` just did), then step the
        wrapped optimizer. Returns the closure's loss (the closure runs first, so its
        backward pass is included in the reduction)."""
        loss = None
        if closure is not None:
            loss = self._closure_loss(closure)
            closure = None
        if not (self._skip_sync or self._synchronized):
            self.synchronize()
        self.__dict__["_synchronized"] = False
        out = self.optimizer.step()
        return loss if loss is not None else out

    def zero_grad(self, set_to_none: bool = True):
        """The wrapped optimizer's ``zero_grad``; also restarts the backward-pass count."""
        self.optimizer.zero_grad(set_to_none=set_to_none)
        for k in range(len(self._counts)):
            self._counts[k] = 0
        self.__dict__["_synchronized"] = False
