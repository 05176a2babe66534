"""DDP on N ranks (run with mpiexec -n 2 and -n 3); every check asserts on every rank.

1. a model that differs on the last rank fails at construction on every rank, naming it
2. DDP == one process on the whole batch (float64, 1e-10, SGD with momentum), replicas
   bit-identical after every step; overlap on and off; zero_grad(set_to_none) True (with
   F.linear: gradients computed into the bucket views) and False; gradient_as_bucket_view=False
3. 120 parameter tensors in many buckets (tiny bucket_cap_mb); two dtypes
4. no_sync accumulation == the large batch; no communication inside no_sync
5. unused parameters: clear error naming them; find_unused_parameters=True works
6. state_dict keys have no prefix; load_state_dict accepts "module." keys
7. buffers: broadcast from rank 0 at each training forward, two forwards before one backward
8. an exception in the middle of a backward pass: the next forward recovers
9. SyncBatchNorm + DDP == BatchNorm on the whole batch (when distgrad.nn.functional exists)
"""
import copy
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
import distgrad.nn as nn  # noqa: E402
from ddp_common import (MLP, Dense, assert_identical_replicas, data, max_diff_to, mse,  # noqa: E402
                        params_hash, reference_train, shard)
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
dg.manual_seed(1000 + rank)  # every rank starts from different parameters

# -- 1. a model that differs on one rank --------------------------------------------------------
sizes = [5, 7, 3] if rank != world - 1 else [5, 8, 3]
try:
    DDP(MLP(sizes))
except RuntimeError as e:
    msg = str(e)
    assert "layers.0.weight" in msg, msg
    assert f"rank {world - 1}: 'layers.0.weight' with shape (8, 5)" in msg, msg
    assert f"ranks that differ from rank 0: [{world - 1}]" in msg, msg
else:
    raise AssertionError("a model that differs across ranks was accepted")
try:  # a missing parameter on rank 0 only
    DDP(MLP([5, 7, 3] if rank != 0 else [5, 3]))
except RuntimeError as e:
    assert "number of parameters: rank 0: 2" in str(e), str(e)
else:
    raise AssertionError("a model with fewer parameters on rank 0 was accepted")

# -- 2. DDP equals one process on the whole batch -----------------------------------------------
B = 24  # divisible by 2, 3 and 4, and its shards by 2
x, y = data(7, B, 6, 3)
xs, ys = shard(x, rank, world), shard(y, rank, world)
STEPS = 4
results = {}
for overlap in (True, False):
    for set_to_none in (True, False):
        for as_view in (True, False):
            if not as_view and not (overlap and set_to_none):
                continue
            dg.manual_seed(50 + rank)
            # F.linear computes the gradients straight into the bucket views when .grad is None
            model = MLP([6, 16, 16, 3], fused=set_to_none)
            ddp = DDP(model, overlap=overlap, gradient_as_bucket_view=as_view)
            assert_identical_replicas(model, "after construction")
            ref, trace = reference_train(model, x, y, STEPS)
            opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
            for step in range(STEPS):
                opt.zero_grad(set_to_none=set_to_none)
                loss = mse(ddp(xs), ys)
                loss.backward()
                if as_view:
                    w = model.layers[0].weight
                    assert w.grad is ddp._reducer.views[0], "grad is not the bucket view"
                opt.step()
                d = max_diff_to(model, trace[step])
                assert d <= 1e-10, (f"overlap={overlap} set_to_none={set_to_none} step {step}: "
                                    f"{d:.3e} from the single-process reference")
                assert_identical_replicas(model, f"overlap={overlap} step {step}")
            results[(overlap, set_to_none, as_view)] = [p.detach().numpy().copy()
                                                        for p in model.parameters()]
base = results[(True, True, True)]
for key, ps in results.items():
    d = max(float(np.max(np.abs(a - b))) for a, b in zip(ps, base))
    assert d <= 1e-12, f"{key} differs from overlap=True by {d:.3e}"

# zero_grad(set_to_none=True) between forward and backward (the grads are re-pointed in the hooks),
# and two backward passes in one step (retain_graph): both still equal the reference
for variant in ("zero_grad_after_forward", "two_backwards"):
    dg.manual_seed(60 + rank)
    model = MLP([6, 16, 3])
    ddp = DDP(model)
    ref, trace = reference_train(model, x, y, 3)
    opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        if variant == "zero_grad_after_forward":
            loss = mse(ddp(xs), ys)
            opt.zero_grad()
            loss.backward()
            assert model.layers[0].weight.grad is ddp._reducer.views[0]
        else:
            opt.zero_grad()
            out = ddp(xs)
            (mse(out, ys) * 0.25).backward(retain_graph=True)
            (mse(out, ys) * 0.75).backward()
        opt.step()
        d = max_diff_to(model, trace[step])
        assert d <= 1e-10, f"{variant} step {step}: {d:.3e}"
        assert_identical_replicas(model, f"{variant} step {step}")

