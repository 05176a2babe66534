"""``DistributedDataParallel``: data-parallel training by wrapping the model (PyTorch's DDP).

Each rank runs the same model on its own shard of the batch; DDP averages the gradients over the
ranks during ``backward()``, so ``optimizer.step()`` applies the same update everywhere and the
replicas stay identical (bit for bit: every rank reduces the same buckets in the same order)::

    dist.init_process_group()
    model = DistributedDataParallel(Net())          # broadcasts rank 0's parameters and buffers
    opt = distgrad.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:                              # DataLoader(sampler=DistributedSampler(ds))
        opt.zero_grad()                              # set_to_none=True is supported
        loss_fn(model(x), y).backward()              # gradients are averaged over the ranks here
        opt.step()

How it works
------------
* **Same model everywhere.** The constructor checks with one allgather that every rank has the
  same parameter and buffer names, shapes and dtypes in the same order; a mismatch raises the
  same error on every rank, naming the first differing parameter and the ranks (no hang). Then
  rank 0's parameters and buffers are broadcast (ranks may start from different seeds).
* **One flat gradient buffer per dtype (and device).** Every ``param.grad`` is a view into it.
  Each view is also the parameter's preallocated gradient storage (``grad_destination`` in
  ``autograd/graph.py``): when ``.grad`` is None (after ``zero_grad()``), backward puts the new
  gradient straight into the view (``linear`` computes its weight and bias gradients into it,
  other formulas' results are copied in); otherwise it accumulates into ``.grad`` in place.
  Buckets (``bucket_cap_mb``, default 25 MiB; the first one ``first_bucket_mb``, 1 MiB) are
  contiguous slices of it, filled in *reverse registration order* (roughly the order in which
  backward produces gradients). There is no pack/unpack copy.
* **Overlap** (``overlap=True``). A post-accumulate-grad hook on each parameter marks it ready
  and divides its gradient slot by the world size (while it is still in cache; the all-reduces
  then sum, so there is no extra pass over the buffer afterwards). When a bucket is complete, a
  non-blocking all-reduce (``Iallreduce``) of that slice starts. Buckets are launched in bucket
  order on every rank, never in readiness order (a bucket that fills early waits for the earlier
  ones), so all ranks issue the same collectives in the same order. The hooks also call ``Test``
  on the oldest outstanding request to let MPI progress. At the end of backward (an engine
  callback) every bucket is waited for. On a machine where each rank has one core, MPI cannot
  progress in the background and the communication mostly runs at that final wait; the result
  is the same. Buffers in node shared memory (every rank on one node, see
  ``backends/shm.py``) are reduced by the ranks themselves, nothing runs in the background, so
  they always take the simple path below: launching buckets midway would only make the ranks
  wait for each other during backward. Their hooks do not divide either: the reduction
  averages (``ReduceOp.AVG``), dividing each chunk of the sum while it is in cache. Instead
  the hooks *publish* each newly complete run of buckets in bucket order: a rank that reaches
  the end of backward first starts reducing those while the others still compute the rest
  (the work is claimed unit by unit by whichever rank is free).
* **Simple path** (``overlap=False``): the hooks only record which parameters got gradients (and
  divide them); the end-of-backward callback runs one blocking all-reduce of each flat buffer.
* **World of one** (no launcher): no hooks, no communication, no MPI import; gradients are still
  views into the flat buffer and everything else runs the same code, as fast as without DDP.

Details and caveats
-------------------
* ``state_dict()``/``load_state_dict()`` have the *wrapped module's* keys: no ``module.``
  prefix (a long-standing PyTorch pain point). A checkpoint saved from ``ddp`` loads into the
  bare model and vice versa; ``load_state_dict`` also accepts keys with a ``module.`` prefix
  (from PyTorch-style checkpoints) and strips it. ``parameters()``/``named_parameters()``/
  ``buffers()`` are the wrapped module's (same tensors, same names), so an optimizer built on
  ``ddp.parameters()`` or ``module.parameters()`` is the same.
* ``zero_grad(set_to_none=True)`` (the default of ``Optimizer.zero_grad`` and
  ``Module.zero_grad``) is supported and is the fast way: backward writes the new gradient into
  the view, with no zeroing pass and no addition. As with PyTorch's ``gradient_as_bucket_view``,
  a ``.grad`` tensor kept from an earlier step is that view and changes with the next backward
  (``clone()`` it to keep it). If ``.grad`` is some other tensor when backward reaches the
  parameter (assigned by the user), its value is copied into the view and ``.grad`` re-pointed,
  so results are the same, only a copy slower.
* Do not change parameters after wrapping (``.to()``, ``.double()``, ``load_state_dict(...,
  assign=True)``, adding parameters): wrap the finished model. ``create_graph=True`` (double
  backward) through DDP is not supported.
* ``no_sync()``: gradients accumulate locally in backward passes of forwards run inside the
  context. **Run the forward inside it too**: whether a backward synchronizes is decided by the
  flag at the time of the forward (as in PyTorch). The first forward/backward after the context
  synchronizes the accumulated sum.
* ``find_unused_parameters=True``: parameters that got no gradient in this backward are marked
  ready at the end (their slot holds their current gradient, zero if none), so every bucket is
  reduced; a parameter that got no gradient on *any* rank keeps ``grad=None`` (one extra tiny
  all-reduce of a used-flag map). Without it, a parameter that gets no gradient makes backward
  raise an error naming it (after completing the collectives, so other ranks do not hang).
* ``broadcast_buffers=True``: rank 0's buffers (e.g. BatchNorm running statistics) are
  broadcast at each forward **in training mode** (one coalesced broadcast). In eval mode nothing
  is broadcast: buffers do not change in eval, and evaluation may run a different number of
  batches per rank (exact sharding), where a collective per forward would hang. A buffer is
  written (and its version counter bumped) only if its bytes actually change, so a graph from an
  earlier forward that saved an unchanged buffer stays valid (no "modified by an inplace
  operation" error on two forwards before one backward, PyTorch issue #22095).
* ``DISTGRAD_DEBUG=1``: after the first synchronized step and every ``DISTGRAD_DEBUG_EVERY``
  (default 100) steps, the next training forward checks that the replicas are identical (one
  allgather of a hash per parameter) and raises on every rank naming the first parameter that
  diverged. ``ddp.verify_replicas()`` runs the check on demand.
"""

