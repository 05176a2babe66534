"""One all-reduce and one DDP step on GPUs, 2 ranks; ``sys.argv[1]`` is the backend ("mpi",
"nccl", or "" for the automatic choice); with a second argument ``p2p-only`` only the
point-to-point and all-to-all part runs. Used by tests/test_gpu.py and benchmarks/gpu_smoke.py.

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
# point-to-point and all_to_all of GPU tensors (staged through host memory, whatever the backend)
got = dg.zeros(3, device="cuda")
w = dist.irecv(got, src=(r - 1) % n)
dist.send(dg.full((3,), float(r + 10), device="cuda"), dst=(r + 1) % n)
w.wait()
assert got.tolist() == [(r - 1) % n + 10.0] * 3, got
a2a = dg.zeros(n, 2, device="cuda")
rows = dg.arange(n, dtype=dg.float32, device="cuda").reshape(n, 1).expand(n, 2) * 10 + r
dist.all_to_all_single(a2a, rows)
assert a2a.tolist() == [[10.0 * r + j] * 2 for j in range(n)], a2a
if sys.argv[2:] == ["p2p-only"]:  # one GPU with NCCL: its collectives would need one per rank
    print(f"OK rank {r} p2p backend {dist.get_backend()}", flush=True)
    sys.exit()
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
