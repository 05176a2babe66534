"""DistributedSampler from the process group, and exact distributed evaluation (mpiexec -n 3).

1. DistributedSampler (num_replicas/rank from the group): the shards of every rank cover the
   data set once per epoch (+ padding), same length everywhere, reshuffled by set_epoch
2. DistributedEvalSampler + evaluate(): every sample counted exactly once (uneven sizes, an
   empty shard), equal to a single-process evaluation; a DDP model is unwrapped (no per-batch
   collective, although the ranks run different numbers of batches)
3. evaluate() warns about a padded DistributedSampler
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from ddp_common import MLP  # noqa: E402
from distgrad.data import DataLoader, TensorDataset  # noqa: E402
from distgrad.data.distributed import DistributedSampler  # noqa: E402
from distgrad.distributed.evaluation import (DistributedEvalSampler, all_reduce_metrics,  # noqa: E402
                                             evaluate)
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()

# -- 1. DistributedSampler ----------------------------------------------------------------------
for n in (10, 11, 12):
    for drop_last in (False, True):
        s = DistributedSampler(range(n), drop_last=drop_last, seed=5)
        assert (s.num_replicas, s.rank) == (world, rank)
        orders = []
        for epoch in range(2):
            s.set_epoch(epoch)
            mine = list(s)
            shards = [None] * world
            dist.all_gather_object(shards, mine)
            assert len({len(x) for x in shards}) == 1
            allidx = [i for x in shards for i in x]
            if drop_last:
                assert len(set(allidx)) == len(allidx) == n - n % world
            else:
                assert set(allidx) == set(range(n)) and len(allidx) == -(-n // world) * world
            orders.append(allidx)
        assert orders[0] != orders[1], "set_epoch did not reshuffle"

# -- 2. exact evaluation ------------------------------------------------------------------------
N = 10
rng = np.random.default_rng(0)
X = dg.tensor(rng.standard_normal((N, 6)))
Y = dg.tensor(rng.integers(0, 3, N))
idx = dg.arange(N)
ds = TensorDataset(X, Y, idx)
dg.manual_seed(rank)
model = MLP([6, 8, 3])
ddp = DDP(model)  # broadcast from rank 0: all ranks evaluate the same model


def metric_fn(m, batch):
    x, y, i = batch
    pred = m(x).argmax(1)
    return {"correct": int((pred == y).sum().item()), "count": len(y),
            "index_sum": int(i.sum().item()), "seen": np.bincount(i.numpy(), minlength=N)}


loader = DataLoader(ds, batch_size=3, sampler=DistributedEvalSampler(ds))
assert len(loader.sampler) == len(range(rank, N, world))
ddp.train()
t = evaluate(ddp, loader, metric_fn)
assert ddp.training and model.training, "evaluate must restore training mode"
assert t["count"] == N and t["index_sum"] == N * (N - 1) // 2, t
assert (t["seen"] == 1).all(), t["seen"]
full = metric_fn(model, (X, Y, idx))
assert t["correct"] == full["correct"], (t, full)
# a data set smaller than the world: rank 2 has an empty shard (and runs no batch)
small = TensorDataset(X[:2], Y[:2], idx[:2])
t2 = evaluate(model, DataLoader(small, batch_size=4, sampler=DistributedEvalSampler(small)),
              metric_fn)
assert t2["count"] == 2 and t2["index_sum"] == 1, t2
# all_reduce_metrics with floats, arrays, tensors and a key only some ranks have
extra = {"only_rank0": 1.5} if rank == 0 else {}
m = all_reduce_metrics({"n": rank + 1, "loss": 0.25, "vec": dg.tensor([1.0, 2.0]), **extra})
assert m["n"] == world * (world + 1) // 2 and isinstance(m["n"], int)
assert abs(m["loss"] - 0.25 * world) < 1e-15 and m["only_rank0"] == 1.5
assert np.allclose(m["vec"], [world, 2.0 * world])

# -- 3. a padded DistributedSampler in evaluation is flagged ------------------------------------
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t3 = evaluate(model, DataLoader(ds, batch_size=4, sampler=DistributedSampler(ds, shuffle=False)),
                  metric_fn)
assert any("counted twice" in str(w.message) for w in caught), [str(w.message) for w in caught]
assert t3["count"] == 12  # 10 padded to 12: exactly the problem the eval sampler avoids

print(f"OK rank {rank}", flush=True)