from __future__ import annotations

import contextlib
import os
import warnings
import weakref
import zlib
from collections import OrderedDict

import numpy as np

from .. import _backend
from ..autograd.engine import queue_callback
from ..autograd.graph import release_grad_storage
from ..autograd.grad_mode import is_grad_enabled
from ..futures import Future
from ..nn.modules.module import Module
from ..tensor import Tensor
from . import collectives as _coll
from . import process_group as _pgm
from .backends import divide
from .collectives import ReduceOp
from .optimizer import _broadcast_arrays, _check_same_across_ranks

__all__ = ["DistributedDataParallel"]

_MiB = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25
_DEFAULT_FIRST_BUCKET_MB = 1
_HINT = ("Every rank must build the same model: the same parameters and buffers, with the same "
         "names, shapes and dtypes, registered in the same order.")


class _Flat:
    """One flat gradient buffer (one dtype on one device)."""

    __slots__ = ("xp", "dtype", "device", "size", "data", "shared")

    def __init__(self, xp, dtype, device):
        self.xp, self.dtype, self.device = xp, dtype, device
        self.size = 0
        self.data = None
        self.shared = False  # in node shared memory (backends/shm.py)


class _Bucket:
    """A contiguous slice ``[start, end)`` of one flat buffer, reduced by one all-reduce."""

    __slots__ = ("index", "flat", "start", "end", "members", "nbytes", "cap", "pending", "work",
                 "data")

    def __init__(self, index, flat, start):
        self.index, self.flat, self.start, self.end = index, flat, start, start
        self.members = []  # parameter indices, in layout (reverse registration) order
        self.nbytes = 0
        self.cap = 0
        self.pending = 0
        self.work = None
        self.data = None


