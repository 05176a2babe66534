"""One all-reduce and one DDP step on GPUs, 2 ranks; ``sys.argv[1]`` is the backend ("mpi",
"nccl", or "" for the automatic choice). Used by tests/test_gpu.py and benchmarks/gpu_smoke.py.

Run: mpiexec -n 2 python -m mpi4py tests/distributed/jobs/gpu_ddp.py nccl
"""
import sys

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
from distgrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group(backend=sys.argv[1] or None)
r, n = dist.get_rank(), dist.get_world_size()
assert dg.cuda.current_device() == dist.get_local_rank() % dg.cuda.device_count()
t = dg.full((5,), float(r + 1), device="cuda")
dist.all_reduce(t)
assert t.tolist() == [n * (n + 1) / 2] * 5, t
dg.manual_seed(0)
model = DDP(dg.nn.Linear(4, 2).to("cuda"))
model(dg.full((3, 4), float(r + 1), device="cuda")).sum().backward()
g = model.module.weight.grad
assert np.allclose(g.cpu().numpy(), 3 * (n + 1) / 2), g
print(f"OK rank {r} gpu {dg.cuda.current_device()} backend {dist.get_backend()}", flush=True)
dist.destroy_process_group()
