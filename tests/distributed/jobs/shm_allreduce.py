"""The shared-memory all-reduce (backends/shm.py) on N ranks, on one node or several (MPICH:
``mpiexec -launcher fork -hosts a:2,b:2`` makes two "nodes" on this machine), and the freeing
of buffers nobody uses; asserts inside the ranks, prints "OK rank r". With DISTGRAD_SHM_ALLREDUCE=0 it checks the path is off instead.

Run: mpiexec -n 3 python -m mpi4py tests/distributed/jobs/shm_allreduce.py
"""
import os

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
from distgrad import nn
from distgrad.distributed import ReduceOp
from distgrad.distributed import process_group as pgm
from distgrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")  # host MPI even where CuPy would make the default NCCL
rank, n = dist.get_rank(), dist.get_world_size()
backend = pgm._default._backend
# shared memory is used when it is on and every node has the same number (>= 2) of ranks
local_sizes = [None] * n
dist.all_gather_object(local_sizes, dist.get_local_world_size())
enabled = (os.environ.get("DISTGRAD_SHM_ALLREDUCE", "1") != "0"
           and len(set(local_sizes)) == 1 and local_sizes[0] > 1)

# DDP puts its flat gradient buffer in shared memory (when enabled)
dg.manual_seed(rank)
model = DDP(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)))
flat = model._reducer.flats[0].data
assert (backend.shared.locate(flat) is not None) == enabled, enabled
x = dg.randn(4, 5)
model(x).pow(2).sum().backward()
grads = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
every = np.empty((n, grads.size), grads.dtype)
dist.all_gather_into_tensor(dg.from_numpy(every.reshape(-1)), dg.from_numpy(grads))
assert (every == every[0]).all(), "replicas got different gradients"

if enabled:
    for dtype in ("float32", "float64", "int64", "int32", "uint8"):
        buf = backend.shared_zeros(1037, dtype)
        assert buf is not None and buf.dtype == dtype
        for lo, hi in ((0, 1037), (3, 4), (5, 5), (100, 117), (1, 1036)):
            buf[:] = (np.arange(1037) % 7 + rank + 1).astype(dtype)
            dist.all_reduce(buf[lo:hi])  # a slice of a shared buffer: the shared-memory path
            want = (np.arange(1037) % 7).astype(np.int64)
            want[lo:hi] = n * want[lo:hi] + n * (n + 1) // 2
            want[:lo] += rank + 1
            want[hi:] += rank + 1
            assert (buf == want.astype(dtype)).all(), (dtype, lo, hi, buf[:8], want[:8])
        if dtype.startswith("float"):
            buf[:] = rank + 1
            work = dist.all_reduce(dg.from_numpy(buf[10:20]), op=ReduceOp.AVG, async_op=True)
            work.wait()
            assert (buf[10:20] == (n + 1) / 2).all() and (buf[:10] == rank + 1).all()
            big = backend.shared_zeros(200_003, dtype)  # several chunks per rank's share
            big[:] = np.arange(big.size) % 5 * (rank + 1)
            dist.all_reduce(big[7:200_000], op=ReduceOp.AVG)
            want = (np.arange(big.size) % 5).astype(dtype)
            want[7:200_000] *= (n + 1) / 2
            want[:7] *= rank + 1
            want[200_000:] *= rank + 1
            assert np.allclose(big, want, rtol=1e-6), (dtype, big[:12], want[:12])
            del big
        buf[:] = rank  # MAX is not summed in shared memory: MPI does it, on the same memory
        dist.all_reduce(buf[2:9], op=ReduceOp.MAX)
        assert (buf[2:9] == n - 1).all() and buf[0] == rank
    # buffers nobody uses any more are freed at the next allocation; used ones are kept
    import gc
    del buf, work  # a Work keeps the tensors it wrote (its future's value), as in PyTorch
    kept = backend.shared_zeros(100, "float32")
    for _ in range(5):
        backend.shared_zeros(1000, "float64")
    gc.collect()
    backend.shared_zeros(10, "float32")
    assert len(backend.shared.segments) <= 3, len(backend.shared.segments)  # flat, kept, last
    assert backend.shared.locate(kept) is not None and backend.shared.locate(flat) is not None
    kept[:] = 1
    dist.all_reduce(kept)
    assert (kept == n).all()
else:
    assert backend.shared_zeros(10, "float32") is None

dist.destroy_process_group()
assert np.isfinite(flat).all()  # the gradients stay readable after the group is gone
print(f"OK rank {rank}", flush=True)
