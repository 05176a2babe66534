"""DDP and DistributedOptimizer on device arrays (distgrad.testing.fake_cupy, a CPU stand-in for
CuPy) over the MPI backend, i.e. with host staging: 2 ranks, equal to one process on the CPU."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import distgrad.distributed.staging as staging  # noqa: E402
from distgrad.testing import fake_cupy  # noqa: E402

staging._synchronize = lambda arr: None  # the fake has no streams to wait for
with fake_cupy.installed() as cp:
    import distgrad as dg
    import distgrad.distributed as dist
    from ddp_common import MLP, data, mse, reference_train, shard
    from distgrad.distributed.optimizer import (DistributedOptimizer, broadcast_optimizer_state,
                                                broadcast_parameters)
    from distgrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = data(7, 12, 6, 3)
    dg.manual_seed(rank)
    model = MLP([6, 8, 3]).to("cuda")
    ddp = DDP(model, bucket_cap_mb=100 / 2 ** 20, first_bucket_mb=50 / 2 ** 20)
    assert len(ddp.bucket_info()) >= 2
    assert type(model.layers[0].weight.grad._data) is cp.ndarray  # views of a device buffer
    cpu = MLP([6, 8, 3])
    cpu.load_state_dict({k: dg.tensor(cp.asnumpy(v._data)) for k, v in model.state_dict().items()})
    ref, trace = reference_train(cpu, x, y, 3)
    xs, ys = shard(x, rank, world).to("cuda"), shard(y, rank, world).to("cuda")
    opt = dg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        opt.zero_grad()
        mse(ddp(xs), ys).backward()
        opt.step()
        d = max(float(np.max(np.abs(cp.asnumpy(p._data) - q)))
                for p, q in zip(model.parameters(), trace[step]))
        assert d < 1e-10, f"step {step}: {d:.3e} from the CPU reference"
    m2 = MLP([6, 8, 3]).to("cuda")
    broadcast_parameters(m2.state_dict())
    o2 = DistributedOptimizer(dg.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9))
    o2.zero_grad()
    mse(m2(xs), ys).backward()
    o2.step()
    broadcast_optimizer_state(o2)
    hashes = [None] * world
    dist.all_gather_object(hashes, [cp.asnumpy(p._data).tobytes() for p in m2.parameters()])
    assert all(h == hashes[0] for h in hashes), "DistributedOptimizer replicas differ"
    print(f"OK rank {rank}", flush=True)