# a second backward without zero_grad accumulates (in the view)
dg.manual_seed(3)
model = MLP([6, 4, 3])
ddp = DDP(model)
mse(ddp(xs), ys).backward()
g1 = model.layers[0].weight.grad.numpy().copy()
mse(ddp(xs), ys).backward()
assert np.allclose(model.layers[0].weight.grad.numpy(), 2 * g1, atol=1e-14)

# -- 3. many small parameters, many buckets, two dtypes -----------------------------------------
dg.manual_seed(77 + rank)
deep = MLP([4] * 61)  # 60 layers = 120 parameter tensors
ddp = DDP(deep, bucket_cap_mb=300 / 2 ** 20, first_bucket_mb=100 / 2 ** 20)
info = ddp.bucket_info()
assert len(info) >= 20, len(info)
assert info[0]["params"][0] == "layers.59.bias", info[0]  # reverse registration order
assert info[0]["nbytes"] < info[1]["nbytes"], info[:2]
assert sum(len(b["params"]) for b in info) == 120
x4, y4 = data(11, B, 4, 4)
ref, trace = reference_train(deep, x4, y4, 3, lr=0.1)
opt = dg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
for step in range(3):
    opt.zero_grad()
    mse(ddp(shard(x4, rank, world)), shard(y4, rank, world)).backward()
    opt.step()
    d = max_diff_to(deep, trace[step])
    assert d <= 1e-10, f"deep model step {step}: {d:.3e}"
    assert_identical_replicas(deep, f"deep model step {step}")


class Mixed(nn.Module):
    """float64 layers, then a float32 layer: two flat buffers."""

    def __init__(self):
        super().__init__()
        self.a = Dense(6, 8)
        self.b = Dense(8, 3, dtype=dg.float32)

    def forward(self, x):
        return self.b(self.a(x).tanh().float())


dg.manual_seed(5 + rank)
mixed = Mixed()
ddp = DDP(mixed, bucket_cap_mb=100 / 2 ** 20)
assert {b["dtype"] for b in ddp.bucket_info()} == {"float32", "float64"}
ref, trace = reference_train(mixed, x, y.float(), 3, loss_fn=lambda o, t: mse(o, t))
opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
for step in range(3):
    opt.zero_grad()
    mse(ddp(xs), shard(y.float(), rank, world)).backward()
    opt.step()
    d = max_diff_to(mixed, trace[step])
    assert d <= 1e-5, f"mixed dtypes step {step}: {d:.3e}"
    assert_identical_replicas(mixed, f"mixed step {step}")

# -- 4. no_sync accumulation equals the large batch ---------------------------------------------
dg.manual_seed(9 + rank)
model = MLP([6, 10, 3])
ddp = DDP(model)
ref, trace = reference_train(model, x, y, 2, momentum=0.0)
opt = dg.optim.SGD(ddp.parameters(), lr=0.05)
half = xs.shape[0] // 2
for step in range(2):
    opt.zero_grad()
    with ddp.no_sync():
        (mse(ddp(xs[:half]), ys[:half]) * 0.5).backward()
    local = [None] * world
    dist.all_gather_object(local, params_hash_grads := model.layers[0].weight.grad.numpy().tobytes())
    assert len(set(local)) == world, "no_sync communicated (the local gradients are equal)"
    (mse(ddp(xs[half:]), ys[half:]) * 0.5).backward()
    opt.step()
    d = max_diff_to(model, trace[step])
    assert d <= 1e-10, f"no_sync step {step}: {d:.3e}"
    assert_identical_replicas(model, f"no_sync step {step}")


# -- 5. unused parameters -----------------------------------------------------------------------
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = Dense(6, 3)
        self.unused = Dense(6, 3)  # never used
        self.rank0_only = Dense(6, 3)  # used on rank 0 only

    def forward(self, x, use_extra=False):
        out = self.used(x)
        if use_extra:
            out = out + self.rank0_only(x)
        return out


