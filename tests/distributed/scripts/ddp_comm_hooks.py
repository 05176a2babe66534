"""DDP communication hooks on N ranks (mpiexec -n 2 and -n 3); every check asserts on every rank.

1. allreduce_hook trains like DDP without a hook (to rounding: it divides before summing) and
   like one process on the whole batch (float64, 1e-10), several buckets, SGD with momentum,
   replicas identical
2. fp16_compress_hook: the gradients are the average rounded through float16, replicas identical
3. a custom hook sees every bucket once, in order, with its parameters and gradient views; what
   its future holds becomes the gradient; gradient_as_bucket_view=False; no_sync skips it
4. errors: a second registration, a hook that returns no Future or a future of no Tensor
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from ddp_common import (MLP, assert_identical_replicas, data, max_diff_to, mse,  # noqa: E402
                        reference_train, shard)
from distgrad.distributed.algorithms.ddp_comm_hooks import default_hooks  # noqa: E402
from distgrad.futures import Future  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()
sizes = [6, 9, 7, 3]
x, y = data(0, 6 * world, sizes[0], sizes[-1])
xs, ys = shard(x, rank, world), shard(y, rank, world)


def train(model, steps=3, hook=None, state=None, **ddp_args):
    dg.manual_seed(7)  # the same initial model on every rank and in every run
    net = DDP(MLP(sizes, fused=True), bucket_cap_mb=0.0004, first_bucket_mb=0.0002, **ddp_args)
    if hook is not None:
        net.register_comm_hook(state, hook)
    opt = dg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        mse(net(xs), ys).backward()
        opt.step()
    return net


# -- 1. allreduce_hook == no hook == one process ----------------------------------------------
plain = train(None)
hooked = train(None, hook=default_hooks.allreduce_hook)
assert len(hooked._reducer.buckets) > 2, "the test wants several buckets"
for p, q in zip(plain.parameters(), hooked.parameters()):
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=1e-13)
dg.manual_seed(7)
ref, trace = reference_train(MLP(sizes, fused=True), x, y, 3)
assert max_diff_to(hooked.module, trace[-1]) < 1e-10
assert_identical_replicas(hooked.module, "with allreduce_hook")

# -- 2. fp16_compress_hook ----------------------------------------------------------------------
dg.manual_seed(7)
net = DDP(MLP(sizes, fused=True), bucket_cap_mb=0.0004)
net.register_comm_hook(None, default_hooks.fp16_compress_hook)
mse(net(xs), ys).backward()
local = [None] * world
dg.manual_seed(7)
alone = MLP(sizes, fused=True)
mse(alone(xs), ys).backward()
dist.all_gather_object(local, [p.grad.numpy() for p in alone.parameters()])
for k, p in enumerate(net.parameters()):
    expected = sum(np.float16(g[k] / world).astype(np.float32) for g in local)
    np.testing.assert_allclose(p.grad.numpy(), expected.astype(np.float16), rtol=2e-3, atol=1e-4)
    assert np.array_equal(p.grad.numpy(), p.grad.numpy().astype(np.float16).astype(np.float64))
assert_identical_replicas(net.module, "with fp16_compress_hook")

# -- 3. a custom hook ---------------------------------------------------------------------------
seen = []


def doubling_hook(state, bucket):
    """Sum (no division) and double: the gradients become 2 * world * the average."""
    state.append((bucket.index(), bucket.is_last(), [tuple(p.shape) for p in bucket.parameters()]))
    for g, p in zip(bucket.gradients(), bucket.parameters()):
        assert g.shape == p.shape
    buf = bucket.buffer()
    work = dist.all_reduce(buf, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0] * 2)


for as_view in (True, False):
    seen.clear()
    dg.manual_seed(7)
    net = DDP(MLP(sizes, fused=True), bucket_cap_mb=0.0004, gradient_as_bucket_view=as_view)
    net.register_comm_hook(seen, doubling_hook)
    mse(net(xs), ys).backward()
    n = len(net._reducer.buckets)
    assert [s[0] for s in seen] == list(range(n)) and [s[1] for s in seen] == [False] * (n - 1) + [True]
    assert sorted(shape for s in seen for shape in s[2]) == sorted(tuple(p.shape) for p in net.parameters())
    for k, p in enumerate(net.parameters()):  # twice the sum of the ranks' own gradients
        np.testing.assert_allclose(p.grad.numpy(), 2 * sum(g[k] for g in local), rtol=1e-12)
    with net.no_sync():
        mse(net(xs), ys).backward()
    assert len(seen) == n, "the hook ran inside no_sync"

# -- 4. errors ------------------------------------------------------------------------------------
net = DDP(MLP(sizes))
net.register_comm_hook(None, default_hooks.allreduce_hook)
try:
    net.register_comm_hook(None, default_hooks.allreduce_hook)
    raise AssertionError("a second hook was accepted")
except RuntimeError as e:
    assert "can only be called once" in str(e)
for bad, message in ((lambda s, b: b.buffer(), "must return a distgrad.futures.Future"),
                     (lambda s, b: Future._of(lambda: 3, lambda: True), "as a Tensor, got int")):
    net = DDP(MLP(sizes))
    net.register_comm_hook(None, bad)
    try:
        mse(net(xs), ys).backward()
        raise AssertionError("a bad hook was accepted")
    except TypeError as e:
        assert message in str(e), e
print(f"OK rank {rank}", flush=True)
