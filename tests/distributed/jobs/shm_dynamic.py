"""The dynamically shared reduction of backends/shm.py on one node: units claimed by whichever
rank is free, rank-order sums, DDP's publication of finished buckets during backward, and its
retraction when a backward pass is abandoned. Asserts inside the ranks, prints "OK rank r".

Run: mpiexec -n 3 python -m mpi4py tests/distributed/jobs/shm_dynamic.py
"""
import time

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
from distgrad import nn
from distgrad.autograd import Function
from distgrad.distributed import process_group as pgm
from distgrad.distributed.backends import shm
from distgrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
rank, n = dist.get_rank(), dist.get_world_size()
slow = n - 1  # the rank that is late in each part
backend = pgm._default._backend

reduced = []  # (first, stop) of every chunk this rank reduced
_reduce_chunk = shm._reduce_chunk


def recording(buffers, a, b, divisor):
    reduced.append((a, b))
    _reduce_chunk(buffers, a, b, divisor)


shm._reduce_chunk = recording


def chunks_of_every_rank():
    every = [None] * n
    dist.all_gather_object(every, reduced)
    reduced.clear()
    return every


# -- 1. a late rank: every element is still reduced exactly once, and correctly --------------
buf = backend.shared_zeros(300_001, "float64")
buf[:] = np.arange(buf.size) * (rank + 1)
if rank == slow:
    time.sleep(0.3)
dist.all_reduce(buf[5:300_000])
want = np.arange(buf.size, dtype=np.float64) * (rank + 1)
want[5:300_000] *= n * (n + 1) / 2 / (rank + 1)
assert (buf == want).all()
every = chunks_of_every_rank()
spans = sorted(c for chunks in every for c in chunks)
assert spans[0][0] == 5 and spans[-1][1] == 300_000, spans
assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "a chunk reduced twice or never"

# -- 2. sums in node-rank order, whichever rank does the work ---------------------------------
if n == 3:
    one = backend.shared_zeros(4 * shm._CHUNK, "float32")
    for late in range(n):
        one[:] = (1.0, 1e8, -1e8)[rank]   # (1 + 1e8) - 1e8 == 0 in float32; other orders: 1
        if rank == late:
            time.sleep(0.1)
        dist.all_reduce(one)
        assert (one == 0).all(), (late, one[:4])
    reduced.clear()


# -- 3. DDP publishes finished buckets during backward ------------------------------------------
class Stall(Function):
    """Identity; its backward sleeps on the slow rank, or raises everywhere when asked."""

    fail = False

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        if Stall.fail:
            raise RuntimeError("stop")
        if rank == slow:
            time.sleep(0.3)
        return g


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(64, 256), nn.Linear(256, 256), nn.Linear(256, 10)

    def forward(self, x):  # backward: l3, l2 (the first bucket is complete), Stall, l1
        return self.l3(self.l2(Stall.apply(self.l1(x).relu())).relu())


dg.manual_seed(rank)
model = Net().double()
plain = Net().double()
ddp = DDP(model, bucket_cap_mb=0.1, first_bucket_mb=0.05)
plain.load_state_dict(model.state_dict())
first = ddp._reducer.buckets[0]
assert first.members == [5, 4, 3, 2] and first.end == 68362, (first.members, first.end)
x = dg.randn(8, 64, dtype=dg.float64)


def expected_grads():
    """The average over the ranks of the plain model's gradients (one process per rank)."""
    for p in plain.parameters():
        p.grad = None
    plain(x).pow(2).sum().backward()
    local = np.concatenate([p.grad.numpy().ravel() for p in plain.parameters()])
    every = np.empty((n, local.size))
    dist.all_gather_into_tensor(dg.from_numpy(every.reshape(-1)), dg.from_numpy(local))
    return every.mean(axis=0)


def ddp_grads():
    return np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])


ddp(x).pow(2).sum().backward()
assert np.allclose(ddp_grads(), expected_grads(), rtol=1e-12, atol=0)
every = chunks_of_every_rank()
unit = shm._CHUNK  # 85002 elements on 3 ranks: units of one chunk
early = {c for r in range(n) if r != slow for c in every[r]}
assert {(0, unit), (unit, 2 * unit)} <= early, every  # inside the first bucket
# -- 4. an abandoned backward pass (on every rank) voids what it published ---------------------
Stall.fail = True
try:
    ddp(x).pow(2).sum().backward()
except RuntimeError as e:
    assert "stop" in str(e)
else:
    raise AssertionError("backward did not raise")
Stall.fail = False
if rank == slow:
    time.sleep(0.3)  # the others reach the next all-reduce first
for p in model.parameters():
    p.grad = None
x = dg.randn(8, 64, dtype=dg.float64)
ddp(x).pow(2).sum().backward()
assert np.allclose(ddp_grads(), expected_grads(), rtol=1e-12, atol=0)
replicas = [None] * n
dist.all_gather_object(replicas, ddp_grads().tobytes())
assert len(set(replicas)) == 1, "replicas got different gradients"

dist.destroy_process_group()
print(f"OK rank {rank}", flush=True)
