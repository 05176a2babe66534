"""The PowerSGD communication hook on N ranks (mpiexec -n 2 and -n 3); every check asserts on
every rank.

1. at full rank (min_compression_rate forced low, so every matrix is compressed) the
   approximation is exact: training equals DDP without a hook (float64), error feedback and
   warm start on; the steps before start_powerSGD_iter are plain averaging
2. at rank 1: each compressed gradient has rank 1 and is the projection P P^T G of the average G
   (P orthonormal); vectors are averaged exactly; the error feedback holds what this rank's
   input lost, and is added to the next step's input; compression_stats counts the savings
3. rank 1 training (powerSGD_hook and batched_powerSGD_hook), with and without error feedback
   and warm start: replicas stay identical, the loss goes down
4. PyTorch's argument check
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from ddp_common import MLP, assert_identical_replicas, data, mse, shard  # noqa: E402
from distgrad.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powerSGD  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()


def make(sizes, state=None):
    dg.manual_seed(7)  # the same initial model on every rank and in every run
    net = DDP(MLP(sizes, fused=True), bucket_cap_mb=0.0004, first_bucket_mb=0.0002)
    if state is not None:
        net.register_comm_hook(state, powerSGD.powerSGD_hook)
    return net


def train(net, xs, ys, steps):
    opt = dg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = mse(net(xs), ys)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def average_gradients(sizes, xs, ys):
    """The average over the ranks of each parameter's gradient at the initial model."""
    dg.manual_seed(7)
    alone = MLP(sizes, fused=True)
    mse(alone(xs), ys).backward()
    local = [None] * world
    dist.all_gather_object(local, [p.grad.numpy() for p in alone.parameters()])
    return [sum(g[k] for g in local) / world for k in range(len(local[0]))]


# -- 1. full rank: exact ------------------------------------------------------------------------
sizes = [6, 9, 7, 3]
x, y = data(0, 6 * world, sizes[0], sizes[-1])
xs, ys = shard(x, rank, world), shard(y, rank, world)
plain = make(sizes)
train(plain, xs, ys, 4)
state = powerSGD.PowerSGDState(None, matrix_approximation_rank=50, start_powerSGD_iter=2,
                               min_compression_rate=1e-3)
exact = make(sizes, state)
assert len(exact._reducer.buckets) > 1, "the test wants several buckets"
train(exact, xs, ys, 4)
assert state.iter == 4, state.iter
rate, before, after = state.compression_stats()
assert after > 0 and before > 0
for p, q in zip(plain.parameters(), exact.parameters()):
    np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=0, atol=1e-9)
assert_identical_replicas(exact.module, "with full-rank PowerSGD")

# -- 2. rank 1: projections of the average, error feedback ------------------------------------
sizes = [16, 24, 20, 4]
x, y = data(1, 4 * world, sizes[0], sizes[-1])
xs, ys = shard(x, rank, world), shard(y, rank, world)
mean = average_gradients(sizes, xs, ys)
state = powerSGD.PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=2)
state.iter = 2  # compress from the first step
inputs = {}  # bucket index -> the bucket as the hook got it, this step


def spy(state, bucket):
    inputs[bucket.index()] = bucket.buffer().numpy().copy()
    return powerSGD.powerSGD_hook(state, bucket)


net = make(sizes)
net.register_comm_hook(state, spy)
mse(net(xs), ys).backward()
for p, g in zip(net.parameters(), mean):
    a = p.grad.numpy()
    if a.ndim == 1:
        np.testing.assert_allclose(a, g, rtol=0, atol=1e-13)
        continue
    s = np.linalg.svd(a, compute_uv=False)
    assert s[0] > 1e-6 and s[1] < 1e-12 * s[0], f"not rank 1: {s[:3]}"
    np.testing.assert_allclose(a.T @ (g - a), 0, atol=1e-12)  # a = P P^T g, P orthonormal
    assert np.linalg.norm(g - a) < np.linalg.norm(g)
buckets = net._reducer.buckets
for index, given in inputs.items():  # the residual: this rank's input minus the result
    np.testing.assert_allclose(state.error_dict[index], given - buckets[index].data, atol=1e-13)
rate, before, after = state.compression_stats()
assert rate > 2, state.compression_stats()
errors = {i: e.copy() for i, e in state.error_dict.items()}
inputs.clear()
net.zero_grad()
mse(net(xs), ys).backward()
for index, given in inputs.items():  # step 2's input was its gradient plus step 1's residual
    np.testing.assert_allclose(state.error_dict[index],
                               given + errors[index] - buckets[index].data, atol=1e-12)

# -- 3. training at rank 1 ------------------------------------------------------------------------
for hook, feedback, warm in ((powerSGD.powerSGD_hook, True, True),
                              (powerSGD.powerSGD_hook, False, False),
                              (powerSGD.powerSGD_hook, True, False),
                              (powerSGD.batched_powerSGD_hook, True, True),
                              (powerSGD.batched_powerSGD_hook, False, False)):
    state = powerSGD.PowerSGDState(None, matrix_approximation_rank=1, use_error_feedback=feedback,
                                   warm_start=warm, start_powerSGD_iter=2 if feedback or warm else 1)
    net = make(sizes)
    net.register_comm_hook(state, hook)
    losses = train(net, xs, ys, 12)
    assert losses[-1] < 0.7 * losses[0], (hook.__name__, feedback, warm, losses)
    assert_identical_replicas(net.module, f"with rank-1 {hook.__name__} {feedback, warm}")
    assert bool(state.q_memory_dict) == warm, (warm, list(state.q_memory_dict))

# -- 4. arguments ---------------------------------------------------------------------------------
try:
    powerSGD.PowerSGDState(None, start_powerSGD_iter=1)
    raise AssertionError("start_powerSGD_iter=1 with error feedback was accepted")
except ValueError as e:
    assert "Expect `start_powerSGD_iter` > 1" in str(e)
print(f"OK rank {rank}", flush=True)
