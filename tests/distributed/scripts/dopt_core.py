"""DistributedOptimizer, broadcast_parameters, broadcast_optimizer_state (mpiexec -n 2 / -n 3).

1. broadcast_parameters(state_dict) makes the ranks equal (int buffers too); a mismatch raises
   on every rank
2. DistributedOptimizer(SGD momentum) == DDP == one process on the whole batch; from the
   second step backward writes the gradients into its flat buffer (no packing)
3. backward_passes_per_step: accumulation allowed up to N, the (N+1)-th backward raises
4. parameters without a gradient on some ranks are reduced as zeros; on no rank: stay None
5. broadcast_optimizer_state with state created lazily on rank 0 only (SGD momentum, Adam)
6. wrapper delegation: param_groups, state_dict, lr scheduler, synchronize + skip_synchronize
"""
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
import distgrad.nn as nn  # noqa: E402
from ddp_common import (MLP, Dense, assert_identical_replicas, data, max_diff_to, mse,  # noqa: E402
                        reference_train, shard)
from distgrad.distributed.optimizer import (DistributedOptimizer, broadcast_optimizer_state,  # noqa: E402
                                            broadcast_parameters)
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
x, y = data(3, 12, 6, 3)
xs, ys = shard(x, rank, world), shard(y, rank, world)


class WithBuffer(MLP):
    def __init__(self, sizes):
        super().__init__(sizes)
        self.register_buffer("count", dg.tensor(rank * 10, dtype=dg.int64))


# -- 1. broadcast_parameters --------------------------------------------------------------------
dg.manual_seed(100 + rank)
model = WithBuffer([6, 8, 3])
broadcast_parameters(model.state_dict(), root_rank=0)
assert_identical_replicas(model)
assert int(model.count.item()) == 0
v = model.layers[0].weight._version
broadcast_parameters(model.named_parameters(), root_rank=world - 1)  # equal already: no bump
assert model.layers[0].weight._version == v
try:
    broadcast_parameters(MLP([6, 8 + (rank == 1), 3]).state_dict())
except RuntimeError as e:
    assert "layers.0.bias" in str(e) and "rank 1" in str(e), str(e)
else:
    raise AssertionError("mismatched broadcast_parameters accepted")

# -- 2. DistributedOptimizer == DDP == one process ----------------------------------------------
STEPS = 4
dg.manual_seed(200 + rank)
plain = MLP([6, 16, 3], fused=True)  # F.linear: gradients computed into the flat buffer
broadcast_parameters(plain.state_dict(), root_rank=0)
ref, trace = reference_train(plain, x, y, STEPS)
ddp_model = MLP([6, 16, 3])
ddp_model.load_state_dict(plain.state_dict())
ddp = DDP(ddp_model)
dopt = DistributedOptimizer(dg.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9),
                            named_parameters=plain.named_parameters())
opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
for step in range(STEPS):
    dopt.zero_grad()
    mse(plain(xs), ys).backward()
    if step > 0:  # the buffer exists after the first step: backward wrote into its views
        w = plain.layers[0].weight
        assert w.grad is w._grad_dest and w._grad_dest is not None
    dopt.step()
    opt.zero_grad()
    mse(ddp(xs), ys).backward()
    opt.step()
    d = max_diff_to(plain, trace[step])
    assert d <= 1e-10, f"DistributedOptimizer step {step}: {d:.3e} from the reference"
    d2 = max_diff_to(plain, [p.detach().numpy() for p in ddp_model.parameters()])
    assert d2 <= 1e-12, f"DistributedOptimizer vs DDP step {step}: {d2:.3e}"
    assert_identical_replicas(plain, f"dopt step {step}")

# -- 3. backward_passes_per_step -----------------------------------------------------------------
dopt._remove_hooks()  # (its counting hooks would fire in the backward passes below)
del dopt  # its buffer is the parameters' gradient storage only while it exists
gc.collect()
assert plain.layers[0].weight._grad_dest is None
dopt2 = DistributedOptimizer(dg.optim.SGD(plain.parameters(), lr=0.05),
                             named_parameters=plain.named_parameters(),
                             backward_passes_per_step=2)
