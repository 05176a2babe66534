"""No launcher: DDP, DistributedOptimizer, the broadcasts, the samplers and evaluate() in a world
of one. Same results as plain training, no hooks installed by DDP, and mpi4py never imported."""
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from ddp_common import MLP, data, max_diff_to, mse, reference_train  # noqa: E402
from distgrad.data import DataLoader, TensorDataset  # noqa: E402
from distgrad.data.distributed import DistributedSampler  # noqa: E402
from distgrad.distributed.evaluation import DistributedEvalSampler, evaluate  # noqa: E402
from distgrad.distributed.optimizer import (DistributedOptimizer, broadcast_optimizer_state,  # noqa: E402
                                            broadcast_parameters)
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

try:
    DDP(MLP([2, 2]))
except RuntimeError as e:
    assert "init_process_group" in str(e), str(e)
else:
    raise AssertionError("DDP before init_process_group must raise")
dist.init_process_group()
assert dist.get_world_size() == 1
x, y = data(0, 8, 6, 3)
for overlap in (True, False):
    dg.manual_seed(0)
    model = MLP([6, 8, 3])
    ddp = DDP(model, overlap=overlap)
    assert all(not p._post_acc_hooks for p in model.parameters()), "DDP hooks in a world of one"
    ref, trace = reference_train(model, x, y, 3)
    opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        opt.zero_grad()  # set_to_none
        mse(ddp(x), y).backward()
        assert model.layers[0].weight.grad is ddp._reducer.views[0]
        opt.step()
        assert max_diff_to(model, trace[step]) == 0.0, "DDP differs from plain training"
    with ddp.no_sync():
        mse(ddp(x), y).backward()
# the bucket views are the parameters' gradient storage only while the DDP exists
w = model.layers[0].weight
assert w._grad_dest is ddp._reducer.views[0]
del ddp, opt
gc.collect()
assert w._grad_dest is None, "a dead DDP still owns the gradient storage"
dg.manual_seed(0)
model = MLP([6, 8, 3])
ref, trace = reference_train(model, x, y, 2)
opt = DistributedOptimizer(dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
for step in range(2):
    opt.zero_grad()
    mse(model(x), y).backward()
    opt.step()
    assert max_diff_to(model, trace[step]) == 0.0
broadcast_parameters(model.state_dict())
broadcast_optimizer_state(opt)
s = DistributedSampler(range(5))
assert sorted(s) == [0, 1, 2, 3, 4]
ds = TensorDataset(x, dg.arange(8))
t = evaluate(model, DataLoader(ds, batch_size=3, sampler=DistributedEvalSampler(ds)),
             lambda m, b: {"count": len(b[1]), "sum": int(b[1].sum().item())})
assert t == {"count": 8, "sum": 28}, t
try:
    import distgrad.nn.functional  # noqa: F401
except ImportError:
    pass
else:  # SyncBatchNorm in a world of one is BatchNorm
    import distgrad.nn as nn
    from distgrad.nn.modules.sync_batchnorm import SyncBatchNorm

    bn = nn.BatchNorm1d(6, dtype=dg.float64)
    sbn = SyncBatchNorm(6, dtype=dg.float64)
    assert np.array_equal(bn(x).detach().numpy(), sbn(x).detach().numpy())
    assert np.array_equal(bn.running_var.numpy(), sbn.running_var.numpy())
# a communication hook in a world of one: accepted, never called (DDP does not communicate)
hooked = DDP(MLP([4, 3]))
calls = []
hooked.register_comm_hook(calls, lambda state, bucket: state.append(1))
mse(hooked(dg.ones(2, 4, dtype=dg.float64)), dg.zeros(2, 3, dtype=dg.float64)).backward()
assert calls == [] and all(p.grad is not None for p in hooked.parameters())
assert "mpi4py" not in sys.modules, "mpi4py was imported in a world of one"
print("OK rank 0", flush=True)
