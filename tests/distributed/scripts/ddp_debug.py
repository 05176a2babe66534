"""DISTGRAD_DEBUG=1 DISTGRAD_DEBUG_EVERY=2: DDP's replica check passes while the replicas agree
and, once rank 1 changes a parameter behind DDP's back, raises on every rank naming it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from ddp_common import MLP, data, mse, shard  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

assert os.environ.get("DISTGRAD_DEBUG") == "1" and os.environ.get("DISTGRAD_DEBUG_EVERY") == "2"
dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
dg.manual_seed(rank)
model = MLP([6, 8, 3])
ddp = DDP(model)
opt = dg.optim.SGD(ddp.parameters(), lr=0.1)
x, y = data(1, 12, 6, 3)
xs, ys = shard(x, rank, world), shard(y, rank, world)
for step in range(2):  # checked at the forward after step 1: fine
    opt.zero_grad()
    mse(ddp(xs), ys).backward()
    opt.step()
ddp.verify_replicas()
if rank == 1:
    model.layers[1].bias._data[0] += 1e-9  # a silent divergence
try:
    ddp(xs)  # after 2 synchronized steps: checked
except RuntimeError as e:
    msg = str(e)
    assert "replicas have diverged after 2 synchronized step(s)" in msg, msg
    assert "parameter 'layers.1.bias' (#3) on ranks [1] differs from rank 0's" in msg, msg
    print(f"OK rank {rank}: {msg}", flush=True)
else:
    raise AssertionError("divergence not detected")