dopt2.zero_grad()
mse(plain(xs), ys).backward()
mse(plain(xs), ys).backward()
try:
    mse(plain(xs), ys).backward()
except RuntimeError as e:
    msg = str(e)
    assert "computed 3 times since the last step()" in msg, msg
    assert "backward_passes_per_step=2" in msg and "'layers." in msg, msg
else:
    raise AssertionError("a third backward pass before step() did not raise")
dopt2.zero_grad()  # restarts the count
mse(plain(xs), ys).backward()
mse(plain(xs), ys).backward()
dopt2.step()
mse(plain(xs), ys).backward()  # the count restarted at step()
dopt2._remove_hooks()


# -- 4. gradients missing on some ranks ---------------------------------------------------------
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Dense(6, 3)
        self.b = Dense(6, 3)  # used on rank 0 only
        self.c = Dense(6, 3)  # never used

    def forward(self, x):
        out = self.a(x)
        return out + self.b(x) if rank == 0 else out


dg.manual_seed(5)
heads = TwoHeads()
hopt = DistributedOptimizer(dg.optim.SGD(heads.parameters(), lr=0.1),
                            named_parameters=heads.named_parameters())
hopt.zero_grad()
mse(heads(xs), ys).backward()
gb_local = heads.b.weight.grad.numpy().copy() if rank == 0 else None
hopt.synchronize()
assert heads.c.weight.grad is None and heads.c.bias.grad is None
gb = [gb_local]
dist.broadcast_object_list(gb, src=0)
assert np.allclose(heads.b.weight.grad.numpy(), gb[0] / world, atol=1e-15)
with hopt.skip_synchronize():
    hopt.step()
assert_identical_replicas(heads, "after a step with partial gradients")
hopt._remove_hooks()

# -- 5. broadcast_optimizer_state ---------------------------------------------------------------
for make in (lambda ps: dg.optim.SGD(ps, lr=0.1, momentum=0.9),
             lambda ps: dg.optim.Adam(ps, lr=0.01)):
    dg.manual_seed(9)
    m = MLP([6, 5, 3])
    o = make(m.parameters())
    if rank == 0:  # rank 0 has taken a step (its state exists), the others have none
        mse(m(xs), ys).backward()
        o.step()
        o.param_groups[0]["lr"] = 0.123
    broadcast_parameters(m.state_dict())
    broadcast_optimizer_state(o, root_rank=0)
    assert o.param_groups[0]["lr"] == 0.123
    sd = o.state_dict()
    assert len(sd["state"]) == 4, sd["state"].keys()
    flat = []
    for k in sorted(sd["state"]):
        for name, val in sorted(sd["state"][k].items()):
            flat.append((k, name, val.numpy().tobytes() if hasattr(val, "numpy") else val))
    allflat = [None] * world
    dist.all_gather_object(allflat, flat)
    assert all(f == allflat[0] for f in allflat), "optimizer state differs after the broadcast"
    # and the next step is the same everywhere
    o.zero_grad()
    mse(m(x), y).backward()
    o.step()
    assert_identical_replicas(m, "after a step from the broadcast optimizer state")

# -- 6. wrapper behaviour -----------------------------------------------------------------------
m = MLP([6, 5, 3])
inner = dg.optim.SGD(m.parameters(), lr=0.1)
w = DistributedOptimizer(inner)
assert w.param_groups is inner.param_groups and w.state is inner.state
assert isinstance(w, dg.optim.Optimizer)
sched = dg.optim.lr_scheduler.StepLR(w, step_size=1, gamma=0.5)
w.zero_grad()
mse(m(xs), ys).backward()
w.step()
sched.step()
assert abs(inner.param_groups[0]["lr"] - 0.05) < 1e-15
assert list(w.state_dict()["param_groups"][0]["params"]) == [0, 1, 2, 3]
w.zero_grad()
mse(m(xs), ys).backward()
w.synchronize()
before = m.layers[0].weight.grad.numpy().copy()
w.step()  # no second all-reduce after synchronize(): same gradient used
assert np.array_equal(before, m.layers[0].weight.grad.numpy())

print(f"OK rank {rank}", flush=True)