for overlap in (True, False):
    dg.manual_seed(21)
    model = Branchy()
    ddp = DDP(model, overlap=overlap)
    try:
        mse(ddp(xs), ys).backward()
    except RuntimeError as e:
        msg = str(e)
        assert "'unused.weight', 'unused.bias'" in msg and "find_unused_parameters=True" in msg, msg
        assert "'rank0_only.weight'" in msg, msg
    else:
        raise AssertionError("unused parameters did not raise")
    # the job is still usable afterwards
    ddp = DDP(model, overlap=overlap, find_unused_parameters=True)
    opt = dg.optim.SGD(ddp.parameters(), lr=0.1)
    for step in range(2):
        opt.zero_grad()  # set_to_none=True
        mse(ddp(xs, use_extra=(rank == 0)), ys).backward()
        assert model.unused.weight.grad is None and model.unused.bias.grad is None
        g = model.rank0_only.weight.grad
        assert g is not None, "a parameter used on rank 0 only must get the averaged gradient"
        opt.step()
        assert_identical_replicas(model, f"find_unused step {step}")
    # rank0_only's gradient is rank 0's gradient divided by the world size
    opt.zero_grad()
    mse(ddp(xs, use_extra=(rank == 0)), ys).backward()
    mine = model.rank0_only.weight.grad.numpy().copy()
    r0 = [None]
    if rank == 0:
        m2 = Branchy()
        m2.load_state_dict(model.state_dict())
        mse(m2(xs, use_extra=True), ys).backward()
        r0 = [m2.rank0_only.weight.grad.numpy() / world]
    dist.broadcast_object_list(r0, src=0)
    assert np.allclose(mine, r0[0], atol=1e-14), "rank-0-only gradient is not averaged correctly"

# -- 6. state_dict keys -------------------------------------------------------------------------
dg.manual_seed(1)
model = MLP([6, 4, 3])
ddp = DDP(model)
keys = list(ddp.state_dict().keys())
assert keys == list(model.state_dict().keys()) == ["layers.0.weight", "layers.0.bias",
                                                   "layers.1.weight", "layers.1.bias"], keys
assert [n for n, _ in ddp.named_parameters()] == [n for n, _ in model.named_parameters()]
assert all(a is b for a, b in zip(ddp.parameters(), model.parameters()))
sd = {"module." + k: v.detach().clone() * 0 + 1 for k, v in model.state_dict().items()}
ddp.load_state_dict(sd)
assert float(model.layers[0].weight.sum().item()) == 24.0
fresh = MLP([6, 4, 3])
fresh.load_state_dict(ddp.state_dict())
assert params_hash(fresh) == params_hash(model)


# -- 7. buffers ---------------------------------------------------------------------------------
class RunningStat(nn.Module):
    """Like BatchNorm: in training, an in-place running mean update (version bump); a buffer
    `scale` that is saved for backward (x * scale) and never changes."""

    def __init__(self, d):
        super().__init__()
        self.lin = Dense(d, 3)
        self.register_buffer("running", dg.zeros(d, dtype=dg.float64))
        self.register_buffer("scale", dg.ones(3, dtype=dg.float64) * 2.0)

    def forward(self, x):
        if self.training:
            self.running._data *= 0.9
            self.running._data += 0.1 * x._data.mean(axis=0)
            self.running._version_counter[0] += 1
        return self.lin(x) * self.scale


dg.manual_seed(2)
model = RunningStat(6)
ddp = DDP(model)
own = dg.tensor(np.full(6, float(rank + 1)))
model.running._data[...] = own._data  # ranks disagree before the forward
before = [None]
if rank == 0:
    before = [model.running.numpy().copy()]
dist.broadcast_object_list(before, src=0)
xb = xs + rank  # different data per rank
l1 = mse(ddp(xb), ys)
expect = 0.9 * before[0] + 0.1 * xb.numpy().mean(axis=0)
assert np.allclose(model.running.numpy(), expect, atol=1e-15), "buffers not broadcast from rank 0"
l2 = mse(ddp(xb * 2), ys)  # second forward before the backward: broadcast changes `running`
(l1 + l2).backward()  # `scale` (saved for backward) was unchanged: no version error
ddp.eval()
v = model.running._version
ddp(xb)  # eval: no broadcast, no update
assert model.running._version == v

try:
    import distgrad.nn.functional  # noqa: F401
    HAVE_F = True
except ImportError:
    HAVE_F = False