def _zeros(xp, n, dtype, device, pg):
    """``(array, shared)``: a zeroed flat buffer, and whether it is in node shared memory."""
    if xp is np:
        return _coll.reduction_buffer(pg, n, dtype)
    with xp.cuda.Device(device.index or 0):
        return xp.zeros(n, dtype), False


class _Reducer:
    """The gradient machinery of one DDP instance: flat buffers, buckets, hooks, rounds.

    A *round* is one synchronized backward pass: it starts at the first grad-ready hook and
    ends in the engine callback queued then.
    """

    def __init__(self, names, params, pg, bucket_cap, first_cap, overlap, find_unused, as_view):
        self.names, self.params = names, params
        self.pg = pg
        self.world = pg.size()
        self.overlap = overlap
        self.find_unused = find_unused
        self.as_view = as_view
        n = len(params)
        self.flats = []
        self.buckets = []
        self.bucket_of = [None] * n
        self.slots = [None] * n  # the array slice of each parameter's gradient in its flat buffer
        self.views = [None] * n  # Tensor wrappers of self.slots (the .grad objects)
        self._layout(bucket_cap, first_cap)
        self.ready = [0] * n  # round id in which each parameter was marked ready
        self.round = 0
        self.active = False
        self.num_ready = 0
        self.next_launch = 0
        self.next_test = 0
        self.sync = True  # does the next backward synchronize (set by each forward)
        self.num_syncs = 0
        self.comm_hook = None  # (state, hook) of register_comm_hook
        self.handles = []
        if self.world > 1:
            ref = weakref.ref(self)
            for i, p in enumerate(params):
                self.handles.append(p.register_post_accumulate_grad_hook(_make_hook(ref, i)))

    def __del__(self):
        for h in getattr(self, "handles", ()):
            try:
                h.remove()
            except Exception:
                pass
        release_grad_storage(getattr(self, "params", ()), getattr(self, "views", ()))

    # -- layout ----------------------------------------------------------------------------------
    def _layout(self, bucket_cap, first_cap):
        flats = {}
        open_bucket = {}
        offsets = [0] * len(self.params)
        for i in reversed(range(len(self.params))):
            p = self.params[i]
            a = p._data
            dev = _backend.device_of(a)
            key = (a.dtype, str(dev))
            f = flats.get(key)
            if f is None:
                f = flats[key] = _Flat(_backend.get_array_module(a), a.dtype, dev)
                self.flats.append(f)
            offsets[i] = f.size
            b = open_bucket.get(key)
            if b is None:
                first = not any(bk.flat is f for bk in self.buckets)
                b = _Bucket(len(self.buckets), f, f.size)
                b.cap = first_cap if first else bucket_cap
                self.buckets.append(b)
                open_bucket[key] = b
            f.size += int(a.size)
            b.members.append(i)
            b.end = f.size
            b.nbytes += int(a.nbytes)
            self.bucket_of[i] = b
            if b.nbytes >= b.cap:
                open_bucket[key] = None
        for f in self.flats:
            f.data, f.shared = _zeros(f.xp, f.size, f.dtype, f.device, self.pg)
        shared = any(f.shared for f in self.flats)
        # Buffers in shared memory are reduced by the ranks' own threads when the all-reduce is
        # called; launching buckets during backward would only make the ranks wait for each
        # other midway. They are reduced in one call at the end of backward instead, which also
        # divides by the world size as it goes (ReduceOp.AVG), while each chunk is in cache.
        # During backward the hooks only publish each completed run of buckets, so that a rank
        # already in that call can reduce them while the others compute the rest.
        self.overlap = self.overlap and not shared
        self.publish = shared
        self.divide_early = not shared
        for b in self.buckets:
            b.data = b.flat.data[b.start:b.end]
        self.flat_xp = [self.bucket_of[i].flat.xp for i in range(len(self.params))]
        for i, p in enumerate(self.params):
            f = self.bucket_of[i].flat
            o = offsets[i]
            slot = f.data[o:o + p._data.size].reshape(p._data.shape)
            self.slots[i] = slot
            self.views[i] = Tensor._wrap(slot)
            g = p._grad
            if self.as_view:
                if g is not None:
                    slot[...] = g._data
                p._grad = self.views[i]
                p._grad_dest = self.views[i]  # backward writes a new gradient straight here
            elif g is not None:
                slot[...] = g._data

    def set_comm_hook(self, state, hook):
        """Reduce the buckets with ``hook(state, GradBucket) -> Future[Tensor]`` from now on."""
        if self.comm_hook is not None:
            raise RuntimeError("register_comm_hook can only be called once.")
        if self.active:
            raise RuntimeError("register_comm_hook cannot be called during a backward pass")
        self.comm_hook = (state, hook)
        # the hook averages (PyTorch's allreduce_hook divides, then sums) and is called once
        # per bucket at the end of backward, in bucket order on every rank
        self.overlap = self.publish = self.divide_early = False

    # -- backward --------------------------------------------------------------------------------
    def _start_round(self):
        self._new_round()
        queue_callback(self._end_of_backward)

    def _new_round(self):
        """Reset the counters for a new synchronized backward pass."""
        self.round += 1
        self.active = True
        self.num_ready = 0
        self.next_launch = self.next_test = 0
        for b in self.buckets:
            b.pending = len(b.members)
            b.work = None

    def grad_ready(self, i, p):
        """The post-accumulate-grad hook of parameter ``i``."""
        g = p._grad
        separate = None  # a gradient array outside the flat buffer, to move into its slot
        if self.as_view:
            v = self.views[i]
            if g is not v:
                if g is not None:
                    separate = g._data
                p._grad = v
        if not self._mark_ready(i):
            if separate is not None:
                self.slots[i][...] = separate
            return
        slot = self.slots[i]
        src = separate if separate is not None else slot if self.as_view else g._data
        if self.divide_early:
            # Divide by the world size now, while the fresh gradient is in cache (the
            # all-reduce then sums), fused with the copy when the gradient was separate.
            divide(src, self.world, slot, self.flat_xp[i])
        elif src is not slot:
            slot[...] = src
        if self.overlap:
            b = self.bucket_of[i]
            b.pending -= 1
            if b.pending == 0 and b.index == self.next_launch:
                self._launch_ready()
            elif self.next_test < self.next_launch:
                self._progress()
        elif self.publish:
            b = self.bucket_of[i]
            b.pending -= 1
            if b.pending == 0 and b.index == self.next_launch:
                self._publish_ready()

    def _mark_ready(self, i) -> bool:
        """Count parameter ``i`` as ready in this round; False when this backward does not
        synchronize or ``i`` was already counted."""
        if not self.sync:
            return False
        if not self.active:
            self._start_round()
        if self.ready[i] == self.round:
            return False
        self.ready[i] = self.round
        self.num_ready += 1
        return True

    def _newly_complete(self):
        """The buckets that extend the leading run of complete ones, in bucket order (each is
        handed out once per round)."""
        buckets = self.buckets
        while self.next_launch < len(buckets) and buckets[self.next_launch].pending == 0:
            self.next_launch += 1
            yield buckets[self.next_launch - 1]

    def _launch_ready(self):
        for b in self._newly_complete():
            b.work = _coll.all_reduce(b.data, op=ReduceOp.SUM, group=self.pg, async_op=True)

    def _publish_ready(self):
        """Publish the newly complete buckets as final on this rank (buffers in node shared
        memory: another rank may reduce them from now on)."""
        for b in self._newly_complete():
            if b.flat.shared:
                _coll.reduction_progress(self.pg, b.flat.data, b.end)

    def _progress(self):
        buckets = self.buckets
        k = self.next_test
        while k < self.next_launch and buckets[k].work.is_completed():
            k += 1
        self.next_test = k

    def _end_of_backward(self):
        try:
            self._finish_round()
        finally:
            self.active = False

    def _finish_round(self):
        rid = self.round
        params = self.params
        missing = []
        if self.num_ready != len(params):
            missing = [i for i in range(len(params)) if self.ready[i] != rid]
        used = None
        if self.find_unused:
            used = np.ones(len(params), np.uint8)
            for i in missing:
                if params[i]._grad is None:
                    used[i] = 0
        for i in missing:  # their slots take part in the reduction: current gradient, or zero
            g = params[i]._grad
            slot = self.slots[i]
            if g is None:
                slot.fill(0)
                continue
            if g is not self.views[i]:
                slot[...] = g._data
                if self.as_view:
                    params[i]._grad = self.views[i]
            if self.divide_early:
                divide(slot, self.world, slot, self.flat_xp[i])
        if self.comm_hook is not None:
            self._run_comm_hook()
        elif self.overlap:
            for i in missing:
                self.bucket_of[i].pending -= 1
            self._launch_ready()
            for b in self.buckets:
                b.work.wait()
        else:
            op = ReduceOp.SUM if self.divide_early else ReduceOp.AVG
            for f in self.flats:
                _coll.all_reduce(f.data, op=op, group=self.pg)
        if used is not None:
            _coll.all_reduce(used, op=ReduceOp.MAX, group=self.pg)
        if not self.as_view:
            for i, p in enumerate(params):
                g = p._grad
                if g is not None:
                    g._data[...] = self.slots[i]
                    g._version_counter[0] += 1
        for i in missing:
            p = params[i]
            if used is not None and not used[i]:
                # no rank computed a gradient: keep (or restore) grad=None, as without DDP
                p._grad = None
            elif p._grad is None:
                p._grad = self.views[i] if self.as_view else Tensor._wrap(self.slots[i].copy())
        self.num_syncs += 1
        if missing and not self.find_unused:
            names = [self.names[i] for i in missing]
            shown = ", ".join(f"'{n}'" for n in names[:10]) + (
                f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise RuntimeError(
                f"DistributedDataParallel: {len(names)} parameter(s) received no gradient in "
                f"this backward pass on rank {_pgm.get_rank()}: {shown}. They were not used to "
                f"compute the loss (or their gradient path was cut, e.g. by detach() or "
                f"no_grad). DDP needs a gradient for every parameter that requires grad in every "
                f"backward pass, because all ranks must reduce the same buckets. Pass "
                f"find_unused_parameters=True to DistributedDataParallel if the model uses a "
                f"different subset of parameters in some iterations, or set requires_grad=False "
                f"on parameters you never train (before wrapping). (The gradients of this pass "
                f"were still all-reduced, so other ranks do not hang.)")

    def _run_comm_hook(self):
        """Hand every bucket to the communication hook, then put each result in its bucket."""
        state, hook = self.comm_hook
        futures = []
        for b in self.buckets:
            fut = hook(state, GradBucket(b, self))
            if not isinstance(fut, Future):
                raise TypeError(f"the communication hook must return a distgrad.futures.Future, "
                                f"got {type(fut).__name__}")
            futures.append(fut)
        for b, fut in zip(self.buckets, futures):
            result = fut.wait()
            if not isinstance(result, Tensor):
                raise TypeError(f"the communication hook's future must hold the reduced bucket "
                                f"as a Tensor, got {type(result).__name__}")
            if result._data is not b.data:
                if tuple(result.shape) != b.data.shape:
                    raise RuntimeError(f"the communication hook returned a tensor of shape "
                                       f"{tuple(result.shape)} for bucket {b.index} of "
                                       f"{b.data.size} elements")
                b.data[...] = result._data

    def abandon_round(self):
        """A backward pass stopped midway (an exception): finish what was launched, reset."""
        if self.overlap:
            for b in self.buckets[:self.next_launch]:
                if b.work is not None:
                    b.work.wait()
        for f in self.flats:
            if self.publish and f.shared:  # what this pass published is void (on every rank)
                _coll.reduction_progress(self.pg, f.data, None)
        self.active = False
        warnings.warn("DistributedDataParallel: the previous backward pass did not finish (an "
                      "exception?); its gradients were not synchronized", RuntimeWarning,
                      stacklevel=4)

    # -- debug -----------------------------------------------------------------------------------
    def verify_replicas(self, step=None):
        """Raise on every rank if any parameter differs between the ranks (one allgather)."""
        if self.world <= 1:
            return
        n = len(self.params)
        local = np.zeros(2 * n, np.int64)
        for i, p in enumerate(self.params):
            a = np.ascontiguousarray(_backend.to_device(p._data, _backend.CPU))
            raw = a.reshape(-1).view(np.uint8)
            h = (zlib.crc32(raw) << 32) | zlib.adler32(raw)
            local[i] = h - (1 << 64) if h >= 1 << 63 else h
            local[n + i] = np.array(float(a.astype(np.float64).sum())).view(np.int64)
        table = np.zeros((self.world, 2 * n), np.int64)
        _coll.all_gather_into_tensor(table, local, group=self.pg)
        bad = np.nonzero((table[:, :n] != table[0, :n]).any(axis=0))[0]
        if bad.size == 0:
            return
        i = int(bad[0])
        ranks = self.pg.world_ranks
        differ = [ranks[r] for r in range(self.world) if table[r, i] != table[0, i]]
        sums = table[:, n + i].copy().view(np.float64)
        sums = ", ".join(f"rank {ranks[r]}: {float(sums[r])!r}" for r in range(self.world))
        when = "" if step is None else f" after {step} synchronized step(s)"
        raise RuntimeError(
            f"DistributedDataParallel (DISTGRAD_DEBUG): the model replicas have diverged{when}: "
            f"parameter '{self.names[i]}' (#{i}) on ranks {differ} differs from rank "
            f"{ranks[0]}'s ({bad.size} parameter(s) differ in all). Sums of its values: {sums}. "
            f"Every rank must apply the same update: same optimizer and hyper-parameters, no "
            f"rank-dependent changes to parameters or gradients outside DDP, no_sync() used on "
            f"every rank alike.")


class GradBucket:
    """One bucket of gradients, as a communication hook sees it (PyTorch's
    ``dist.GradBucket``): ``buffer()`` is the bucket's slice of the flat gradient buffer."""

    def __init__(self, bucket, reducer):
        self._bucket, self._reducer = bucket, reducer

    def index(self) -> int:
        """The bucket's position (bucket 0 holds the last registered parameters)."""
        return self._bucket.index

    def is_last(self) -> bool:
        """Whether this is the last bucket handed to the hook in this backward pass."""
        return self._bucket.index == len(self._reducer.buckets) - 1

    def buffer(self) -> Tensor:
        """The bucket's gradients, flat, as a tensor sharing their memory."""
        return Tensor._wrap(self._bucket.data)

    def set_buffer(self, tensor) -> None:
        """Overwrite the bucket's gradients with the flat ``tensor``."""
        self._bucket.data[...] = tensor._data if isinstance(tensor, Tensor) else tensor

    def gradients(self) -> list:
        """The gradient of each parameter of the bucket (views into ``buffer()``)."""
        return [self._reducer.views[i] for i in self._bucket.members]

    def parameters(self) -> list:
        """The parameters of the bucket, in the order of ``gradients()``."""
        return [self._reducer.params[i] for i in self._bucket.members]


def _make_hook(ref, i):
    def _ddp_grad_ready(param):
        reducer = ref()
        if reducer is not None:
            reducer.grad_ready(i, param)
    return _ddp_grad_ready


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training; see the module docstring.

    Args:
        module: the model (a ``distgrad.nn.Module``); wrap it after moving it to its device and
            dtype.
        device_ids, output_device, dim: accepted for PyTorch compatibility and ignored (the
            inputs are used where they are; one process per device).
        broadcast_buffers: broadcast rank 0's buffers at every training-mode forward.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: bucket size in MiB (default 25).
        first_bucket_mb: size of the first bucket in MiB (default 1, or ``bucket_cap_mb`` if
            smaller).
        find_unused_parameters: allow parameters that get no gradient in a backward pass.
        gradient_as_bucket_view: ``True`` (default): ``.grad`` is a view into the flat buffer.
            ``False``: ``.grad`` tensors are separate; they are copied into the buffer when ready
            and the averaged values copied back at the end of backward.
        overlap: ``True`` (default): bucketed non-blocking all-reduces launched from the
            gradient hooks. ``False``: one all-reduce per flat buffer after backward (what
            buffers in node shared memory always get: their reduction cannot run in the
            background).
        init_sync: broadcast rank 0's parameters and buffers at construction (default True).
        check_reduction, static_graph: accepted for compatibility and ignored.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=True, static_graph=False, overlap=True,
                 first_bucket_mb=None, init_sync=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a distgrad.nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("the module is already wrapped in DistributedDataParallel")
        pg = _pgm._resolve(process_group)
        if not pg.is_member:
            raise ValueError("DistributedDataParallel: this rank is not a member of "
                             "process_group")
        self.module = module
        self.process_group = pg
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.overlap = bool(overlap)
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.require_backward_grad_sync = True
        cap_mb = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else float(bucket_cap_mb)
        first_mb = _DEFAULT_FIRST_BUCKET_MB if first_bucket_mb is None else float(first_bucket_mb)
        if cap_mb <= 0 or first_mb <= 0:
            raise ValueError("bucket_cap_mb and first_bucket_mb must be positive")
        self.bucket_bytes_cap = max(1, int(cap_mb * _MiB))
        first_cap = min(max(1, int(first_mb * _MiB)), self.bucket_bytes_cap)
        world = pg.size()
        self._world = world
        self._rank = pg.rank()

        named = list(module.named_parameters())
        buffer_owners = []  # (module, name, qualified name): re-read each forward
        for mod_name, mod in module.named_modules():
            for bname, buf in mod._buffers.items():
                if buf is not None:
                    buffer_owners.append((mod, bname, (mod_name + "." if mod_name else "") + bname))
        self._buffer_owners = buffer_owners
        if world > 1:
            params_desc = [(n, tuple(p.shape), str(p.dtype) + ("" if p.requires_grad else
                                                                " (requires_grad=False)"))
                           for n, p in named]
            bufs_desc = [(q, tuple(m._buffers[b].shape), str(m._buffers[b].dtype))
                         for m, b, q in buffer_owners]
            _check_same_across_ranks(pg, [("parameter", params_desc), ("buffer", bufs_desc)],
                                     "DistributedDataParallel", _HINT)
            if init_sync:
                tensors = [p for _, p in named] + [m._buffers[b] for m, b, _ in buffer_owners]

                def bump(i):
                    tensors[i]._version_counter[0] += 1
                _broadcast_arrays([t._data for t in tensors], pg.world_ranks[0], pg,
                                  on_change=bump)
        trained = [(n, p) for n, p in named if p.requires_grad]
        self._reducer = _Reducer([n for n, _ in trained], [p for _, p in trained], pg,
                                 self.bucket_bytes_cap, first_cap, self.overlap,
                                 self.find_unused_parameters, self.gradient_as_bucket_view)
        debug = world > 1 and _pgm._state.debug
        self._debug_every = 0
        if debug:
            raw = os.environ.get("DISTGRAD_DEBUG_EVERY", "").strip()
            try:
                self._debug_every = max(1, int(raw)) if raw else 100
            except ValueError:
                raise ValueError(f"DISTGRAD_DEBUG_EVERY={raw!r} is not a number of steps") from None
        self._last_verified = 0

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        reducer = self._reducer
        if reducer.active:
            reducer.abandon_round()
        if is_grad_enabled():  # (a no_grad forward, e.g. for logging, leaves the flag alone)
            reducer.sync = self.require_backward_grad_sync
        if self._world > 1 and self.training:
            if self.broadcast_buffers and self._buffer_owners:
                self._sync_buffers()
            if self._debug_every:
                n = reducer.num_syncs
                if n != self._last_verified and (n == 1 or n % self._debug_every == 0):
                    self._last_verified = n
                    reducer.verify_replicas(step=n)
        return self.module(*inputs, **kwargs)

    def _sync_buffers(self):
        bufs = [m._buffers[b] for m, b, _ in self._buffer_owners]
        bufs = [b for b in bufs if b is not None]

        def bump(i):
            bufs[i]._version_counter[0] += 1
        _broadcast_arrays([b._data for b in bufs], self.process_group.world_ranks[0],
                          self.process_group, on_change=bump)

    def register_comm_hook(self, state, hook) -> None:
        """Reduce the gradient buckets with ``hook(state, bucket) -> Future`` instead of the
        built-in averaging all-reduce (PyTorch's ``register_comm_hook``). The hook gets a
        ``GradBucket`` and returns a ``distgrad.futures.Future`` of the reduced bucket (a Tensor),
        for instance ``dist.all_reduce(t, async_op=True).get_future().then(...)``; it must
        average, as ``distributed.algorithms.ddp_comm_hooks.default_hooks.allreduce_hook``
        does. Hooks run at the end of backward, bucket by bucket in the same order on every
        rank; not in a world of one, where DDP does not communicate. Call it once."""
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        self._reducer.set_comm_hook(state, hook)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally (no communication) in the backward passes of forwards
        run inside this context; run forward *and* backward inside it."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def verify_replicas(self):
        """Check now that every rank holds the same parameters (collective; raises on every
        rank, naming the first parameter that differs)."""
        self._reducer.verify_replicas()

    def bucket_info(self):
        """The buckets in launch order: dicts with ``index``, ``dtype``, ``nbytes`` and the
        ``params`` (names) they hold."""
        r = self._reducer
        return [{"index": b.index, "dtype": str(b.flat.dtype), "nbytes": b.nbytes,
                 "params": [r.names[i] for i in b.members]} for b in r.buckets]

    # -- delegation to the wrapped module (no "module." prefix) -----------------------------------
    def parameters(self, recurse: bool = True):
        """The wrapped module's parameters."""
        return self.module.parameters(recurse=recurse)

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """The wrapped module's ``named_parameters`` (names without a ``module.`` prefix)."""
        return self.module.named_parameters(prefix=prefix, recurse=recurse,
                                            remove_duplicate=remove_duplicate)

    def buffers(self, recurse: bool = True):
        """The wrapped module's buffers."""
        return self.module.buffers(recurse=recurse)

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """The wrapped module's ``named_buffers`` (names without a ``module.`` prefix)."""
        return self.module.named_buffers(prefix=prefix, recurse=recurse,
                                         remove_duplicate=remove_duplicate)

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's ``state_dict`` (same keys: no ``module.`` prefix)."""
        return self.module.state_dict(*args, destination=destination, prefix=prefix,
                                      keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load into the wrapped module (in place). Keys with a ``module.`` prefix (PyTorch DDP
        checkpoints) are accepted. Load on every rank (or load on rank 0 and call
        ``distgrad.distributed.broadcast_parameters(ddp.state_dict())``)."""
        if assign:
            raise ValueError("DistributedDataParallel.load_state_dict(assign=True) would replace "
                             "the parameters DDP manages; load into the module before wrapping")
        keys = list(state_dict.keys())
        if keys and all(isinstance(k, str) and k.startswith("module.") for k in keys):
            state_dict = OrderedDict((k[len("module."):], v) for k, v in state_dict.items())
        return self.module.load_state_dict(state_dict, strict=strict)
