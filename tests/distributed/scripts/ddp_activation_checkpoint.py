"""DDP with activation checkpointing on N ranks: a model whose hidden layers run under
distgrad.utils.checkpoint (with dropout, so the random state must be replayed) trains exactly
like the same model without checkpointing, under DDP and in one process on the whole batch;
replicas stay identical. Every check asserts on every rank."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
import distgrad.nn as nn  # noqa: E402
from ddp_common import assert_identical_replicas, data, mse, shard  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from distgrad.utils.checkpoint import checkpoint  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()


class Net(nn.Module):
    def __init__(self, use_checkpoint):
        super().__init__()
        self.inp = nn.Linear(6, 16)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.Dropout(0.2))
                                     for _ in range(3)])
        self.out = nn.Linear(16, 2)
        self.use_checkpoint = use_checkpoint

    def forward(self, x):
        x = self.inp(x)
        for block in self.blocks:
            x = checkpoint(block, x) if self.use_checkpoint else block(x)
        return self.out(x)


def train(use_checkpoint, steps=4):
    dg.manual_seed(3)
    net = DDP(Net(use_checkpoint).double(), bucket_cap_mb=0.002, first_bucket_mb=0.001)
    opt = dg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = data(5, 4 * world, 6, 2)
    xs, ys = shard(x, rank, world), shard(y, rank, world)
    for step in range(steps):
        dg.manual_seed(100 + 10 * step + rank)  # each rank its own dropout masks
        opt.zero_grad()
        mse(net(xs), ys).backward()
        opt.step()
    return net


plain, checkpointed = train(False), train(True)
assert len(checkpointed._reducer.buckets) > 1, "the test wants several buckets"
for (name, p), q in zip(plain.named_parameters(), checkpointed.parameters()):
    np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-12, atol=1e-14,
                               err_msg=name)
assert_identical_replicas(checkpointed.module, "with activation checkpointing")
print(f"OK rank {rank}", flush=True)