if HAVE_F:  # the real BatchNorm1d: twice forward in training mode, then one backward
    dg.manual_seed(4)
    bn_model = nn.Sequential(Dense(6, 5), nn.BatchNorm1d(5))
    bddp = DDP(bn_model)
    (mse(bddp(xb), ys[:, :1]) + mse(bddp(xb * 3), ys[:, :1])).backward()
    grads = [None] * world
    dist.all_gather_object(grads, bn_model[0].weight.grad.numpy().tobytes())
    assert len(set(grads)) == 1, "BatchNorm model: gradients differ across ranks"
    r0 = [bn_model[1].running_mean.numpy().copy() if rank == 0 else None]
    dist.broadcast_object_list(r0, src=0)
    with dg.no_grad():
        h = bn_model[0](xb).numpy()
    bddp(xb)  # broadcast (rank 0's stats), then this rank's batch updates them
    assert np.allclose(bn_model[1].running_mean.numpy(), 0.9 * r0[0] + 0.1 * h.mean(axis=0),
                       atol=1e-12), "BatchNorm running_mean was not broadcast from rank 0"

# -- 9. SyncBatchNorm + DDP on N ranks == BatchNorm on the whole batch in one process -----------
if HAVE_F:
    from distgrad.nn.modules.sync_batchnorm import SyncBatchNorm

    dg.manual_seed(31 + rank)
    bn_net = nn.Sequential(Dense(6, 8), nn.BatchNorm1d(8, dtype=dg.float64), nn.Tanh(), Dense(8, 3))
    sync_net = SyncBatchNorm.convert_sync_batchnorm(bn_net)
    assert isinstance(sync_net[1], SyncBatchNorm) and sync_net[1].weight is bn_net[1].weight
    sddp = DDP(sync_net)  # rank 0's parameters everywhere
    ref, trace = reference_train(nn.Sequential(Dense(6, 8), nn.BatchNorm1d(8, dtype=dg.float64), nn.Tanh(),
                                               Dense(8, 3)), x, y, 0)
    ref.load_state_dict(sync_net.state_dict())
    ref, trace = reference_train(ref, x, y, 3)
    opt = dg.optim.SGD(sddp.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        opt.zero_grad()
        mse(sddp(xs), ys).backward()
        opt.step()
        d = max_diff_to(sync_net, trace[step])
        assert d <= 1e-10, f"SyncBatchNorm step {step}: {d:.3e} from BatchNorm on the whole batch"
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        a, b = getattr(sync_net[1], name).numpy(), getattr(ref[1], name).numpy()
        assert np.allclose(a, b, atol=1e-12, rtol=0), f"SyncBatchNorm {name}: {a} vs {b}"
    # 4-D input: output and input gradient equal BatchNorm2d's on the whole batch
    rng = np.random.default_rng(8)
    x4 = rng.standard_normal((24, 3, 2, 2))
    w4 = rng.standard_normal((24, 3, 2, 2))
    bn2 = nn.BatchNorm2d(3, dtype=dg.float64)
    sbn = SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(bn2))
    xf = dg.tensor(x4, requires_grad=True)
    (bn2(xf) * dg.tensor(w4)).sum().backward()
    n4 = 24 // world
    xl = dg.tensor(x4[rank * n4:(rank + 1) * n4], requires_grad=True)
    out = sbn(xl)
    (out * dg.tensor(w4[rank * n4:(rank + 1) * n4])).sum().backward()
    assert np.allclose(out.detach().numpy(), bn2(dg.tensor(x4)).detach().numpy()[
        rank * n4:(rank + 1) * n4], atol=1e-12)
    assert np.allclose(xl.grad.numpy(), xf.grad.numpy()[rank * n4:(rank + 1) * n4], atol=1e-12)
    sddp.eval()  # eval: the running statistics, no communication
    assert np.allclose(sddp(xs).detach().numpy(), ref.eval()(xs).detach().numpy(), atol=1e-12)

# -- 8. an exception in the middle of a backward pass (after a bucket was launched over MPI) ----
dg.manual_seed(rank)
model = MLP([6, 16, 16, 3])
ddp = DDP(model, bucket_cap_mb=300 / 2 ** 20, first_bucket_mb=100 / 2 ** 20)
opt = dg.optim.SGD(ddp.parameters(), lr=0.1)
ddp(xs)  # a synchronizing forward


def raise_hook(g):
    raise ValueError("boom in backward")


act = model.layers[1](model.layers[0](xs).tanh()).tanh()
act.register_hook(raise_hook)
try:
    mse(model.layers[2](act), ys).backward()
except ValueError:
    assert ddp._reducer.active
    # (buffers in shared memory are reduced at the end of backward: nothing launched yet)
    assert ddp._reducer.next_launch >= 1 or not ddp._reducer.overlap
else:
    raise AssertionError("the hook did not raise")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(2):  # the next forward finishes the launched buckets; training goes on
        opt.zero_grad()
        mse(ddp(xs), ys).backward()
        opt.step()
assert any("did not finish" in str(w.message) for w in caught)
assert_identical_replicas(model, "after an exception in backward")

print(f"OK rank {rank}", flush=True)
